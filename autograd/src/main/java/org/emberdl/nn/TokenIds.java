package org.emberdl.nn;

import org.emberdl.tensor.NDArray;

/** Checks that integer token ids index a table of a given size. */
final class TokenIds {
  private TokenIds() {}

  /**
   * Throws unless every id is in {@code [0, size)}. Two reductions on the ids' device decide; only
   * a failing batch is copied to the heap, to name the first bad value and its position.
   *
   * @throws IllegalArgumentException naming the first id out of range, its position and the range
   */
  static void checkRange(NDArray ids, int size) {
    if (ids.numel() == 0) {
      return;
    }
    double min;
    double max;
    try (NDArray lo = ids.min();
        NDArray hi = ids.max()) {
      min = lo.item();
      max = hi.item();
    }
    if (min >= 0 && max < size) {
      return;
    }
    long[] values = ids.toLongArray();
    int[] shape = ids.shape();
    for (int i = 0; i < values.length; i++) {
      if (values[i] < 0 || values[i] >= size) {
        throw new IllegalArgumentException(
            "Embedding index "
                + values[i]
                + " at position "
                + position(i, shape)
                + " of the indices (shape "
                + java.util.Arrays.toString(shape)
                + ") is out of range: indices must be in [0, "
                + size
                + ") for a table of "
                + size
                + " rows");
      }
    }
    throw new AssertionError("min " + min + " / max " + max + " but no id out of range");
  }

  /** The row-major multi-index of flat position {@code flat} in {@code shape}, as [i, j, ...]. */
  static String position(long flat, int[] shape) {
    long[] at = new long[shape.length];
    for (int d = shape.length - 1; d >= 0; d--) {
      at[d] = flat % shape[d];
      flat /= shape[d];
    }
    return java.util.Arrays.toString(at);
  }
}
