package org.emberdl.data;

import org.emberdl.tensor.NDArray;

/**
 * One mini-batch from a {@link DataLoader}: {@code x} of shape {@code (B, ...)} and {@code y} of
 * shape {@code (B)}. The caller owns both arrays; {@link #close()} closes them.
 *
 * @param x the features of the batch's examples
 * @param y their labels
 */
public record Batch(NDArray x, NDArray y) implements AutoCloseable {

  /** Number of examples, B. */
  public int size() {
    return x.shape(0);
  }

  /** Closes {@code x} and {@code y}; idempotent. */
  @Override
  public void close() {
    try {
      x.close();
    } finally {
      y.close();
    }
  }
}
