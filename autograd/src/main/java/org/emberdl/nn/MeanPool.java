package org.emberdl.nn;

import java.util.Arrays;
import org.emberdl.autograd.Tensor;

/** The mean over the time steps of a batch-first sequence: (N, T, F) -> (N, F). */
public class MeanPool extends Module {
  @Override
  public Tensor forward(Tensor input) {
    if (input.ndim() != 3 || input.shape(1) == 0) {
      throw new IllegalArgumentException(
          "MeanPool expects a (batch, time, features) input with at least one step, got "
              + Arrays.toString(input.shape()));
    }
    return input.mean(new int[] {1}, false);
  }

  @Override
  public String toString() {
    return "MeanPool()";
  }
}
