package org.emberdl.nn;

import org.emberdl.autograd.Tensor;

/**
 * {@code max(x, 0)} elementwise, as {@code torch.nn.ReLU}; the gradient at 0 is 0. Any shape to the
 * same shape.
 */
public class ReLU extends Module {
  @Override
  public Tensor forward(Tensor input) {
    return input.relu();
  }

  @Override
  public String toString() {
    return "ReLU()";
  }
}
