package org.emberdl.onnx;

import java.util.List;

/**
 * One node of an ONNX graph, decoded from its NodeProto: what the ops need, independent of the
 * protobuf classes.
 *
 * @param index the node's position in the file's node list
 * @param name the node's name (may be empty)
 * @param opType the operator, e.g. {@code Gemm}
 * @param domain the operator set domain ({@code ""} is the default {@code ai.onnx})
 * @param inputs the input value names; {@code ""} marks an optional input left out
 * @param outputs the output value names; {@code ""} marks an optional output not wanted
 * @param attributes the node's attributes
 */
record OnnxNode(
    int index,
    String name,
    String opType,
    String domain,
    List<String> inputs,
    List<String> outputs,
    Attributes attributes) {

  /** How error messages name the node: {@code node 'fc1/Gemm' (Gemm)}, or by index if unnamed. */
  String describe() {
    return describe(index, name, opType);
  }

  static String describe(int index, String name, String opType) {
    String who = name == null || name.isEmpty() ? "#" + index : "'" + name + "'";
    return "node " + who + " (" + opType + ")";
  }

  /** True when input {@code i} is given (present and not the empty name). */
  boolean hasInput(int i) {
    return i < inputs.size() && !inputs.get(i).isEmpty();
  }

  /** True when output {@code i} is wanted by the graph. */
  boolean hasOutput(int i) {
    return i < outputs.size() && !outputs.get(i).isEmpty();
  }
}
