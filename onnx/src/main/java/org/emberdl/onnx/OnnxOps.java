package org.emberdl.onnx;

import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * The ONNX ops Ember imports (default domain, opsets {@value OnnxImporter#MIN_OPSET} to {@value
 * OnnxImporter#MAX_OPSET}), by op type:
 *
 * <ul>
 *   <li>arithmetic, numpy broadcasting: Add, Sub, Mul, Div (integers truncate), Pow, Max, Min, Neg,
 *       Abs, Reciprocal, Sqrt, Exp, Log, Erf;
 *   <li>activations: Relu, LeakyRelu, Sigmoid, Tanh, Gelu (exact and tanh), Clip, Softmax,
 *       LogSoftmax (before opset 13: flattened at the axis);
 *   <li>layers: Gemm, MatMul (batched), Conv (1-D and 2-D; groups, dilations, any pads, auto_pad),
 *       BatchNormalization, LayerNormalization, MaxPool and AveragePool (1-D and 2-D, ceil mode for
 *       MaxPool, count_include_pad), GlobalAveragePool, GlobalMaxPool, Dropout;
 *   <li>reductions: ReduceMean, ReduceSum, ReduceMax, ReduceMin (axes as attribute or input);
 *   <li>shapes: Shape, Reshape, Flatten, Transpose, Concat, Split, Gather, Slice (negative steps),
 *       Squeeze, Unsqueeze, Expand, Pad (constant), ConstantOfShape, Identity;
 *   <li>logic and types: Where, Equal, Less, Greater, Not, Cast (to float, double, int32, int64,
 *       bool), Constant.
 * </ul>
 */
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
