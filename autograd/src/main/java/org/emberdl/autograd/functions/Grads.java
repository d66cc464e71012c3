package org.emberdl.autograd.functions;

import java.util.Arrays;
import org.emberdl.tensor.NDArray;

/** Shared helpers of backward rules. */
public final class Grads {
  private Grads() {}

  /**
   * Undoes broadcasting (PyTorch's {@code sum_to}): sums {@code grad} over the leading dims that
   * {@code shape} lacks and over dims where {@code shape} has size 1, giving an array of {@code
   * shape}. Returns a new reference (the same elements when nothing needs summing).
   */
  public static NDArray sumTo(NDArray grad, int[] shape) {
    int[] gs = grad.shape();
    if (Arrays.equals(gs, shape)) {
      return grad.share();
    }
    int lead = gs.length - shape.length;
    int count = 0;
    int[] dims = new int[gs.length];
    for (int d = 0; d < gs.length; d++) {
      if (d < lead || (shape[d - lead] == 1 && gs[d] != 1)) {
        dims[count++] = d;
      }
    }
    if (count == 0) {
      return grad.reshape(shape);
    }
    try (NDArray s = grad.sum(Arrays.copyOf(dims, count), true)) {
      return s.reshape(shape);
    }
  }
}
