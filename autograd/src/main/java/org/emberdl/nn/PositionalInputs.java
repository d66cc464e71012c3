package org.emberdl.nn;

import java.util.Arrays;
import org.emberdl.autograd.Tensor;

/** The input check shared by the positional embeddings. */
final class PositionalInputs {
  private PositionalInputs() {}

  /**
   * The sequence length T of a {@code (N, T, d)} or {@code (T, d)} input.
   *
   * @throws IllegalArgumentException naming {@code layer} when the input does not fit
   */
  static int check(String layer, Tensor input, int maxLen, int dim) {
    int nd = input.ndim();
    if ((nd != 2 && nd != 3) || input.shape(-1) != dim || input.shape(-2) > maxLen) {
      throw new IllegalArgumentException(
          layer
              + " expects a batch-first (N, T, "
              + dim
              + ") or (T, "
              + dim
              + ") input with T <= max_len = "
              + maxLen
              + ", got "
              + Arrays.toString(input.shape()));
    }
    return input.shape(-2);
  }
}
