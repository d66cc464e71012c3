package org.emberdl.nn;

import org.emberdl.autograd.Tensor;

/**
 * What {@link MultiheadAttention#attend} returns, as PyTorch's {@code (attn_output,
 * attn_output_weights)}: {@code output} is (L, N, E) ((N, L, E) with batch_first); {@code weights}
 * is (N, L, S) averaged over heads, (N, num_heads, L, S) per head, or null when weights were not
 * asked for. Closing closes both.
 */
public record AttentionOutput(Tensor output, Tensor weights) implements AutoCloseable {
  @Override
  public void close() {
    output.close();
    if (weights != null) {
      weights.close();
    }
  }
}
