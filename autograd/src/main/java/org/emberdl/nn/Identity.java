package org.emberdl.nn;

import org.emberdl.autograd.Tensor;

/**
 * Returns its input unchanged, as {@code torch.nn.Identity}: a placeholder in a {@link Sequential}.
 * The result is a new tensor sharing the input's values, so closing one does not close the other.
 */
public class Identity extends Module {
  @Override
  public Tensor forward(Tensor input) {
    return of(input);
  }

  /**
   * A new handle on {@code input}'s values, in the graph (gradients pass straight through). Modules
   * return this rather than {@code input} itself because callers close what forward returns.
   */
  static Tensor of(Tensor input) {
    // expand to the same shape is always a view, whatever the strides
    return input.expand(input.shape());
  }

  @Override
  public String toString() {
    return "Identity()";
  }
}
