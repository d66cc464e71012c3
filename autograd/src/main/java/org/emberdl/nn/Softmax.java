package org.emberdl.nn;

import org.emberdl.autograd.Tensor;

/**
 * {@code exp(x_i) / sum_j exp(x_j)} along {@code dim}, as {@code torch.nn.Softmax}: each slice
 * along the dim sums to 1. Any shape to the same shape.
 */
public class Softmax extends Module {
  private final int dim;

  /**
   * @param dim the dim to normalize over (negative counts from the end)
   */
  public Softmax(int dim) {
    this.dim = dim;
  }

  public int dim() {
    return dim;
  }

  @Override
  public Tensor forward(Tensor input) {
    return input.softmax(dim);
  }

  @Override
  public String toString() {
    return "Softmax(dim=" + dim + ")";
  }
}
