package org.emberdl.nn;

import java.util.Arrays;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.NDArray;

/**
 * The last time step of a batch-first sequence, {@code x[:, -1, :]}: (N, T, F) -> (N, F). The head
 * that turns a recurrent layer's output into one vector per sequence (for a bidirectional layer,
 * the reverse half of the last step has seen only that step; {@link MeanPool} sees all). Given
 * lengths, each sequence's own last step, {@code x[i, length_i - 1, :]}.
 */
public class LastStep extends Module implements VariableLength {
  @Override
  public Tensor forward(Tensor input) {
    requireSequence(input);
    return input.select(1, input.shape(1) - 1);
  }

  @Override
  public Tensor forward(Tensor input, int[] lengths) {
    if (lengths == null) {
      return forward(input);
    }
    requireSequence(input);
    Lengths.check("LastStep", input, lengths);
    int n = input.shape(0);
    int f = input.shape(2);
    long[] last = new long[n];
    for (int i = 0; i < n; i++) {
      last[i] = lengths[i] - 1;
    }
    try (NDArray at = NDArray.of(last, n, 1, 1);
        NDArray index = at.expand(n, 1, f);
        Tensor picked = input.gather(1, index)) {
      return picked.reshape(n, f);
    }
  }

  private static void requireSequence(Tensor input) {
    if (input.ndim() != 3 || input.shape(1) == 0) {
      throw new IllegalArgumentException(
          "LastStep expects a (batch, time, features) input with at least one step, got "
              + Arrays.toString(input.shape()));
    }
  }

  @Override
  public String toString() {
    return "LastStep()";
  }
}
