package org.emberdl.nn;

import org.emberdl.autograd.Tensor;

/**
 * {@code 1 / (1 + exp(-x))} elementwise, as {@code torch.nn.Sigmoid}. Any shape to the same shape.
 */
public class Sigmoid extends Module {
  @Override
  public Tensor forward(Tensor input) {
    return input.sigmoid();
  }

  @Override
  public String toString() {
    return "Sigmoid()";
  }
}
