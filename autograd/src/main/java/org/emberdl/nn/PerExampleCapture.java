package org.emberdl.nn;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.emberdl.autograd.Function;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.NDArray;

/**
 * Per-example gradient norms without per-example gradients, for {@link Linear} layers: the "ghost
 * norm" identity of Goodfellow ("Efficient Per-Example Gradient Computations", 2015), used by Li et
 * al. ("Large Language Models Can Be Strong Differentially Private Learners", 2022) and Opacus'
 * ghost clipping.
 *
 * <p>For {@code y = x W^T + b} with a 2-D input {@code x (B, in)}, the gradient of example {@code
 * i}'s loss with respect to {@code W} is the outer product {@code delta_i x_i^T}, where {@code
 * delta = dLoss_i / dy (B, out)}; hence
 *
 * <pre>
 *   ||g_W,i||^2 = ||delta_i||^2 ||x_i||^2,     ||g_b,i||^2 = ||delta_i||^2.
 * </pre>
 *
 * Only {@code x} and {@code delta} are needed, {@code O(B (in + out))} memory instead of {@code O(B
 * in out)}.
 *
 * <h2>Mechanism</h2>
 *
 * While a capture is open on the current thread ({@link #open()}), {@link Linear#forward} with a
 * 2-D input and grad mode on records its op as a {@code CapturedLinear} function: the same values
 * and the same gradients as the ordinary {@code matmul} + {@code add} graph, but the function keeps
 * the layer's input and, while the capture is {@linkplain #setRecording recording}, takes a copy of
 * the gradient flowing into the layer's output (its {@code delta}) when backward reaches it. While
 * recording, the function computes no parameter gradients at all (the first backward pass of ghost
 * clipping only needs the deltas, so it costs about half a backward pass); with recording off it
 * behaves exactly as the ordinary graph. Nothing in the autograd engine changes: the function is an
 * ordinary {@link Function}.
 *
 * <p>Backpropagating a <em>sum</em> of per-example losses with recording on then gives, by {@link
 * #perExampleSquaredNorms()}, every example's squared gradient norm over all captured layers. That
 * equals the squared norm of the example's whole gradient only when every parameter of the model
 * belongs to a Linear layer called exactly once on a 2-D input, and the model treats the examples
 * of a batch independently (no batch norm): {@link #coversAllParameters(Module)} checks the first
 * part.
 *
 * <p>A capture owns what it records; close it (it also stops capturing on this thread). Captures do
 * not nest.
 */
public final class PerExampleCapture implements AutoCloseable {
  private static final ThreadLocal<PerExampleCapture> CURRENT = new ThreadLocal<>();

  private final List<Record> records = new ArrayList<>();
  private boolean recording;
  private boolean unsupported;
  private String unsupportedReason;
  private boolean closed;

  /** One call of a Linear layer: its input and, once backward has run, its output gradient. */
  private static final class Record {
    final Linear layer;
    final NDArray input;
    NDArray delta;

    Record(Linear layer, NDArray input) {
      this.layer = layer;
      this.input = input;
    }
  }

  private PerExampleCapture() {}

  /** Starts capturing Linear calls on this thread (recording off). */
  public static PerExampleCapture open() {
    if (CURRENT.get() != null) {
      throw new IllegalStateException("a PerExampleCapture is already open on this thread");
    }
    PerExampleCapture c = new PerExampleCapture();
    CURRENT.set(c);
    return c;
  }

  /** The capture open on this thread, or null. */
  static PerExampleCapture current() {
    return CURRENT.get();
  }

  /**
   * While recording, captured layers copy their output gradients and compute no parameter
   * gradients; otherwise they backpropagate as ordinary layers.
   */
  public void setRecording(boolean value) {
    this.recording = value;
  }

  public boolean isRecording() {
    return recording;
  }

  /** The forward pass of a Linear layer under this capture. */
  Tensor linear(Linear layer, Tensor input) {
    if (input.ndim() != 2 || !Function.isNeeded(input, layer.weight(), layer.bias())) {
      if (input.ndim() != 2) {
        markUnsupported("Linear called on an input of " + input.ndim() + " dims, not (B, in)");
      }
      return Linear.linear(input, layer.weight(), layer.bias());
    }
    Record r = new Record(layer, input.data().share());
    records.add(r);
    return new CapturedLinear(this, r, input, layer.weight(), layer.bias()).run();
  }

  private void markUnsupported(String reason) {
    if (!unsupported) {
      unsupported = true;
      unsupportedReason = reason;
    }
  }

