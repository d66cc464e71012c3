package org.emberdl.onnx.export;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.emberdl.nn.Module;
import org.emberdl.onnx.proto.AttributeProto;
import org.emberdl.onnx.proto.NodeProto;
import org.emberdl.onnx.proto.TensorProto;
import org.emberdl.tensor.NDArray;

/**
 * The graph under construction, and where in the module tree the exporter is, for {@link
 * LayerExporter}s.
 *
 * <p>Names follow {@code torch.onnx.export}: a parameter's initializer is its state-dict key
 * ({@code 0.weight}); a node of the module at {@code features.0} is {@code /features/0/Conv} and
 * its output {@code /features/0/Conv_output_0}; constants a layer needs beyond its state (a GELU's
 * {@code sqrt(2)}) live under the node scope ({@code /3/sqrt2}), so they never collide with a
 * state-dict key, which has no {@code /}.
 */
public final class ExportContext {
  private final int opset;
  private final LayerExporters exporters;
  private final List<NodeProto.Builder> nodes = new ArrayList<>();
  private final List<TensorProto> initializers = new ArrayList<>();
  private final Set<String> names = new HashSet<>();
  private final List<String> path = new ArrayList<>(); // root's child first
  private final Deque<Module> modules = new ArrayDeque<>();
  private SequencePadding padding;

  ExportContext(int opset, LayerExporters exporters, Set<String> reservedNames) {
    this.opset = opset;
    this.exporters = exporters;
    this.names.addAll(reservedNames);
  }

  /** The ONNX operator set version being written (of the default domain). */
  public int opset() {
    return opset;
  }

  /** The current module's dotted path, {@code ""} for the root. */
  public String path() {
    return String.join(".", path);
  }

  /** The state-dict key of the current module's {@code localName} ({@code 0.weight}). */
  public String key(String localName) {
    return path.isEmpty() ? localName : path() + "." + localName;
  }

  /** The node scope of the current module: {@code /features/0}, or {@code ""} at the root. */
  String scope() {
    StringBuilder sb = new StringBuilder();
    for (String p : path) {
      sb.append('/').append(p);
    }
    return sb.toString();
  }

  /**
   * The sequence lengths while a {@code PaddedSequenceNetwork}'s time axis is exported, else null:
   * the layers that take lengths at run time read them here.
   */
  SequencePadding padding() {
    return padding;
  }

  void setPadding(SequencePadding padding) {
    this.padding = padding;
  }

  // ---------------------------------------------------------------------------------------------
  // Modules

  /**
   * Exports {@code child}, registered under {@code name} in the current module, on {@code input}:
   * for containers such as {@code Sequential}.
   */
  public OnnxValue exportChild(String name, Module child, OnnxValue input) {
    path.add(name);
    try {
      return exportModule(child, input);
    } finally {
      path.remove(path.size() - 1);
    }
  }

  /** Exports {@code module} at the current path with the registered exporter for its class. */
  OnnxValue exportModule(Module module, OnnxValue input) {
    LayerExporter<Module> exporter = exporters.find(module);
    modules.push(module);
    try {
      if (exporter == null) {
        throw error(
            "no ONNX mapping for "
                + module.getClass().getName()
                + " (exportable: "
                + exporters.names()
                + ")");
      }
      return exporter.export(module, input, this);
    } finally {
      modules.pop();
    }
  }

  /**
   * An exception naming the module being exported (its path and class) and {@code what}: {@code
   * cannot export module '3' (Conv2d) to ONNX: ...}.
   */
  public IllegalArgumentException error(String what) {
    Module m = modules.peek();
    String where = path.isEmpty() ? "<root>" : path();
    return new IllegalArgumentException(
        "cannot export module '"
            + where
            + "' ("
            + (m == null ? "?" : m.getClass().getSimpleName())
            + ") to ONNX: "
            + what);
  }

  // ---------------------------------------------------------------------------------------------
  // Graph

  /**
   * Adds the current module's parameter or buffer {@code localName} ({@code weight}) as an
   * initializer named by its state-dict key, and returns that name.
   */
  public String parameter(String localName, NDArray data) {
    String name = key(localName);
    claim(name);
    initializers.add(OnnxTensors.of(name, data));
    return name;
  }

  /** Adds a constant that is not module state, named under the node scope; returns its name. */
  public String constant(String localName, TensorProto.Builder tensor) {
    String name = unique(scope() + "/" + localName);
    initializers.add(tensor.setName(name).build());
    return name;
  }

  /** A float32 scalar constant. */
  public String scalar(String localName, float value) {
    return constant(localName, OnnxTensors.floats(new float[] {value}));
  }

  /** A 1-D int64 constant (shapes, axes). */
  public String longs(String localName, long... values) {
    return constant(localName, OnnxTensors.longs(values, values.length));
  }

  /**
   * Adds a node of {@code opType} (default domain) on {@code inputs} (an empty string is an omitted
   * optional input) and returns the name of its single output.
   */
  public String node(String opType, List<String> inputs, AttributeProto... attributes) {
    String nodeName = unique(scope() + "/" + opType);
    String output = unique(nodeName + "_output_0");
    NodeProto.Builder node =
        NodeProto.newBuilder().setName(nodeName).setOpType(opType).addAllInput(inputs);
    node.addOutput(output);
    for (AttributeProto a : attributes) {
      node.addAttribute(a);
    }
    nodes.add(node);
    return output;
  }

  /** {@link #node} with the inputs as varargs and no attributes. */
  public String node(String opType, String... inputs) {
    return node(opType, List.of(inputs));
  }

  private String unique(String base) {
    String name = base;
    for (int i = 1; names.contains(name); i++) {
      name = base + "_" + i;
    }
    names.add(name);
    return name;
  }

  private void claim(String name) {
    if (!names.add(name)) {
      throw error("the name '" + name + "' is already used in the graph");
    }
  }

  List<NodeProto.Builder> nodes() {
    return nodes;
  }

  List<TensorProto> initializers() {
    return initializers;
  }

  // ---------------------------------------------------------------------------------------------
  // Attributes

  public static AttributeProto attrInt(String name, long value) {
    return AttributeProto.newBuilder()
        .setName(name)
        .setType(AttributeProto.AttributeType.INT)
        .setI(value)
        .build();
  }

  public static AttributeProto attrFloat(String name, float value) {
    return AttributeProto.newBuilder()
        .setName(name)
        .setType(AttributeProto.AttributeType.FLOAT)
        .setF(value)
        .build();
  }

  public static AttributeProto attrString(String name, String value) {
    return AttributeProto.newBuilder()
        .setName(name)
        .setType(AttributeProto.AttributeType.STRING)
        .setS(com.google.protobuf.ByteString.copyFromUtf8(value))
        .build();
  }

  public static AttributeProto attrInts(String name, long... values) {
    AttributeProto.Builder b =
        AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
    for (long v : values) {
      b.addInts(v);
    }
    return b.build();
  }
}
