package org.emberdl.nn;

import java.util.Arrays;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.NDArray;

/**
 * The mean over the time steps of a batch-first sequence: (N, T, F) -> (N, F). Given lengths, the
 * mean of each sequence's own steps (the padding past its end counts for nothing).
 */
public class MeanPool extends Module implements VariableLength {
  @Override
  public Tensor forward(Tensor input) {
    requireSequence(input);
    return input.mean(new int[] {1}, false);
  }

  @Override
  public Tensor forward(Tensor input, int[] lengths) {
    if (lengths == null) {
      return forward(input);
    }
    requireSequence(input);
    Lengths.check("MeanPool", input, lengths);
    double[] inv = new double[lengths.length];
    for (int i = 0; i < inv.length; i++) {
      inv[i] = 1.0 / lengths[i];
    }
    // sum(x * valid) / length: padded steps are multiplied by 0 whatever they hold
    try (Tensor valid = Tensor.of(Lengths.validSteps(lengths, input.shape(1), input.dtype()));
        NDArray invD = NDArray.of(inv, lengths.length, 1);
        Tensor scale = Tensor.of(invD.cast(input.dtype()));
        Tensor masked = input.mul(valid);
        Tensor sum = masked.sum(new int[] {1}, false)) {
      return sum.mul(scale);
    }
  }

  private static void requireSequence(Tensor input) {
    if (input.ndim() != 3 || input.shape(1) == 0) {
      throw new IllegalArgumentException(
          "MeanPool expects a (batch, time, features) input with at least one step, got "
              + Arrays.toString(input.shape()));
    }
  }

  @Override
  public String toString() {
    return "MeanPool()";
  }
}
