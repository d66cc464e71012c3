package org.emberdl.examples;

import org.emberdl.autograd.Tensor;
import org.emberdl.nn.LSTM;
import org.emberdl.nn.Linear;
import org.emberdl.nn.Module;
import org.emberdl.tensor.Generator;

/**
 * Fashion-MNIST as a sequence: each image is 28 time steps of one 28-pixel row, read by a
 * batch-first LSTM with 128 hidden units; the last step's output goes through a linear layer to 10
 * logits. The spec form is {@code "lstm(128), lastStep, linear(10)"} on an inputShape (28, 28).
 * State dict as PyTorch's {@code lstm.weight_ih_l0}, ..., {@code fc.weight}, {@code fc.bias}.
 */
public final class RowLstm extends Module {
  static final int ROWS = 28;
  static final int HIDDEN = 128;

  private final LSTM lstm;
  private final Linear fc;

  public RowLstm(Generator gen) {
    lstm = registerModule("lstm", LSTM.builder(ROWS, HIDDEN).batchFirst(true).build(gen));
    fc = registerModule("fc", new Linear(HIDDEN, 10, gen));
  }

  /** (N, 784), (N, 28, 28) or (N, 1, 28, 28) images to (N, 10) logits. */
  @Override
  public Tensor forward(Tensor x) {
    try (Tensor rows = x.reshape(x.shape(0), ROWS, ROWS); // (N, T = 28, 28 pixels)
        Tensor out = lstm.forward(rows); // (N, 28, 128)
        Tensor last = out.select(1, ROWS - 1)) { // (N, 128)
      return fc.forward(last);
    }
  }
}
