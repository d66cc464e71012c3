package org.emberdl.tensor;

import java.util.Arrays;

/**
 * One recurrent layer in one direction over a whole sequence, on {@link NDArray}s and without
 * autograd (the autograd function calls these, as conv2d calls {@link Convolution}), with PyTorch's
 * {@code nn.LSTM}/{@code nn.GRU} semantics: gate order i, f, g, o (LSTM) and r, z, n (GRU), the
 * reset gate applied to {@code W_hn h + b_hn}.
 *
 * <p>The work is arranged so that nearly all of it is GEMM: the input projection of every time step
 * and every gate is one GEMM ({@code x} viewed as {@code (T * B, I)} times {@code W_ih^T}); each
 * step adds one GEMM of {@code h W_hh^T} over all gates and one fused pass of gate math ({@link
 * Backend#lstmCell}). Backward runs the steps in reverse with one GEMM per step for the gradient
 * reaching the previous state, and forms every weight, bias and input gradient at the end with one
 * GEMM (or one sum) over all steps, from the gate gradients kept per step.
 *
 * <p>Variable lengths: {@code valid} (T, B) marks the steps that exist ({@link #validMask}); a row
 * past its sequence's end keeps its state and outputs 0, so a forward layer's final state is the
 * state at each sequence's own last step and a reverse layer starts there, as PyTorch's packed
 * sequences ({@code pack_padded_sequence}) give.
 *
 * <p>Every array is time-major: {@code x} is (T, B, I). Results are allocated in the current {@link
 * MemoryScope}; every intermediate is freed before returning.
 */
public final class Recurrent {
  private Recurrent() {}

  /** The kinds of cell, with their number of gates. */
  public enum Cell {
    LSTM(4),
    GRU(3);

    private final int gates;

    Cell(int gates) {
      this.gates = gates;
    }

    /** Gates per hidden unit (the rows of {@code W_ih} are {@code gates() * H}). */
    public int gates() {
      return gates;
    }

    /** Rows of the packed result after the T output rows: h_n, and c_n for an LSTM. */
    public int stateRows() {
      return this == LSTM ? 2 : 1;
    }
  }

  /**
   * What the forward pass keeps for the backward pass: the activated gates (T, B, G * H), the state
   * each step started from, time-indexed (T, B, H), its cell state for an LSTM ({@code cPrev}, else
   * null) and {@code W_hn h + b_hn} for a GRU ({@code hnb}, else null). Closing frees all of them.
   */
  public record Trace(NDArray gates, NDArray hPrev, NDArray cPrev, NDArray hnb)
      implements AutoCloseable {
    @Override
    public void close() {
      closeAll(gates, hPrev, cPrev, hnb);
    }
  }

  /**
   * The packed result of {@link #forward}: {@code result} is (T + {@link Cell#stateRows()}, B, H)
   * holding the outputs of steps 0..T-1, then h_n, then (LSTM) c_n; {@code trace} is null unless
   * asked for.
   */
  public record Forward(NDArray result, Trace trace) {}

  /** Gradients of {@link #backward}; an entry is null where it was not asked for. */
  public record Gradients(
      NDArray input, NDArray h0, NDArray c0, NDArray wIh, NDArray wHh, NDArray bIh, NDArray bHh) {}

  /**
   * A bool (T, B) mask with {@code mask[t][b] = t < lengths[b]}.
   *
   * @throws IllegalArgumentException when a length is outside [1, steps], naming the sequence
   */
  public static NDArray validMask(int[] lengths, int steps) {
    boolean[] m = new boolean[steps * lengths.length];
    for (int b = 0; b < lengths.length; b++) {
      if (lengths[b] < 1 || lengths[b] > steps) {
        throw new IllegalArgumentException(
            "length of sequence "
                + b
                + " is "
                + lengths[b]
                + "; lengths must be in [1, "
                + steps
                + "] (the number of time steps)");
      }
      for (int t = 0; t < lengths[b]; t++) {
        m[t * lengths.length + b] = true;
      }
    }
    return NDArray.of(m, steps, lengths.length);
  }

