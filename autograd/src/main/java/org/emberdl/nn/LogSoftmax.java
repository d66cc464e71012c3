package org.emberdl.nn;

import org.emberdl.autograd.Tensor;

/**
 * {@code x_i - log(sum_j exp(x_j))} along {@code dim}, as {@code torch.nn.LogSoftmax}, computed
 * stably (never as the log of a softmax). Any shape to the same shape.
 */
public class LogSoftmax extends Module {
  private final int dim;

  /**
   * @param dim the dim to normalize over (negative counts from the end)
   */
  public LogSoftmax(int dim) {
    this.dim = dim;
  }

  public int dim() {
    return dim;
  }

  @Override
  public Tensor forward(Tensor input) {
    return input.logSoftmax(dim);
  }

  @Override
  public String toString() {
    return "LogSoftmax(dim=" + dim + ")";
  }
}
