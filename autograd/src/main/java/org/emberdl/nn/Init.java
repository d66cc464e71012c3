package org.emberdl.nn;

import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.NDArray;

/**
 * Parameter initializations of {@code torch.nn.init}, drawn from a seeded {@link Generator} so a
 * model's initial weights are reproducible. Each returns a new array the caller owns (a module
 * hands it to {@code registerParameter}). Shapes follow PyTorch's weight layouts: {@code (out, in)}
 * for linear layers, {@code (out, in / groups, kh, kw)} for convolutions.
 */
public final class Init {
  private Init() {}

  /**
   * Number of inputs feeding one output unit, as PyTorch's {@code _calculate_fan_in_and_fan_out}:
   * {@code shape[1]} times the receptive field {@code shape[2] * shape[3] * ...}.
   *
   * @throws IllegalArgumentException for fewer than 2 dims
   */
  public static int fanIn(int... shape) {
    checkFanShape(shape);
    return shape[1] * receptiveField(shape);
  }

  /** Number of outputs one input unit feeds: {@code shape[0]} times the receptive field. */
  public static int fanOut(int... shape) {
    checkFanShape(shape);
    return shape[0] * receptiveField(shape);
  }

  private static void checkFanShape(int[] shape) {
    if (shape.length < 2) {
      throw new IllegalArgumentException(
          "fan in and fan out can not be computed for a tensor with fewer than 2 dimensions, got "
              + java.util.Arrays.toString(shape));
    }
  }

  private static int receptiveField(int[] shape) {
    int r = 1;
    for (int d = 2; d < shape.length; d++) {
      r *= shape[d];
    }
    return r;
  }

  /**
   * The recommended gain for {@code nonlinearity}, as {@code torch.nn.init.calculate_gain}: 1 for
   * linear, conv and sigmoid, 5/3 for tanh, sqrt(2) for relu, sqrt(2 / (1 + slope^2)) for
   * leaky_relu (with {@code param} the negative slope), 3/4 for selu.
   */
  public static double gain(String nonlinearity, double param) {
    return switch (nonlinearity) {
      case "linear",
          "identity",
          "conv1d",
          "conv2d",
          "conv3d",
          "conv_transpose1d",
          "conv_transpose2d",
          "conv_transpose3d",
          "sigmoid" ->
          1.0;
      case "tanh" -> 5.0 / 3.0;
      case "relu" -> Math.sqrt(2.0);
      case "leaky_relu" -> Math.sqrt(2.0 / (1 + param * param));
      case "selu" -> 3.0 / 4.0;
      default -> throw new IllegalArgumentException("unsupported nonlinearity " + nonlinearity);
    };
  }

  /**
   * He uniform init for a layer followed by leaky ReLU with slope {@code a}, in fan-in mode, as
   * {@code kaiming_uniform_(w, a)}: {@code U(-bound, bound)} with {@code bound = gain * sqrt(3 /
   * fan_in)}. PyTorch's default for Linear and Conv weights is {@code a = sqrt(5)}, which gives
   * {@code bound = 1 / sqrt(fan_in)}. Float32.
   */
  public static NDArray kaimingUniform(Generator gen, int[] shape, double a) {
    return kaimingUniform(gen, DType.FLOAT32, shape, a);
  }

  /** As {@link #kaimingUniform(Generator, int[], double)} in {@code dtype}. */
  public static NDArray kaimingUniform(Generator gen, DType dtype, int[] shape, double a) {
    int fan = fanIn(shape);
    if (fan == 0) {
      // PyTorch skips the init of an empty weight (it has no elements anyway)
      return zeros(dtype, shape);
    }
    double bound = gain("leaky_relu", a) * Math.sqrt(3.0 / fan);
    return uniform(gen, dtype, -bound, bound, shape);
  }

  /**
   * He normal init in fan-in mode, as {@code kaiming_normal_(w, a)}: {@code N(0, gain^2 / fan_in)}.
   */
  public static NDArray kaimingNormal(Generator gen, DType dtype, int[] shape, double a) {
    int fan = fanIn(shape);
    if (fan == 0) {
      return zeros(dtype, shape);
    }
    return normal(gen, dtype, 0, gain("leaky_relu", a) / Math.sqrt(fan), shape);
  }

  /**
   * Glorot uniform init, as {@code xavier_uniform_(w, gain)}: {@code U(-bound, bound)} with {@code
   * bound = gain * sqrt(6 / (fan_in + fan_out))}.
   */
  public static NDArray xavierUniform(Generator gen, DType dtype, int[] shape, double gain) {
    double bound = gain * Math.sqrt(6.0 / (fanIn(shape) + fanOut(shape)));
    return uniform(gen, dtype, -bound, bound, shape);
  }

  /** Glorot normal init: {@code N(0, gain^2 * 2 / (fan_in + fan_out))}. */
  public static NDArray xavierNormal(Generator gen, DType dtype, int[] shape, double gain) {
    double std = gain * Math.sqrt(2.0 / (fanIn(shape) + fanOut(shape)));
    return normal(gen, dtype, 0, std, shape);
  }

  /** Values uniform in {@code [low, high)}. */
  public static NDArray uniform(Generator gen, DType dtype, double low, double high, int... shape) {
    return NDArray.uniform(gen, dtype, low, high, shape);
  }

  /** Values from {@code N(mean, std^2)}. */
  public static NDArray normal(Generator gen, DType dtype, double mean, double std, int... shape) {
    return NDArray.normal(gen, dtype, mean, std, shape);
  }

  public static NDArray zeros(DType dtype, int... shape) {
    return NDArray.zeros(dtype, shape);
  }

  public static NDArray ones(DType dtype, int... shape) {
    return NDArray.ones(dtype, shape);
  }

  /** The bias init of Linear and Conv: {@code U(-1/sqrt(fan_in), 1/sqrt(fan_in))}, 0 when empty. */
  static NDArray biasUniform(Generator gen, DType dtype, int fanIn, int... shape) {
    double bound = fanIn > 0 ? 1.0 / Math.sqrt(fanIn) : 0;
    return fanIn > 0 ? uniform(gen, dtype, -bound, bound, shape) : zeros(dtype, shape);
  }
}