  /**
   * Runs one layer in one direction over the sequence.
   *
   * @param x (T, B, I) float32 or float64
   * @param h0 (B, H), or null for zeros
   * @param c0 (B, H) for an LSTM (null for zeros); must be null for a GRU
   * @param wIh (G * H, I)
   * @param wHh (G * H, H)
   * @param bIh (G * H), or null
   * @param bHh (G * H), or null
   * @param valid (T, B) bool, or null when every sequence has T steps
   * @param reverse run from the last step to the first
   * @param keepTrace keep what {@link #backward} needs
   * @throws IllegalArgumentException naming the array when shapes, dtypes or devices do not fit
   */
  public static Forward forward(
      Cell cell,
      NDArray x,
      NDArray h0,
      NDArray c0,
      NDArray wIh,
      NDArray wHh,
      NDArray bIh,
      NDArray bHh,
      NDArray valid,
      boolean reverse,
      boolean keepTrace) {
    Dims d = Dims.check(cell, x, h0, c0, wIh, wHh, bIh, bHh, valid);
    int steps = d.steps;
    int batch = d.batch;
    int hidden = d.hidden;
    int g = d.gateWidth;
    DType dt = x.dtype();
    Device dev = x.device();
    Backend be = x.backend();
    boolean lstm = cell == Cell.LSTM;
    NDArray result = NDArray.empty(dt, dev, steps + cell.stateRows(), batch, hidden);
    // Without a trace, the per-step buffers need only the current step (two state slots).
    int traceSteps = keepTrace ? steps : 1;
    int stateSlots = keepTrace ? steps : 2;
    NDArray gates = null;
    NDArray hPrev = null;
    NDArray cPrev = null;
    NDArray hnb = null;
    try (NDArray xc = contiguous(x);
        NDArray wIhT = wIh.transpose(0, 1);
        NDArray wHhT = wHh.transpose(0, 1);
        // W_hh^T copied row-major once per call: OpenBLAS's NoTrans path is ~20% faster than
        // reading a transposed view in each of the T step GEMMs (measured at 128x128x512)
        NDArray w2 = wHhT.contiguous();
        NDArray x2 = xc.view(steps * batch, d.inputSize);
        NDArray xg = x2.matmul(wIhT);
        NDArray hg = NDArray.empty(dt, dev, batch, g)) {
      gates = NDArray.empty(dt, dev, traceSteps, batch, g);
      hPrev = NDArray.empty(dt, dev, stateSlots, batch, hidden);
      cPrev = lstm ? NDArray.empty(dt, dev, stateSlots, batch, hidden) : null;
      hnb = lstm ? null : NDArray.empty(dt, dev, traceSteps, batch, hidden);
      int first = reverse ? steps - 1 : 0;
      int firstSlot = keepTrace ? first : 0;
      initState(row(hPrev, firstSlot), h0);
      if (lstm) {
        initState(row(cPrev, firstSlot), c0);
      }
      NDArray bi = bIh == null ? null : contiguous(bIh);
      NDArray bh = bHh == null ? null : contiguous(bHh);
      try {
        for (int s = 0; s < steps; s++) {
          int t = reverse ? steps - 1 - s : s;
          int in = keepTrace ? t : s % 2;
          boolean last = s == steps - 1;
          int tNext = reverse ? t - 1 : t + 1;
          int out = keepTrace ? tNext : (s + 1) % 2;
          NDArray hIn = row(hPrev, in);
          be.matmul(hIn, w2, hg);
          NDArray xgt = rowOfFlat(xg, t, batch);
          NDArray vt = valid == null ? null : row(valid, t);
          NDArray gt = row(gates, keepTrace ? t : 0);
          NDArray hOut = last ? row(result, steps) : row(hPrev, out);
          if (lstm) {
            NDArray cOut = last ? row(result, steps + 1) : row(cPrev, out);
            be.lstmCell(xgt, hg, bi, bh, hIn, row(cPrev, in), vt, gt, hOut, cOut, row(result, t));
          } else {
            NDArray nb = row(hnb, keepTrace ? t : 0);
            be.gruCell(xgt, hg, bi, bh, hIn, vt, gt, nb, hOut, row(result, t));
          }
        }
      } finally {
        if (bi != null) {
          bi.close();
        }
        if (bh != null) {
          bh.close();
        }
      }
      if (!keepTrace) {
        closeAll(gates, hPrev, cPrev, hnb);
        return new Forward(result, null);
      }
      return new Forward(result, new Trace(gates, hPrev, cPrev, hnb));
    } catch (RuntimeException | Error e) {
      closeAll(result, gates, hPrev, cPrev, hnb);
      throw e;
    }
  }

