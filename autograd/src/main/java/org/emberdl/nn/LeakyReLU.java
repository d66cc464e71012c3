package org.emberdl.nn;

import org.emberdl.autograd.Tensor;

/**
 * {@code x > 0 ? x : slope * x} elementwise, as {@code torch.nn.LeakyReLU} (default slope 0.01).
 * Any shape to the same shape.
 */
public class LeakyReLU extends Module {
  private final double negativeSlope;

  /** Slope 0.01, PyTorch's default. */
  public LeakyReLU() {
    this(0.01);
  }

  public LeakyReLU(double negativeSlope) {
    this.negativeSlope = negativeSlope;
  }

  public double negativeSlope() {
    return negativeSlope;
  }

  @Override
  public Tensor forward(Tensor input) {
    return input.leakyRelu(negativeSlope);
  }

  @Override
  public String toString() {
    return "LeakyReLU(negative_slope=" + Repr.num(negativeSlope) + ")";
  }
}
