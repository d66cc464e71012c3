package org.emberdl.onnx;

import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/** The ONNX ops Ember imports, by op type (default domain). */
final class OnnxOps {
  private OnnxOps() {}

  private static final Map<String, OpCompiler> OPS;

  static {
    Map<String, OpCompiler> ops = new TreeMap<>();
    ElementwiseOps.register(ops);
    ShapeOps.register(ops);
    NnOps.register(ops);
    OPS = Collections.unmodifiableMap(ops);
  }

  /** The compiler for {@code opType}, or null. (Constant is folded by the importer.) */
  static OpCompiler get(String opType) {
    return OPS.get(opType);
  }

  /** Every supported op type, sorted; Constant included. */
  static java.util.SortedSet<String> supported() {
    java.util.TreeSet<String> all = new java.util.TreeSet<>(OPS.keySet());
    all.add("Constant");
    return all;
  }
}
