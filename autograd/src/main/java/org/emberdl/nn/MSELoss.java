package org.emberdl.nn;

import java.util.Arrays;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.NDArray;

/**
 * Mean squared error, as {@code torch.nn.MSELoss}: {@code l_i = (x_i - y_i)^2}, averaged ({@link
 * Reduction#MEAN}, the default), summed, or returned per element. Input and target must have the
 * same shape (PyTorch only warns when they broadcast, which is almost always a bug).
 */
public final class MSELoss {
  private final Reduction reduction;

  public MSELoss() {
    this(Reduction.MEAN);
  }

  public MSELoss(Reduction reduction) {
    if (reduction == null) {
      throw new IllegalArgumentException("reduction must not be null");
    }
    this.reduction = reduction;
  }

  /** The loss against a constant target (converted to the input's dtype). */
  public Tensor apply(Tensor input, NDArray target) {
    checkShapes(input.shape(), target.shape());
    NDArray t = target.dtype() == input.dtype() ? target.share() : target.cast(input.dtype());
    try (Tensor constant = Tensor.of(t)) {
      return apply(input, constant);
    }
  }

  /** The loss against a target that may itself require grad (both get gradients). */
  public Tensor apply(Tensor input, Tensor target) {
    if (!input.dtype().isFloatingPoint()) {
      throw new IllegalArgumentException("MSELoss expects a floating input, got " + input.dtype());
    }
    checkShapes(input.shape(), target.shape());
    try (Tensor diff = input.sub(target)) {
      return reduction.reduce(diff.square());
    }
  }

  public Reduction reduction() {
    return reduction;
  }

  private static void checkShapes(int[] input, int[] target) {
    if (!Arrays.equals(input, target)) {
      throw new IllegalArgumentException(
          "MSELoss: target shape "
              + Arrays.toString(target)
              + " differs from input shape "
              + Arrays.toString(input));
    }
  }
}
