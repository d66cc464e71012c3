package org.emberdl.nn;

import org.emberdl.autograd.Tensor;

/** The hyperbolic tangent elementwise, as {@code torch.nn.Tanh}. Any shape to the same shape. */
public class Tanh extends Module {
  @Override
  public Tensor forward(Tensor input) {
    return input.tanh();
  }

  @Override
  public String toString() {
    return "Tanh()";
  }
}
