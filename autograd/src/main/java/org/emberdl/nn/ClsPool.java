package org.emberdl.nn;

import java.util.Arrays;
import org.emberdl.autograd.Tensor;

/**
 * The first position of a batch-first sequence, {@code x[:, 0, :]}: {@code (N, T, F) -> (N, F)}.
 * The head of a ViT-style classifier, reading the token {@link ClsToken} put there.
 */
public class ClsPool extends Module {
  @Override
  public Tensor forward(Tensor input) {
    if (input.ndim() != 3 || input.shape(1) == 0) {
      throw new IllegalArgumentException(
          "ClsPool expects a (batch, time, features) input with at least one step, got "
              + Arrays.toString(input.shape()));
    }
    return input.select(1, 0);
  }

  @Override
  public String toString() {
    return "ClsPool()";
  }
}
