package org.emberdl.nn;

import org.emberdl.autograd.Tensor;

/**
 * Merges dims {@code startDim..endDim} into one, as {@code torch.nn.Flatten}: by default every dim
 * but the batch one, {@code (N, C, H, W) -> (N, C * H * W)}. A view when the strides allow.
 */
public class Flatten extends Module {
  private final int startDim;
  private final int endDim;

  /** Flattens dims 1 to the last, keeping the batch dim (PyTorch's default). */
  public Flatten() {
    this(1, -1);
  }

  /** Flattens {@code startDim..endDim} inclusive; negative dims count from the end. */
  public Flatten(int startDim, int endDim) {
    this.startDim = startDim;
    this.endDim = endDim;
  }

  /** The first merged dim, as given (negative counts from the end). */
  public int startDim() {
    return startDim;
  }

  /** The last merged dim, inclusive, as given (negative counts from the end). */
  public int endDim() {
    return endDim;
  }

  @Override
  public Tensor forward(Tensor input) {
    return input.flatten(startDim, endDim);
  }

  @Override
  public String toString() {
    return "Flatten(start_dim=" + startDim + ", end_dim=" + endDim + ")";
  }
}
