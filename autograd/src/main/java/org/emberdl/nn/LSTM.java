package org.emberdl.nn;

import org.emberdl.tensor.Generator;
import org.emberdl.tensor.Recurrent.Cell;

/**
 * A multi-layer long short-term memory network, as {@code torch.nn.LSTM}: per layer and step, with
 * gates in PyTorch's order,
 *
 * <pre>
 * i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)     f = sigmoid(W_if x + b_if + W_hf h + b_hf)
 * g = tanh(W_ig x + b_ig + W_hg h + b_hg)        o = sigmoid(W_io x + b_io + W_ho h + b_ho)
 * c' = f * c + i * g                             h' = o * tanh(c')
 * </pre>
 *
 * {@code weight_ih_l{k}} is (4H, in) with the gates stacked as [i, f, g, o]. Build with {@link
 * #builder}: {@code LSTM.builder(28, 128).numLayers(2).bidirectional(true).build(gen)}; {@link
 * #run} returns {@code (output, h_n, c_n)}. See {@link RecurrentLayer} for options and lengths.
 */
public class LSTM extends RecurrentLayer {
  private LSTM(Builder<LSTM> b) {
    super(Cell.LSTM, b);
  }

  /** A float32 single-layer LSTM with bias, time-major, initialised from {@code gen}. */
  public LSTM(int inputSize, int hiddenSize, Generator gen) {
    this(builder(inputSize, hiddenSize).generatorFor(gen));
  }

  /** Options with PyTorch's defaults; finish with {@link Builder#build(Generator)}. */
  public static Builder<LSTM> builder(int inputSize, int hiddenSize) {
    return new Builder<>(LSTM::new, inputSize, hiddenSize);
  }
}
