package org.emberdl.nn;

import org.emberdl.autograd.Tensor;

/**
 * The Gaussian error linear unit, as {@code torch.nn.GELU}: exact {@code x * Phi(x)} by default, or
 * with {@code approximate = "tanh"} the approximation {@code 0.5 x (1 + tanh(sqrt(2 / pi) (x +
 * 0.044715 x^3)))} (GPT-2's). Any shape to the same shape.
 */
public class GELU extends Module {
  private static final double SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
  private final boolean tanh;

  /** The exact (erf) form. */
  public GELU() {
    this("none");
  }

  /**
   * @param approximate {@code "none"} (exact) or {@code "tanh"}
   */
  public GELU(String approximate) {
    this.tanh =
        switch (approximate) {
          case "none" -> false;
          case "tanh" -> true;
          default ->
              throw new IllegalArgumentException(
                  "approximate must be 'none' or 'tanh', got '" + approximate + "'");
        };
  }

  /** {@code "none"} for the exact form, {@code "tanh"} for the approximation. */
  public String approximate() {
    return tanh ? "tanh" : "none";
  }

  @Override
  public Tensor forward(Tensor input) {
    if (!tanh) {
      return input.gelu();
    }
    try (Tensor sq = input.square();
        Tensor cube = sq.mul(input);
        Tensor inner = cube.mul(0.044715);
        Tensor sum = inner.add(input);
        Tensor scaled = sum.mul(SQRT_2_OVER_PI);
        Tensor t = scaled.tanh();
        Tensor onePlus = t.add(1.0);
        Tensor half = input.mul(0.5)) {
      return half.mul(onePlus);
    }
  }

  @Override
  public String toString() {
    return "GELU(approximate='" + (tanh ? "tanh" : "none") + "')";
  }
}
