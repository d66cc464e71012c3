package org.emberdl.nn;

import org.emberdl.autograd.Tensor;

/**
 * What a recurrent layer returns, shaped as PyTorch's {@code (output, h_n)} or {@code (output,
 * (h_n, c_n))}: {@code output} is (T, B, D * H) ((B, T, D * H) with batch_first), {@code hN} and
 * {@code cN} are (num_layers * D, B, H), layer-major with the reverse direction second; {@code cN}
 * is null for a GRU. Closing closes all three.
 */
public record RecurrentOutput(Tensor output, Tensor hN, Tensor cN) implements AutoCloseable {
  @Override
  public void close() {
    output.close();
    hN.close();
    if (cN != null) {
      cN.close();
    }
  }
}
