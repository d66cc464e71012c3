package org.emberdl.nn;

import org.emberdl.autograd.Tensor;

/**
 * A module over batch-first sequences (N, T, ...) that can be told each sequence's length, so that
 * the steps past it (right padding) do not count: recurrent layers stop there, poolings ignore
 * them. {@link PaddedSequenceNetwork} passes the lengths it derives from the padding ids.
 */
public interface VariableLength {
  /**
   * The module's output when sequence {@code i} of the batch has {@code lengths[i]} steps.
   *
   * @param lengths one per sequence, each in {@code [1, T]}
   * @throws IllegalArgumentException for a wrong count or a length outside {@code [1, T]}
   */
  Tensor forward(Tensor input, int[] lengths);
}