  /**
   * The gradients of one {@link #forward} given the gradient of its packed result.
   *
   * @param trace what the forward pass kept (not closed here)
   * @param grad the gradient of the packed result, (T + stateRows, B, H)
   * @param needed which of (input, h0, c0, wIh, wHh, bIh, bHh) to compute
   */
  public static Gradients backward(
      Cell cell,
      Trace trace,
      NDArray x,
      NDArray wIh,
      NDArray wHh,
      NDArray valid,
      boolean reverse,
      NDArray grad,
      boolean[] needed) {
    boolean lstm = cell == Cell.LSTM;
    int steps = x.shape(0);
    int batch = x.shape(1);
    int inputSize = x.shape(2);
    int hidden = wHh.shape(1);
    int g = cell.gates() * hidden;
    DType dt = x.dtype();
    Device dev = x.device();
    Backend be = x.backend();
    NDArray gIn = null;
    NDArray gH0 = null;
    NDArray gC0 = null;
    NDArray gWIh = null;
    NDArray gWHh = null;
    NDArray gBIh = null;
    NDArray gBHh = null;
    try (NDArray gc = contiguous(grad);
        NDArray wc = contiguous(wHh);
        NDArray gatesX = NDArray.empty(dt, dev, steps, batch, g);
        NDArray gatesH = lstm ? gatesX.share() : NDArray.empty(dt, dev, steps, batch, g);
        NDArray carry = row(gc, steps).copy();
        NDArray dC = lstm ? row(gc, steps + 1).copy() : null;
        NDArray rec = NDArray.empty(dt, dev, batch, hidden)) {
      boolean haveRec = false;
      for (int s = 0; s < steps; s++) {
        // the forward pass's steps, last first
        int t = reverse ? s : steps - 1 - s;
        NDArray vt = valid == null ? null : row(valid, t);
        NDArray gOut = row(gc, t);
        NDArray r = haveRec ? rec : null;
        if (lstm) {
          be.lstmCellBackward(
              row(trace.gates(), t), row(trace.cPrev(), t), vt, gOut, r, carry, dC, row(gatesX, t));
        } else {
          be.gruCellBackward(
              row(trace.gates(), t),
              row(trace.hnb(), t),
              row(trace.hPrev(), t),
              vt,
              gOut,
              r,
              carry,
              row(gatesX, t),
              row(gatesH, t));
        }
        if (s < steps - 1 || needed[1]) {
          // the gradient reaching this step's starting state through W_hh
          be.matmul(row(gatesH, t), wc, rec);
          haveRec = true;
        }
      }
      if (needed[1]) {
        gH0 = carry.add(rec);
      }
      if (lstm && needed[2]) {
        gC0 = dC.copy();
      }
      try (NDArray gx2 = gatesX.view(steps * batch, g);
          NDArray gh2 = gatesH.view(steps * batch, g)) {
        if (needed[0]) {
          try (NDArray flat = gx2.matmul(wIh)) {
            gIn = flat.reshape(steps, batch, inputSize);
          }
        }
        if (needed[3]) {
          try (NDArray xc = contiguous(x);
              NDArray x2 = xc.view(steps * batch, inputSize);
              NDArray gxT = gx2.transpose(0, 1)) {
            gWIh = gxT.matmul(x2);
          }
        }
        if (needed[4]) {
          try (NDArray h2 = trace.hPrev().view(steps * batch, hidden);
              NDArray ghT = gh2.transpose(0, 1)) {
            gWHh = ghT.matmul(h2);
          }
        }
        if (needed[5] || needed[6]) {
          // a column sum as a GEMV with ones: the reduction kernels' strided column sum was
          // almost half of an LSTM step
          try (NDArray ones = NDArray.full(dt, dev, 1, steps * batch)) {
            gBIh = needed[5] ? ones.matmul(gx2) : null;
            gBHh = needed[6] ? ones.matmul(gh2) : null;
          }
        }
      }
      return new Gradients(gIn, gH0, gC0, gWIh, gWHh, gBIh, gBHh);
    } catch (RuntimeException | Error e) {
      closeAll(gIn, gH0, gC0, gWIh, gWHh, gBIh, gBHh);
      throw e;
    }
  }

