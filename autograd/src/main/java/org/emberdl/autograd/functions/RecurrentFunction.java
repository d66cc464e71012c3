package org.emberdl.autograd.functions;

import org.emberdl.autograd.Function;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.Recurrent;
import org.emberdl.tensor.Recurrent.Cell;
import org.emberdl.tensor.Recurrent.Trace;

/**
 * One LSTM or GRU layer in one direction over a whole sequence, as one recorded op (the kernels are
 * the tensor engine's, {@link Recurrent}). A function has one output, so the result is packed: (T +
 * stateRows, B, H) with the T outputs, then h_n, then (LSTM) c_n; the layer takes views of it, and
 * the gradients flowing into those views are summed into one gradient of the packed result before
 * this rule runs once.
 *
 * <p>Inputs, in order: x (T, B, I), h0, c0 (null for a GRU or zeros), weight_ih, weight_hh,
 * bias_ih, bias_hh (null without bias).
 */
public final class RecurrentFunction extends Function {
  private final Cell cell;
  private final boolean reverse;
  private final NDArray x;
  private final NDArray wIh;
  private final NDArray wHh;
  private final NDArray valid;
  private final Trace trace;

  private RecurrentFunction(
      Cell cell, Tensor[] inputs, NDArray valid, boolean reverse, Trace forwardTrace) {
    super(cell == Cell.LSTM ? "lstm" : "gru", inputs);
    this.cell = cell;
    this.reverse = reverse;
    this.x = save(inputs[0].data());
    this.wIh = save(inputs[3].data());
    this.wHh = save(inputs[4].data());
    this.valid = valid == null ? null : save(valid);
    try (forwardTrace) {
      this.trace =
          new Trace(
              save(forwardTrace.gates()),
              save(forwardTrace.hPrev()),
              forwardTrace.cPrev() == null ? null : save(forwardTrace.cPrev()),
              forwardTrace.hnb() == null ? null : save(forwardTrace.hnb()));
    }
  }

  /**
   * Runs the layer; the result is the packed (T + stateRows, B, H) tensor.
   *
   * @param valid (T, B) bool mask of existing steps ({@link Recurrent#validMask}), or null
   */
  public static Tensor apply(
      Cell cell,
      Tensor x,
      Tensor h0,
      Tensor c0,
      Tensor wIh,
      Tensor wHh,
      Tensor bIh,
      Tensor bHh,
      NDArray valid,
      boolean reverse) {
    Tensor[] inputs = {x, h0, c0, wIh, wHh, bIh, bHh};
    boolean record = isNeeded(inputs);
    Recurrent.Forward f =
        Recurrent.forward(
            cell,
            x.data(),
            data(h0),
            data(c0),
            wIh.data(),
            wHh.data(),
            data(bIh),
            data(bHh),
            valid,
            reverse,
            record);
    if (!record) {
      return Tensor.of(f.result());
    }
    return new RecurrentFunction(cell, inputs, valid, reverse, f.trace()).output(f.result());
  }

  private static NDArray data(Tensor t) {
    return t == null ? null : t.data();
  }

  @Override
  protected NDArray[] backward(NDArray grad) {
    boolean[] needed = new boolean[7];
    for (int i = 0; i < needed.length; i++) {
      needed[i] = needsGrad(i);
    }
    Recurrent.Gradients g =
        Recurrent.backward(cell, trace, x, wIh, wHh, valid, reverse, grad, needed);
    return new NDArray[] {g.input(), g.h0(), g.c0(), g.wIh(), g.wHh(), g.bIh(), g.bHh()};
  }
}
