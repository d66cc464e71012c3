package org.emberdl.onnx;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What the importer checks of each op's inputs before running anything: which must be floats or
 * integers (for values known at load time), how many are required, and which are never trained.
 */
final class OpSignatures {
  private OpSignatures() {}

  /** Inputs that must hold floats, by op type (checked at load for initializers and constants). */
  private static final Map<String, int[]> FLOAT_INPUTS = new HashMap<>();

  /** Inputs that must hold integers. */
  private static final Map<String, int[]> INT_INPUTS = new HashMap<>();

  /** The fewest inputs each op needs (1 when not listed). */
  private static final Map<String, Integer> MIN_INPUTS = new HashMap<>();

  /** Inputs that are not trained even when floating: they stay constants (or buffers). */
  private static final Map<String, int[]> FROZEN_INPUTS = new HashMap<>();

  static {
    for (String op :
        List.of(
            "Relu",
            "Sigmoid",
            "Tanh",
            "Erf",
            "Sqrt",
            "Exp",
            "Log",
            "Reciprocal",
            "LeakyRelu",
            "Gelu",
            "Softmax",
            "LogSoftmax",
            "MaxPool",
            "AveragePool",
            "GlobalAveragePool",
            "GlobalMaxPool",
            "ReduceMean",
            "Dropout",
            "Pow")) {
      FLOAT_INPUTS.put(op, new int[] {0});
    }
    FLOAT_INPUTS.put("Gemm", new int[] {0, 1, 2});
    FLOAT_INPUTS.put("MatMul", new int[] {0, 1});
    FLOAT_INPUTS.put("Conv", new int[] {0, 1, 2});
    FLOAT_INPUTS.put("BatchNormalization", new int[] {0, 1, 2, 3, 4});
    FLOAT_INPUTS.put("LayerNormalization", new int[] {0, 1, 2});
    INT_INPUTS.put("Reshape", new int[] {1});
    INT_INPUTS.put("Gather", new int[] {1});
    INT_INPUTS.put("Unsqueeze", new int[] {1});
    INT_INPUTS.put("Squeeze", new int[] {1});
    INT_INPUTS.put("Slice", new int[] {1, 2, 3, 4});
    INT_INPUTS.put("Pad", new int[] {1, 3});
    INT_INPUTS.put("Expand", new int[] {1});
    INT_INPUTS.put("Split", new int[] {1});
    INT_INPUTS.put("ConstantOfShape", new int[] {0});
    for (String op : List.of("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin")) {
      INT_INPUTS.put(op, new int[] {1});
    }
    for (String op :
        List.of(
            "Add",
            "Sub",
            "Mul",
            "Div",
            "Pow",
            "Equal",
            "Less",
            "Greater",
            "Gemm",
            "MatMul",
            "Conv",
            "LayerNormalization",
            "Reshape",
            "Gather",
            "Expand")) {
      MIN_INPUTS.put(op, 2);
    }
    MIN_INPUTS.put("Where", 3);
    MIN_INPUTS.put("BatchNormalization", 5);
    FROZEN_INPUTS.put("BatchNormalization", new int[] {3, 4});
    FROZEN_INPUTS.put("Dropout", new int[] {1, 2});
    FROZEN_INPUTS.put("Pad", new int[] {2});
    FROZEN_INPUTS.put("Clip", new int[] {1, 2});
  }

  /** Positions of inputs that must be float tensors; empty when none are checked. */
  static int[] floatInputs(String op) {
    return FLOAT_INPUTS.getOrDefault(op, new int[0]);
  }

  /** Positions of inputs that must be int64 (or int32) tensors. */
  static int[] intInputs(String op) {
    return INT_INPUTS.getOrDefault(op, new int[0]);
  }

  /**
   * Positions of inputs that stay constants (or BatchNorm buffers) even when floating: running
   * statistics, ratios, pad values and clip bounds.
   */
  static int[] frozenInputs(String op) {
    return FROZEN_INPUTS.getOrDefault(op, new int[0]);
  }

  /** The fewest inputs {@code op} needs at {@code opset} (those that became inputs included). */
  static int minInputs(String op, int opset) {
    return switch (op) {
      case "Slice" -> opset >= 10 ? 3 : 1;
      case "Pad", "Unsqueeze" -> opset >= (op.equals("Pad") ? 11 : 13) ? 2 : 1;
      default -> MIN_INPUTS.getOrDefault(op, 1);
    };
  }
}