  /** The shapes of one call, checked. */
  private record Dims(int steps, int batch, int inputSize, int hidden, int gateWidth) {
    static Dims check(
        Cell cell,
        NDArray x,
        NDArray h0,
        NDArray c0,
        NDArray wIh,
        NDArray wHh,
        NDArray bIh,
        NDArray bHh,
        NDArray valid) {
      if (x.ndim() != 3 || !x.dtype().isFloatingPoint()) {
        throw new IllegalArgumentException(
            cell
                + " input must be a float32/float64 (time, batch, features) array, got "
                + describe(x));
      }
      int steps = x.shape(0);
      int batch = x.shape(1);
      int inputSize = x.shape(2);
      if (steps == 0 || batch == 0) {
        throw new IllegalArgumentException(
            cell + " input needs at least one time step and one sequence, got " + describe(x));
      }
      if (wHh.ndim() != 2 || wHh.shape(0) % cell.gates() != 0) {
        throw new IllegalArgumentException(
            cell + " weight_hh must be (" + cell.gates() + " * H, H), got " + describe(wHh));
      }
      int hidden = wHh.shape(1);
      int g = cell.gates() * hidden;
      expect(cell, "weight_hh", wHh, x, g, hidden);
      expect(cell, "weight_ih", wIh, x, g, inputSize);
      if (bIh != null) {
        expect(cell, "bias_ih", bIh, x, g);
      }
      if (bHh != null) {
        expect(cell, "bias_hh", bHh, x, g);
      }
      if (h0 != null) {
        expect(cell, "h0", h0, x, batch, hidden);
      }
      if (c0 != null) {
        if (cell != Cell.LSTM) {
          throw new IllegalArgumentException("a GRU has no cell state; c0 must be null");
        }
        expect(cell, "c0", c0, x, batch, hidden);
      }
      if (valid != null
          && (valid.dtype() != DType.BOOL
              || !Arrays.equals(valid.shape(), new int[] {steps, batch})
              || !valid.isContiguous())) {
        throw new IllegalArgumentException(
            cell
                + " valid mask must be a contiguous bool ("
                + steps
                + ", "
                + batch
                + ") array, got "
                + describe(valid));
      }
      return new Dims(steps, batch, inputSize, hidden, g);
    }

    private static void expect(Cell cell, String name, NDArray a, NDArray x, int... shape) {
      if (!Arrays.equals(a.shape(), shape)
          || a.dtype() != x.dtype()
          || !a.device().equals(x.device())) {
        throw new IllegalArgumentException(
            cell
                + " "
                + name
                + " must be "
                + x.dtype()
                + Shape.toString(shape)
                + " on "
                + x.device()
                + " to match the input "
                + describe(x)
                + ", got "
                + describe(a));
      }
    }

    private static String describe(NDArray a) {
      return a.dtype() + Shape.toString(a.shape()) + " on " + a.device();
    }
  }

  /** Row {@code i} of a contiguous array along dim 0, as an untracked view for one kernel call. */
  private static NDArray row(NDArray a, int i) {
    return a.borrow(a.layout().slice(0, i, i + 1, 1).squeeze(0));
  }

  /** Rows {@code [t * batch, (t + 1) * batch)} of a contiguous 2-D array, untracked. */
  private static NDArray rowOfFlat(NDArray a, int t, int batch) {
    return a.borrow(a.layout().slice(0, t * batch, (t + 1) * batch, 1));
  }

  private static NDArray contiguous(NDArray a) {
    return a.isContiguous() ? a.share() : a.contiguous();
  }

  private static void initState(NDArray slot, NDArray init) {
    if (init == null) {
      slot.backend().fill(slot, 0);
    } else {
      slot.backend().copy(init, slot);
    }
  }

  private static void closeAll(NDArray... arrays) {
    for (NDArray a : arrays) {
      if (a != null) {
        a.close();
      }
    }
  }
}
