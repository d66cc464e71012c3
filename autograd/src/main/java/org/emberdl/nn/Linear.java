package org.emberdl.nn;

import java.util.Arrays;
import org.emberdl.autograd.Function;
import org.emberdl.autograd.Tensor;
import org.emberdl.autograd.functions.UnaryFunction;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.FusedOps;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.ops.UnaryOp;

/**
 * A fully connected layer {@code y = x W^T + b}, as {@code torch.nn.Linear}: parameters {@code
 * weight} {@code (out, in)} and {@code bias} {@code (out)}, initialized as PyTorch does, both from
 * {@code U(-1/sqrt(in), 1/sqrt(in))} (weight first, then bias, from the given generator).
 *
 * <p>Input {@code (*, in)}, output {@code (*, out)}. Under an open {@link PerExampleCapture} a call
 * records what per-example gradient norms need (same values and gradients).
 */
public class Linear extends Module {
  private final int inFeatures;
  private final int outFeatures;
  private final Parameter weight;
  private final Parameter bias;

  /** A float32 layer with a bias. */
  public Linear(int inFeatures, int outFeatures, Generator gen) {
    this(inFeatures, outFeatures, true, gen);
  }

  /** A float32 layer, with a bias when {@code bias}. */
  public Linear(int inFeatures, int outFeatures, boolean bias, Generator gen) {
    this(inFeatures, outFeatures, bias, DType.FLOAT32, gen);
  }

  /** A layer with parameters in {@code dtype} (a floating type). */
  public Linear(int inFeatures, int outFeatures, boolean bias, DType dtype, Generator gen) {
    if (inFeatures < 0 || outFeatures < 0) {
      throw new IllegalArgumentException(
          "Linear sizes must be >= 0, got in=" + inFeatures + ", out=" + outFeatures);
    }
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    int[] shape = {outFeatures, inFeatures};
    this.weight = registerParameter("weight", Init.kaimingUniform(gen, dtype, shape, Math.sqrt(5)));
    this.bias =
        bias
            ? registerParameter(
                "bias", Init.biasUniform(gen, dtype, Init.fanIn(shape), outFeatures))
            : null;
  }

  /**
   * {@code input W^T + bias}, as {@code torch.nn.functional.linear}; the transpose is a view (the
   * GEMM reads it with a transposed flag, no copy).
   *
   * @param input (*, in)
   * @param weight (out, in)
   * @param bias (out), or null
   * @return (*, out)
   */
  public static Tensor linear(Tensor input, Tensor weight, Tensor bias) {
    return linear(input, weight, bias, null);
  }

  /**
   * {@code activation(input W^T + bias)}. When no graph is needed (under {@link
   * org.emberdl.autograd.NoGrad}, or nothing requires grad) this is one fused kernel ({@link
   * FusedOps#linear}: bias, GEMM and activation in one pass over the output, no intermediate
   * arrays); otherwise the recorded ops {@code matmul}, {@code add} and the activation.
   *
   * @param activation an elementwise op applied to the result (such as {@link UnaryOp#RELU}), or
   *     null
   */
  public static Tensor linear(Tensor input, Tensor weight, Tensor bias, UnaryOp activation) {
    if (!Function.isNeeded(input, weight, bias) && fusable(input, weight, bias)) {
      return Tensor.of(
          FusedOps.linear(
              input.data(), weight.data(), bias == null ? null : bias.data(), activation));
    }
    Tensor z = unfused(input, weight, bias);
    if (activation == null) {
      return z;
    }
    try (z) {
      return UnaryFunction.apply(activation, z);
    }
  }

  /** One dtype (float32 or float64) for all: else the unfused ops report the mismatch. */
  private static boolean fusable(Tensor input, Tensor weight, Tensor bias) {
    DType t = input.dtype();
    return (t == DType.FLOAT32 || t == DType.FLOAT64)
        && weight.dtype() == t
        && weight.ndim() == 2
        && (bias == null || bias.dtype() == t)
        && input.device().equals(weight.device())
        && (bias == null || bias.device().equals(weight.device()));
  }

  private static Tensor unfused(Tensor input, Tensor weight, Tensor bias) {
    Tensor y;
    try (Tensor wt = weight.t()) {
      y = input.matmul(wt);
    }
    if (bias == null) {
      return y;
    }
    try (y) {
      return y.add(bias);
    }
  }

  /** {@code (*, in) -> (*, out)}. */
  @Override
  public Tensor forward(Tensor input) {
    return forward(input, null);
  }

  /**
   * {@code activation(forward(input))}; without a graph (inference) one fused kernel, see {@link
   * #linear(Tensor, Tensor, Tensor, UnaryOp)}. {@link Sequential} calls it for a Linear followed by
   * a {@link ReLU}.
   *
   * @param activation an elementwise op, or null
   */
  public Tensor forward(Tensor input, UnaryOp activation) {
    if (input.ndim() == 0 || input.shape(-1) != inFeatures) {
      throw new IllegalArgumentException(
          "Linear expects input (*, " + inFeatures + "), got " + Arrays.toString(input.shape()));
    }
    PerExampleCapture capture = PerExampleCapture.current();
    if (capture != null) {
      Tensor z = capture.linear(this, input);
      if (activation == null) {
        return z;
      }
      try (z) {
        return UnaryFunction.apply(activation, z);
      }
    }
    return linear(input, weight, bias, activation);
  }

  public Parameter weight() {
    return weight;
  }

  /** The bias, or null for a layer without one. */
  public Parameter bias() {
    return bias;
  }

  public int inFeatures() {
    return inFeatures;
  }

  public int outFeatures() {
    return outFeatures;
  }

  @Override
  public String toString() {
    return "Linear(in_features="
        + inFeatures
        + ", out_features="
        + outFeatures
        + ", bias="
        + Repr.bool(bias != null)
        + ")";
  }
}