  /**
   * Null when the ghost norms of this capture are the norms of the whole per-example gradients of
   * {@code module}: every parameter belongs to a {@code Linear} (exactly that class) called exactly
   * once on a 2-D input during the capture. Otherwise the reason they are not.
   */
  public String coversAllParameters(Module module) {
    if (unsupported) {
      return unsupportedReason;
    }
    Map<Linear, Integer> calls = new IdentityHashMap<>();
    for (Record r : records) {
      calls.merge(r.layer, 1, Integer::sum);
    }
    return check(module, calls);
  }

  private static String check(Module m, Map<Linear, Integer> calls) {
    if (m instanceof Linear lin && m.getClass() == Linear.class) {
      int n = calls.getOrDefault(lin, 0);
      return n == 1 ? null : "a Linear layer was called " + n + " times, not once";
    }
    boolean ownParams = false;
    for (Map.Entry<String, Parameter> e : m.namedParameters().entrySet()) {
      if (!e.getKey().contains(".")) {
        ownParams = true;
        break;
      }
    }
    if (ownParams) {
      return m.getClass().getSimpleName() + " has parameters and no ghost-norm rule";
    }
    for (Module child : m.children().values()) {
      String reason = check(child, calls);
      if (reason != null) {
        return reason;
      }
    }
    return null;
  }

  /**
   * Each example's squared gradient norm summed over the captured layers, from the deltas recorded
   * by the last backward pass with recording on.
   *
   * @throws IllegalStateException when a captured layer has received no gradient
   */
  public double[] perExampleSquaredNorms() {
    double[] total = null;
    for (Record r : records) {
      if (r.delta == null) {
        throw new IllegalStateException(
            "no gradient was recorded for " + r.layer + ": run backward with recording on");
      }
      double[] dsq;
      double[] xsq;
      try (NDArray d2 = r.delta.square();
          NDArray ds = d2.sum(new int[] {1}, false);
          NDArray x2 = r.input.square();
          NDArray xs = x2.sum(new int[] {1}, false)) {
        dsq = ds.toDoubleArray();
        xsq = xs.toDoubleArray();
      }
      if (total == null) {
        total = new double[dsq.length];
      }
      double biasTerm = r.layer.bias() != null ? 1 : 0;
      for (int i = 0; i < dsq.length; i++) {
        total[i] += dsq[i] * (xsq[i] + biasTerm);
      }
    }
    return total == null ? new double[0] : total;
  }

  /** Stops capturing on this thread and releases what was recorded. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (CURRENT.get() == this) {
      CURRENT.remove();
    }
    for (Record r : records) {
      r.input.close();
      if (r.delta != null) {
        r.delta.close();
      }
    }
    records.clear();
  }

  /**
   * {@code y = x W^T + b} as one op: the gradients of {@code matmul} and {@code add}, plus the
   * recording described on the class.
   */
  private static final class CapturedLinear extends Function {
    private final PerExampleCapture capture;
    private final Record record;
    private final NDArray x;
    private final NDArray w;
    private final Tensor bias;

    CapturedLinear(PerExampleCapture capture, Record record, Tensor x, Tensor w, Tensor b) {
      super("linear", x, w, b);
      this.capture = capture;
      this.record = record;
      this.x = save(x.data());
      this.w = save(w.data());
      this.bias = b;
    }

    Tensor run() {
      NDArray y;
      try (NDArray wt = w.t()) {
        y = x.matmul(wt);
      }
      if (bias != null) {
        try (NDArray yb = y) {
          y = yb.add(bias.data());
        }
      }
      return output(y);
    }

    @Override
    protected NDArray[] backward(NDArray grad) {
      boolean rec = capture.recording && !capture.closed;
      if (rec) {
        if (record.delta != null) {
          record.delta.close();
        }
        record.delta = grad.copy();
      }
      NDArray gx = null;
      NDArray gw = null;
      NDArray gb = null;
      if (needsGrad(0)) {
        gx = grad.matmul(w);
      }
      if (!rec && needsGrad(1)) {
        try (NDArray gt = grad.t()) {
          gw = gt.matmul(x);
        }
      }
      if (!rec && bias != null && needsGrad(2)) {
        gb = grad.sum(new int[] {0}, false);
      }
      return new NDArray[] {gx, gw, gb};
    }

    @Override
    public String toString() {
      return "CapturedLinearBackward(" + w.shape(1) + " -> " + w.shape(0) + ")";
    }
  }
}
