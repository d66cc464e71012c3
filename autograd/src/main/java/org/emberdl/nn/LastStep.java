package org.emberdl.nn;

import java.util.Arrays;
import org.emberdl.autograd.Tensor;

/**
 * The last time step of a batch-first sequence, {@code x[:, -1, :]}: (N, T, F) -> (N, F). The head
 * that turns a recurrent layer's output into one vector per sequence (for a bidirectional layer,
 * the reverse half of the last step has seen only that step; {@link MeanPool} sees all).
 */
public class LastStep extends Module {
  @Override
  public Tensor forward(Tensor input) {
    if (input.ndim() != 3 || input.shape(1) == 0) {
      throw new IllegalArgumentException(
          "LastStep expects a (batch, time, features) input with at least one step, got "
              + Arrays.toString(input.shape()));
    }
    return input.select(1, input.shape(1) - 1);
  }

  @Override
  public String toString() {
    return "LastStep()";
  }
}
