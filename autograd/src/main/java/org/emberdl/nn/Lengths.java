package org.emberdl.nn;

import java.util.Arrays;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.NDArray;

/** Per-sequence lengths of a batch-first batch: checks and the masks built from them. */
final class Lengths {
  private Lengths() {}

  /** Checks {@code lengths} against a (N, T, ...) input; {@code who} names the module. */
  static void check(String who, Tensor input, int[] lengths) {
    int n = input.shape(0);
    int t = input.shape(1);
    if (lengths.length != n) {
      throw new IllegalArgumentException(
          who + " got " + lengths.length + " lengths for a batch of " + n + " sequences");
    }
    for (int i = 0; i < n; i++) {
      if (lengths[i] < 1 || lengths[i] > t) {
        throw new IllegalArgumentException(
            who
                + ": length of sequence "
                + i
                + " is "
                + lengths[i]
                + "; lengths must be in [1, "
                + t
                + "] (the number of time steps)");
      }
    }
  }

  /** A (N, T, 1) array in {@code dtype}: 1 at the steps inside each sequence, 0 past its end. */
  static NDArray validSteps(int[] lengths, int steps, DType dtype) {
    double[] m = new double[lengths.length * steps];
    for (int i = 0; i < lengths.length; i++) {
      Arrays.fill(m, i * steps, i * steps + lengths[i], 1);
    }
    try (NDArray d = NDArray.of(m, lengths.length, steps, 1)) {
      return d.cast(dtype);
    }
  }
}
