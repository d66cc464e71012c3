package org.emberdl.nn;

import org.emberdl.tensor.Generator;
import org.emberdl.tensor.Recurrent.Cell;

/**
 * A multi-layer gated recurrent unit network, as {@code torch.nn.GRU}: per layer and step, with
 * gates in PyTorch's order,
 *
 * <pre>
 * r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)     z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
 * n = tanh(W_in x + b_in + r * (W_hn h + b_hn))  h' = (1 - z) * n + z * h
 * </pre>
 *
 * {@code weight_ih_l{k}} is (3H, in) with the gates stacked as [r, z, n]. Build with {@link
 * #builder}; {@link #run} returns {@code (output, h_n)} ({@code cN} is null). See {@link
 * RecurrentLayer} for options and lengths.
 */
public class GRU extends RecurrentLayer {
  private GRU(Builder<GRU> b) {
    super(Cell.GRU, b);
  }

  /** A float32 single-layer GRU with bias, time-major, initialised from {@code gen}. */
  public GRU(int inputSize, int hiddenSize, Generator gen) {
    this(builder(inputSize, hiddenSize).generatorFor(gen));
  }

  /** Options with PyTorch's defaults; finish with {@link Builder#build(Generator)}. */
  public static Builder<GRU> builder(int inputSize, int hiddenSize) {
    return new Builder<>(GRU::new, inputSize, hiddenSize);
  }
}
