package org.emberdl.nn;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.emberdl.autograd.Function;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.Convolution;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.NDArray;

/**
 * Per-example gradient norms without a backward pass per example, for {@link Linear}, {@link
 * LayerNorm} and {@link Conv2d} layers: the "ghost norm" identity of Goodfellow ("Efficient
 * Per-Example Gradient Computations", 2015), used by Li et al. ("Large Language Models Can Be
 * Strong Differentially Private Learners", 2022) and Opacus' ghost clipping, and for convolutions
 * the per-layer choice between ghost norms and per-example gradients of Bu et al.'s mixed ghost
 * clipping ("Scalable and Efficient Training of Large Convolutional Neural Networks with
 * Differential Privacy", 2022).
 *
 * <h2>Linear</h2>
 *
 * For {@code y = x W^T + b} with a 2-D input {@code x (B, in)}, the gradient of example {@code i}'s
 * loss with respect to {@code W} is the outer product {@code delta_i x_i^T}, where {@code delta =
 * dLoss_i / dy (B, out)}; hence
 *
 * <pre>
 *   ||g_W,i||^2 = ||delta_i||^2 ||x_i||^2,     ||g_b,i||^2 = ||delta_i||^2.
 * </pre>
 *
 * On a sequence {@code x (B, T, in)} the gradient sums over positions, {@code g_W,i = D_i^T X_i}
 * with {@code D_i (T, out)} and {@code X_i (T, in)}, and {@code ||g_W,i||^2 = <X_i X_i^T, D_i
 * D_i^T>_F} (two {@code T x T} Gram matrices, {@code 2 T^2 (in + out)} flops per example), or, when
 * cheaper ({@link #ghostIsCheaper} with {@code K = in}, {@code O = out}) and within {@link
 * #KEEP_BUDGET_BYTES}, {@code g_W,i} materialised by one batched GEMM; {@code ||g_b,i||^2 = ||sum_t
 * D_i[t]||^2}.
 *
 * <h2>LayerNorm</h2>
 *
 * {@code y = xhat * weight + bias} with {@code xhat} the normalised input: example {@code i}'s
 * gradients are {@code g_weight,i = sum_p dy_i[p] * xhat_i[p]} and {@code g_bias,i = sum_p dy_i[p]}
 * over its positions {@code p} (the dims between the batch and the normalized ones), a few
 * elementwise passes; the normalisation itself has no parameters and runs as LayerNorm's op.
 *
 * <h2>Conv2d</h2>
 *
 * A convolution is a GEMM on unfolded input: with {@code A_i} the im2col of example {@code i}'s
 * input ({@code K x T}, {@code K = Cin/groups * kh * kw}, {@code T = outH * outW} output positions)
 * and {@code D_i} its output gradient ({@code Cout/groups x T}) per group, {@code g_W,i = D_i
 * A_i^T} and {@code g_b,i = sum_t D_i[:, t]}. The weight norm is taken one of two ways, chosen per
 * layer by cost ({@link #ghostIsCheaper}):
 *
 * <ul>
 *   <li><b>ghost</b>: {@code ||g_W,i||^2 = <A_i^T A_i, D_i^T D_i>_F}, two {@code T x T} Gram
 *       matrices, {@code 2 T^2 (K + Cout)} flops per example (when {@code T} is small: late layers,
 *       strided layers, many channels);
 *   <li><b>per-example</b>: {@code g_W,i} materialised by one batched GEMM, {@code 2 T Cout K}
 *       flops per example, then its squared norm. The per-example gradients are kept (within {@link
 *       #KEEP_BUDGET_BYTES}) so that the second backward pass of ghost clipping can form the
 *       layer's clipped sum {@code sum_i c_i g_W,i} by one small GEMM instead of recomputing the
 *       weight gradient ({@link #setExampleWeights}).
 * </ul>
 *
 * Both are batched GEMMs through the engine ({@link Convolution#conv2dPerSampleWeightGrads}, {@link
 * Convolution#conv2dPerSampleWeightGradSquaredNorms}); the bias term is {@code ||sum_t D_i[:,
 * t]||^2}. Every stride, padding, dilation and group count that {@link Conv2d} accepts is covered
 * (per group: the norms of the groups' blocks add); an unbatched (3-D) input is not (it marks the
 * capture unsupported).
 *
 * <h2>Attention models</h2>
 *
 * <ul>
 *   <li>{@link MultiheadAttention} as self-attention (query, key and value the same tensor,
 *       batch-first or not, fused op or not): its packed {@code in_proj} is a Linear on {@code (B,
 *       T, E)} and takes the rule above, recorded for the attention module; {@code out_proj} is a
 *       Linear child. Cross-attention marks the capture unsupported.
 *   <li>{@link ClsToken} ({@code cat(token, x)} along positions): example {@code i}'s gradient is
 *       {@code dy_i[0, :]}.
 *   <li>{@link LearnedPositionalEmbedding} ({@code x + weight[:T]}): example {@code i}'s gradient
 *       is {@code dy_i (T, d)} padded with zero rows, so its squared norm is {@code ||dy_i||^2}.
 *   <li>{@link Embedding} and {@link TokenEmbedding}: example {@code i}'s gradient scatter-adds
 *       {@code dy_i}'s rows by id (the padding row gets none), so {@code ||g_i||^2 = sum_{t, s :
 *       id_t == id_s != pad} <dy_it, dy_is>}; taken as the norm of the rows summed per id.
 * </ul>
 *
 * The last three record through a pass-through op on the parameter's per-example contribution
 * ({@link #tap}): while recording, it stores the norms and sends no gradient on. Recurrent layers
 * (LSTM, GRU) have no rule: their models take DP-SGD's fallback.
 *
 * <h2>Mechanism</h2>
 *
 * While a capture is open on the current thread ({@link #open()}), {@link Linear#forward} with a
 * 2-D or 3-D input and {@link Conv2d#forward} with a 4-D input, grad mode on, record their op as a
 * captured function: the same values and the same gradients as the ordinary graph, but while the
 * capture is {@linkplain #setRecording recording}, backward computes the layer's per-example
 * squared gradient norms from the gradient flowing into its output and computes no parameter
 * gradients at all (the first backward pass of ghost clipping only needs the norms). With recording
 * off the functions behave exactly as the ordinary graph, unless {@linkplain #setExampleWeights
 * example weights} were declared. Nothing in the autograd engine changes: the functions are
 * ordinary {@link Function}s.
 *
 * <p>Backpropagating a <em>sum</em> of per-example losses with recording on then gives, by {@link
 * #perExampleSquaredNorms()}, every example's squared gradient norm over all captured layers. That
 * equals the squared norm of the example's whole gradient only when every parameter of the model
 * belongs to a layer with a rule called exactly once (Linear on a 2-D or 3-D input, Conv2d on a 4-D
 * one, MultiheadAttention as self-attention), and the model treats the examples of a batch
 * independently (no batch norm; attention masks are per example): {@link
 * #coversAllParameters(Module)} checks the first part. Parameter-free layers in between (ReLU,
 * Tanh, pooling, Flatten, Dropout, Patchify, sinusoidal positions, ClsPool, MeanPool, LastStep,
 * ...) need no rule.
 *
 * <p>A capture owns what it records; close it (it also stops capturing on this thread). Captures do
 * not nest.
 */
public final class PerExampleCapture implements AutoCloseable {
  /**
   * The most memory the per-example convolution gradients kept for the second pass may take, over
   * all layers of one capture (beyond it, the second pass recomputes the layer's weight gradient).
   */
  public static final long KEEP_BUDGET_BYTES = 256L << 20;

  private static final ThreadLocal<PerExampleCapture> CURRENT = new ThreadLocal<>();

  /** How a Conv2d layer's per-example weight-gradient norms are taken. */
  public enum ConvNormMethod {
    /** Per layer, whichever costs fewer flops ({@link #ghostIsCheaper}). */
    AUTO,
    /** Always from the two Gram matrices. */
    GHOST,
    /** Always by materialising each example's weight gradient. */
    PER_EXAMPLE
  }

  private final List<Record> records = new ArrayList<>();
  private boolean recording;
  private boolean unsupported;
  private String unsupportedReason;
  private boolean closed;
  private ConvNormMethod convNormMethod = ConvNormMethod.AUTO;
  private double[] exampleWeights;
  private long keptBytes;

  /** One call of a captured layer and, once a recording backward has run, its norms. */
  private static final class Record {
    final Module layer;
    final boolean ghost;
    double[] squaredNorms;

    /** Conv2d per-example path: the (B, O, C/G, kh, kw) weight gradients, or null. */
    NDArray perExampleGrads;

    Record(Module layer, boolean ghost) {
      this.layer = layer;
      this.ghost = ghost;
    }

    void releaseGrads(PerExampleCapture owner) {
      if (perExampleGrads != null) {
        owner.keptBytes -= perExampleGrads.numel() * perExampleGrads.dtype().byteSize();
        perExampleGrads.close();
        perExampleGrads = null;
      }
    }
  }

  private PerExampleCapture() {}

  /** Starts capturing the calls of layers with a norm rule on this thread (recording off). */
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
   * While recording, captured layers compute their per-example gradient norms and no parameter
   * gradients; otherwise they backpropagate as ordinary layers.
   */
  public void setRecording(boolean value) {
    this.recording = value;
  }

  public boolean isRecording() {
    return recording;
  }

  /**
   * How Conv2d layers called from now on take their weight norms ({@link ConvNormMethod#AUTO} by
   * default; the others are for tests and measurements).
   */
  public void setConvNormMethod(ConvNormMethod method) {
    this.convNormMethod = java.util.Objects.requireNonNull(method, "method");
  }

  /**
   * Declares that the next backward passes with recording off are seeded with {@code weights[i]} on
   * example {@code i}'s losses: they backpropagate {@code sum_i weights[i] loss_i} (the second pass
   * of ghost clipping, with the clip factors). Conv2d layers that kept their per-example weight
   * gradients in the recording pass then form their weight gradient as {@code sum_i weights[i]
   * g_W,i} by one GEMM, without recomputing it; the result is the same. Null clears it.
   *
   * @throws IllegalArgumentException when the length is not the batch size of the recording pass
   */
  public void setExampleWeights(double[] weights) {
    if (weights != null) {
      for (Record r : records) {
        if (r.squaredNorms != null && r.squaredNorms.length != weights.length) {
          throw new IllegalArgumentException(
              weights.length
                  + " example weights for a batch of "
                  + r.squaredNorms.length
                  + " examples");
        }
      }
    }
    this.exampleWeights = weights == null ? null : weights.clone();
  }

  /**
   * True when the ghost norm of a convolution costs fewer flops than materialising each example's
   * weight gradient: {@code 2 T^2 (K + O) < 2 T O K}, i.e. {@code T (K + O) < O K}, per group, with
   * {@code T} output positions, {@code K = Cin/groups * kh * kw} and {@code O = Cout/groups}. This
   * implies Opacus' memory rule {@code 2 T^2 <= O K} (the Gram matrices are no larger than the
   * per-example gradient), since {@code O K / (K + O)} is at most half of {@code sqrt(O K)}.
   */
  public static boolean ghostIsCheaper(long positions, long k, long outPerGroup) {
    return positions * (k + outPerGroup) < outPerGroup * k;
  }

  /** The forward pass of a Linear layer under this capture. */
  Tensor linear(Linear layer, Tensor input) {
    return linear(layer, input, layer.weight(), layer.bias());
  }

  /**
   * {@code input W^T + b} under this capture, recorded for {@code layer} (a Linear, or the module
   * owning a packed projection: MultiheadAttention's in_proj).
   */
  Tensor linear(Module layer, Tensor input, Tensor weight, Tensor bias) {
    boolean shaped = input.ndim() == 2 || input.ndim() == 3;
    if (!shaped || !Function.isNeeded(input, weight, bias)) {
      if (!shaped) {
        markUnsupported(
            layer.getClass().getSimpleName()
                + " called on an input of "
                + input.ndim()
                + " dims, not (B, in) or (B, T, in)");
      }
      return Linear.linear(input, weight, bias);
    }
    boolean ghost = true;
    if (input.ndim() == 3) {
      long t = input.shape(1);
      long in = input.shape(2);
      long out = weight.shape(0);
      long perExampleBytes = (long) input.shape(0) * in * out * weight.dtype().byteSize();
      ghost = ghostIsCheaper(t, in, out) || perExampleBytes > KEEP_BUDGET_BYTES;
    }
    Record r = new Record(layer, ghost);
    records.add(r);
    return new CapturedLinear(this, r, input, weight, bias).run();
  }

  /**
   * MultiheadAttention's packed in_proj on a self-attention input {@code (B, T, E)}: the same rule
   * as a Linear on a sequence, recorded for the attention module.
   */
  Tensor selfAttentionProjection(
      MultiheadAttention layer, Tensor input, Tensor weight, Tensor bias) {
    return linear(layer, input, weight, bias);
  }

  /**
   * Cross-attention (separate query, key and value): example {@code i}'s in_proj gradient mixes
   * three inputs through three blocks of one parameter, for which there is no rule here.
   */
  void crossAttention(MultiheadAttention layer) {
    markUnsupported(
        layer
            + " was called as cross-attention (query, key and value not the same tensor):"
            + " no ghost-norm rule for its in_proj blocks, only for self-attention");
  }

  /**
   * {@code layer} was called on one unbatched sequence (its first dim positions, not examples): the
   * examples of a batch are then not independent, and there is no per-example rule.
   */
  void unbatched(Module layer) {
    markUnsupported(
        layer + " was called on an unbatched (T, d) input: no per-example gradients of a batch");
  }

  /**
   * A parameter's contribution to a batch, {@code contribution (B, ...)} (the parameter broadcast
   * or gathered per example), passed through unchanged; while recording, its backward takes example
   * {@code i}'s squared gradient norm from the gradient reaching it by {@code norms} and sends
   * nothing on to the parameter.
   */
  Tensor tap(Module layer, Tensor contribution, TapNorms norms) {
    if (contribution.ndim() == 0 || !Function.isNeeded(contribution)) {
      if (contribution.ndim() == 0) {
        markUnsupported(layer + " was called without a batch dimension");
      }
      return Identity.of(contribution);
    }
    Record r = new Record(layer, true);
    records.add(r);
    return new Tap(this, r, contribution, norms).run();
  }

  /**
   * The squared norms {@code ||g_i||^2} of the examples' parameter gradients, given the gradient
   * {@code (B, ...)} reaching a {@link #tap}.
   */
  @FunctionalInterface
  interface TapNorms {
    double[] of(NDArray grad);
  }

  /**
   * ClsToken: output {@code cat(token, x)} along positions, so example {@code i}'s token gradient
   * is its output gradient at position 0, {@code dy_i[0, :]}: the tap on the token expanded to
   * {@code (B, 1, d)} takes its row norms.
   */
  Tensor clsToken(ClsToken layer, Tensor expandedToken) {
    return tap(layer, expandedToken, PerExampleCapture::rowSquares);
  }

  /**
   * LearnedPositionalEmbedding: {@code x + weight[:T]}, so example {@code i}'s weight gradient is
   * {@code dy_i (T, d)} padded with zero rows; its squared norm is {@code ||dy_i||^2}.
   */
  Tensor positions(LearnedPositionalEmbedding layer, Tensor rowsPerExample) {
    return tap(layer, rowsPerExample, PerExampleCapture::rowSquares);
  }

  /**
   * Embedding: example {@code i}'s weight gradient is the scatter-add of its output rows {@code
   * dy_i[t]} into row {@code id_t}, the padding row left out; hence {@code ||g_i||^2 = sum_{t, s :
   * id_t == id_s != pad} <dy_it, dy_is>}, which is computed as the sum of squared norms of the rows
   * summed per distinct id (on the heap, in double, {@code O(T d)} per example rather than the
   * {@code T x T} Gram).
   *
   * @param ids the looked-up ids, batch first, {@code (B, ...)}
   * @param rows their rows, {@code (B, ..., d)}
   */
  Tensor embedding(Embedding layer, NDArray ids, Tensor rows) {
    if (ids.ndim() == 0) {
      markUnsupported(layer + " was called on a single id, without a batch dimension");
      return Identity.of(rows);
    }
    long[] idv = ids.toLongArray();
    int pad = layer.paddingIdx().orElse(-1);
    int batch = ids.shape(0);
    return tap(layer, rows, grad -> embeddingNorms(grad, idv, batch, pad));
  }

  /**
   * See {@link #embedding}: {@code grad (B, ..., d)}, {@code ids} its B * T ids, flattened. Per
   * example, its positions are sorted by id (packed as {@code id * T + position}, one primitive
   * sort), so each id's rows are summed in one reused buffer: no allocation or boxing per token.
   */
  static double[] embeddingNorms(NDArray grad, long[] ids, int batch, int pad) {
    int d = grad.shape(-1);
    int t = batch == 0 ? 0 : ids.length / batch;
    double[] g = grad.toDoubleArray();
    double[] out = new double[batch];
    long[] keys = new long[t];
    double[] acc = new double[d];
    for (int i = 0; i < batch; i++) {
      int n = 0;
      for (int p = 0; p < t; p++) {
        long id = ids[i * t + p];
        if (id != pad) { // the padding row gets no gradient
          keys[n++] = id * t + p;
        }
      }
      Arrays.sort(keys, 0, n);
      double sq = 0;
      for (int k = 0; k < n; ) {
        long id = keys[k] / t;
        Arrays.fill(acc, 0);
        for (; k < n && keys[k] / t == id; k++) {
          int off = (i * t + (int) (keys[k] % t)) * d;
          for (int j = 0; j < d; j++) {
            acc[j] += g[off + j];
          }
        }
        for (double v : acc) {
          sq += v * v;
        }
      }
      out[i] = sq;
    }
    return out;
  }

  /**
   * The forward pass of a LayerNorm layer under this capture: the normalisation without affine
   * (LayerNorm's own op, no parameters), then a captured {@code xhat * weight + bias} whose
   * per-example gradients are {@code sum_p dy_i[p] * xhat_i[p]} and {@code sum_p dy_i[p]} over the
   * example's positions {@code p}.
   */
  Tensor layerNorm(LayerNorm layer, Tensor input) {
    int[] shape = layer.normalizedShape();
    Tensor w = layer.weight();
    Tensor b = layer.bias();
    boolean batched = input.ndim() > shape.length;
    if (w == null || !batched || !Function.isNeeded(input, w, b)) {
      if (w != null && !batched) {
        markUnsupported("LayerNorm called on an input without a batch dimension");
      }
      return LayerNorm.layerNorm(input, shape, w, b, layer.eps());
    }
    Record r = new Record(layer, true);
    records.add(r);
    try (Tensor xhat = LayerNorm.layerNorm(input, shape, null, null, layer.eps())) {
      return new CapturedAffine(this, r, xhat, w, b).run();
    }
  }

  /** The forward pass of a Conv2d layer under this capture. */
  Tensor conv2d(Conv2d layer, Tensor input) {
    Tensor w = layer.weight();
    Tensor b = layer.bias();
    if (input.ndim() != 4 || !Function.isNeeded(input, w, b)) {
      if (input.ndim() != 4) {
        markUnsupported("Conv2d called on an input of " + input.ndim() + " dims, not (B, C, H, W)");
      }
      return Tensor.conv2d(
          input, w, b, layer.stride(), layer.padding(), layer.dilation(), layer.groups());
    }
    boolean ghost;
    switch (convNormMethod) {
      case GHOST -> ghost = true;
      case PER_EXAMPLE -> ghost = false;
      default -> {
        int[] s = w.shape();
        int[] k = layer.kernelSize();
        int[] st = layer.stride();
        int[] p = layer.padding();
        int[] d = layer.dilation();
        long oh = (input.shape(2) + 2L * p[0] - (long) d[0] * (k[0] - 1) - 1) / st[0] + 1;
        long ow = (input.shape(3) + 2L * p[1] - (long) d[1] * (k[1] - 1) - 1) / st[1] + 1;
        ghost = ghostIsCheaper(oh * ow, (long) s[1] * s[2] * s[3], s[0] / (long) layer.groups());
      }
    }
    Record r = new Record(layer, ghost);
    records.add(r);
    return new CapturedConv2d(this, r, layer, input).run();
  }

  private void markUnsupported(String reason) {
    if (!unsupported) {
      unsupported = true;
      unsupportedReason = reason;
    }
  }

  /**
   * Null when the norms of this capture are the norms of the whole per-example gradients of {@code
   * module}: every parameter belongs to a layer with a norm rule ({@link #hasNormRule}) called
   * exactly once on a batched input during the capture (a MultiheadAttention's own in_proj by one
   * self-attention call, its out_proj by its own rule). Otherwise the reason they are not.
   */
  public String coversAllParameters(Module module) {
    if (unsupported) {
      return unsupportedReason;
    }
    Map<Module, Integer> calls = new IdentityHashMap<>();
    for (Record r : records) {
      calls.merge(r.layer, 1, Integer::sum);
    }
    return check(module, calls);
  }

  /**
   * True for the layers this capture has a norm rule for: Linear, Conv2d, LayerNorm,
   * MultiheadAttention (its own parameters; self-attention only), ClsToken,
   * LearnedPositionalEmbedding, Embedding and TokenEmbedding, not other subclasses.
   */
  public static boolean hasNormRule(Module m) {
    Class<?> c = m.getClass();
    return c == Linear.class
        || c == Conv2d.class
        || c == LayerNorm.class
        || c == MultiheadAttention.class
        || c == ClsToken.class
        || c == LearnedPositionalEmbedding.class
        || c == Embedding.class
        || c == TokenEmbedding.class;
  }

  private static String check(Module m, Map<Module, Integer> calls) {
    boolean ownParams = false;
    for (Map.Entry<String, Parameter> e : m.namedParameters().entrySet()) {
      if (!e.getKey().contains(".")) {
        ownParams = true;
        break;
      }
    }
    if (hasNormRule(m)) {
      // its own parameters (for MultiheadAttention: in_proj) by exactly one record; children
      // (MultiheadAttention's out_proj) by their own rules below
      int n = calls.getOrDefault(m, 0);
      if (ownParams && n != 1) {
        return "a " + m.getClass().getSimpleName() + " layer was called " + n + " times, not once";
      }
    } else if (ownParams) {
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
   * How each captured call takes its norms, in call order: {@code "<layer>: ghost"} or {@code
   * "<layer>: per-example"} (for reports and tests).
   */
  public List<String> plan() {
    List<String> out = new ArrayList<>(records.size());
    for (Record r : records) {
      out.add(r.layer + ": " + (r.ghost ? "ghost" : "per-example"));
    }
    return out;
  }

  /**
   * Each example's squared gradient norm summed over the captured layers, from the last backward
   * pass with recording on.
   *
   * @throws IllegalStateException when a captured layer has received no gradient
   */
  public double[] perExampleSquaredNorms() {
    double[] total = null;
    for (Record r : records) {
      if (r.squaredNorms == null) {
        throw new IllegalStateException(
            "no gradient was recorded for " + r.layer + ": run backward with recording on");
      }
      if (total == null) {
        total = new double[r.squaredNorms.length];
      }
      for (int i = 0; i < total.length; i++) {
        total[i] += r.squaredNorms[i];
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
      r.releaseGrads(this);
    }
    records.clear();
    exampleWeights = null;
  }

  /** Arrays up to this many elements have their row norms taken on the heap. */
  private static final long HEAP_ROW_SQUARES_MAX = 1L << 19;

  /** {@code sum} over the last dims of {@code a} squared: (B, ...) -> B doubles. */
  static double[] rowSquares(NDArray a) {
    int b = a.shape(0);
    int m = (int) (a.numel() / Math.max(1, b));
    // One copy to the heap and one pass, accumulated in double, on the calling thread. Engine ops
    // (square, then a row sum) cost two passes, a temporary, and at 2 threads two small parallel
    // regions per call: ~5x this for the MLP's (256, 784) input. (A batched (B,1,M) @ (B,M,1)
    // product, as it was before, made B one-dot-product BLAS calls.)
    if (a.numel() > HEAP_ROW_SQUARES_MAX) {
      // large (a convolution's per-example weight gradients): the engine's parallel kernels, no
      // heap copy of megabytes per step
      try (NDArray dense = a.contiguous();
          NDArray rows = dense.view(b, m);
          NDArray squares = rows.square();
          NDArray sums = squares.sum(new int[] {1}, false)) {
        return sums.toDoubleArray();
      }
    }
    double[] out = new double[b];
    if (a.dtype() == DType.FLOAT32) {
      float[] v = a.toFloatArray();
      for (int i = 0; i < b; i++) {
        out[i] = sumOfSquares(v, i * m, m);
      }
    } else {
      double[] v = a.toDoubleArray();
      for (int i = 0; i < b; i++) {
        out[i] = sumOfSquares(v, i * m, m);
      }
    }
    return out;
  }

  /** {@code sum_j v[from + j]^2, j < n}, in double, four independent sums (for the pipeline). */
  private static double sumOfSquares(float[] v, int from, int n) {
    double s0 = 0;
    double s1 = 0;
    double s2 = 0;
    double s3 = 0;
    int j = from;
    int end = from + n;
    for (; j + 3 < end; j += 4) {
      double x0 = v[j];
      double x1 = v[j + 1];
      double x2 = v[j + 2];
      double x3 = v[j + 3];
      s0 += x0 * x0;
      s1 += x1 * x1;
      s2 += x2 * x2;
      s3 += x3 * x3;
    }
    for (; j < end; j++) {
      double x = v[j];
      s0 += x * x;
    }
    return (s0 + s1) + (s2 + s3);
  }

  private static double sumOfSquares(double[] v, int from, int n) {
    double s0 = 0;
    double s1 = 0;
    double s2 = 0;
    double s3 = 0;
    int j = from;
    int end = from + n;
    for (; j + 3 < end; j += 4) {
      s0 += v[j] * v[j];
      s1 += v[j + 1] * v[j + 1];
      s2 += v[j + 2] * v[j + 2];
      s3 += v[j + 3] * v[j + 3];
    }
    for (; j < end; j++) {
      s0 += v[j] * v[j];
    }
    return (s0 + s1) + (s2 + s3);
  }

  /** {@code weights (B)} as a (1, B) array of {@code like}'s dtype and device. */
  private static NDArray weightRow(double[] weights, NDArray like) {
    try (NDArray w = NDArray.of(weights, 1, weights.length);
        NDArray c = w.cast(like.dtype())) {
      return c.to(like.device());
    }
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
        record.squaredNorms = x.ndim() == 2 ? rowNorms(grad) : sequenceNorms(grad);
      }
      NDArray gx = null;
      NDArray gw = null;
      NDArray gb = null;
      if (needsGrad(0)) {
        gx = grad.matmul(w);
      }
      if (!rec && (needsGrad(1) || bias != null && needsGrad(2))) {
        // (B, T, .) as (B*T, .): the weight gradient sums over examples and positions alike
        int out = w.shape(0);
        int in = w.shape(1);
        try (NDArray g2 = grad.reshape(-1, out);
            NDArray x2 = x.reshape(-1, in)) {
          if (needsGrad(1)) {
            try (NDArray gt = g2.t()) {
              gw = gt.matmul(x2);
            }
          }
          if (bias != null && needsGrad(2)) {
            gb = g2.sum(new int[] {0}, false);
          }
        }
      }
      return new NDArray[] {gx, gw, gb};
    }

    /** 2-D input: {@code ||delta_i||^2 (||x_i||^2 + 1)} (the 1 for the bias). */
    private double[] rowNorms(NDArray grad) {
      double[] dsq = rowSquares(grad);
      double[] xsq = rowSquares(x);
      double biasTerm = bias != null ? 1 : 0;
      for (int i = 0; i < dsq.length; i++) {
        dsq[i] *= xsq[i] + biasTerm;
      }
      return dsq;
    }

    /**
     * 3-D input {@code (B, T, in)}: {@code g_W,i = D_i^T X_i}, so {@code ||g_W,i||^2 = <X_i X_i^T,
     * D_i D_i^T>_F} (two (B, T, T) Gram matrices; the ghost record) or the per-example weight
     * gradients materialised by one batched GEMM, whichever the forward pass chose; the bias term
     * is {@code ||sum_t D_i[t]||^2}.
     */
    private double[] sequenceNorms(NDArray grad) {
      double[] sq;
      if (record.ghost) {
        try (NDArray xt = x.transpose(1, 2);
            NDArray gramX = x.matmul(xt);
            NDArray dt = grad.transpose(1, 2);
            NDArray gramD = grad.matmul(dt);
            NDArray prod = gramX.mul(gramD);
            NDArray sums = prod.sum(new int[] {1, 2}, false)) {
          sq = sums.toDoubleArray();
        }
      } else {
        try (NDArray dt = grad.transpose(1, 2);
            NDArray perExample = dt.matmul(x)) {
          sq = rowSquares(perExample);
        }
      }
      if (bias != null) {
        try (NDArray gb = grad.sum(new int[] {1}, false)) {
          double[] bsq = rowSquares(gb);
          for (int i = 0; i < sq.length; i++) {
            sq[i] += bsq[i];
          }
        }
      }
      return sq;
    }

    @Override
    public String toString() {
      return "CapturedLinearBackward(" + w.shape(1) + " -> " + w.shape(0) + ")";
    }
  }

  /**
   * The identity on a parameter's per-example contribution (see {@link #tap}): while recording,
   * backward stores the examples' squared norms and returns no gradient (the parameter needs none
   * in the first pass of ghost clipping); otherwise the gradient passes through.
   */
  private static final class Tap extends Function {
    private final PerExampleCapture capture;
    private final Record record;
    private final NDArray x;
    private final TapNorms norms;

    Tap(PerExampleCapture capture, Record record, Tensor x, TapNorms norms) {
      super("per_example_tap", x);
      this.capture = capture;
      this.record = record;
      this.x = x.data();
      this.norms = norms;
    }

    Tensor run() {
      return output(x.share());
    }

    @Override
    protected NDArray[] backward(NDArray grad) {
      if (capture.recording && !capture.closed) {
        record.squaredNorms = norms.of(grad);
        return new NDArray[] {null};
      }
      return new NDArray[] {grad.share()};
    }

    @Override
    public String toString() {
      return "PerExampleTapBackward(" + record.layer + ")";
    }
  }

  /**
   * LayerNorm's affine part, {@code y = xhat * weight + bias} over the trailing normalized dims, as
   * one op with the same gradients, plus the recording described on the class: example {@code i}'s
   * weight gradient is {@code sum_p dy_i[p] * xhat_i[p]} and its bias gradient {@code sum_p
   * dy_i[p]}, summed over its positions {@code p} (all dims between the batch and the normalized
   * ones).
   */
  private static final class CapturedAffine extends Function {
    private final PerExampleCapture capture;
    private final Record record;
    private final NDArray xhat;
    private final NDArray w;
    private final NDArray b;

    CapturedAffine(PerExampleCapture capture, Record record, Tensor xhat, Tensor w, Tensor b) {
      super("layer_norm_affine", xhat, w, b);
      this.capture = capture;
      this.record = record;
      this.xhat = save(xhat.data());
      this.w = save(w.data());
      this.b = b == null ? null : save(b.data());
    }

    Tensor run() {
      NDArray y = xhat.mul(w);
      if (b != null) {
        try (NDArray yw = y) {
          y = yw.add(b);
        }
      }
      return output(y);
    }

    @Override
    protected NDArray[] backward(NDArray grad) {
      boolean rec = capture.recording && !capture.closed;
      int d = (int) w.numel();
      int batch = grad.shape(0);
      NDArray gx = needsGrad(0) ? grad.mul(w) : null;
      NDArray gw = null;
      NDArray gb = null;
      try (NDArray g3 = grad.reshape(batch, -1, d);
          NDArray x3 = xhat.reshape(batch, -1, d);
          NDArray prod = g3.mul(x3)) {
        if (rec) {
          double[] sq;
          try (NDArray perExampleW = prod.sum(new int[] {1}, false)) {
            sq = rowSquares(perExampleW);
          }
          if (b != null) {
            try (NDArray perExampleB = g3.sum(new int[] {1}, false)) {
              double[] bsq = rowSquares(perExampleB);
              for (int i = 0; i < sq.length; i++) {
                sq[i] += bsq[i];
              }
            }
          }
          record.squaredNorms = sq;
        } else {
          if (needsGrad(1)) {
            try (NDArray flat = prod.reshape(-1, d);
                NDArray s = flat.sum(new int[] {0}, false)) {
              gw = s.reshape(w.shape());
            }
          }
          if (b != null && needsGrad(2)) {
            try (NDArray flat = g3.reshape(-1, d);
                NDArray s = flat.sum(new int[] {0}, false)) {
              gb = s.reshape(b.shape());
            }
          }
        }
      } catch (RuntimeException e) {
        if (gx != null) {
          gx.close();
        }
        throw e;
      }
      return new NDArray[] {gx, gw, gb};
    }

    @Override
    public String toString() {
      return "CapturedLayerNormAffineBackward(" + java.util.Arrays.toString(w.shape()) + ")";
    }
  }

  /**
   * {@link Tensor#conv2d} as one op with the same gradients, plus the recording described on the
   * class.
   */
  private static final class CapturedConv2d extends Function {
    private final PerExampleCapture capture;
    private final Record record;
    private final NDArray x;
    private final NDArray w;
    private final NDArray b;
    private final int[] stride;
    private final int[] padding;
    private final int[] dilation;
    private final int groups;

    CapturedConv2d(PerExampleCapture capture, Record record, Conv2d layer, Tensor input) {
      super("conv2d", input, layer.weight(), layer.bias());
      this.capture = capture;
      this.record = record;
      this.x = save(input.data());
      this.w = save(layer.weight().data());
      this.b = layer.bias() == null ? null : save(layer.bias().data());
      this.stride = layer.stride();
      this.padding = layer.padding();
      this.dilation = layer.dilation();
      this.groups = layer.groups();
    }

    Tensor run() {
      return output(Convolution.conv2d(x, w, b, stride, padding, dilation, groups));
    }

    @Override
    protected NDArray[] backward(NDArray grad) {
      boolean rec = capture.recording && !capture.closed;
      NDArray[] out = new NDArray[3];
      if (rec) {
        record(grad);
      }
      if (needsGrad(0)) {
        out[0] =
            Convolution.conv2dBackwardInput(grad, w, x.shape(), stride, padding, dilation, groups);
      }
      if (!rec && needsGrad(1)) {
        NDArray kept = record.perExampleGrads;
        double[] weights = capture.exampleWeights;
        if (kept != null && weights != null) {
          // sum_i c_i g_W,i: (1, B) @ (B, O * K), the recording pass's gradients reused
          int n = kept.shape(0);
          try (NDArray c = weightRow(weights, kept);
              NDArray flat = kept.view(n, (int) (kept.numel() / n));
              NDArray sum = c.matmul(flat)) {
            out[1] = sum.reshape(w.shape());
          }
        } else {
          out[1] =
              Convolution.conv2dBackwardWeight(
                  grad, x, w.shape(), stride, padding, dilation, groups);
        }
      }
      if (!rec && b != null && needsGrad(2)) {
        out[2] = Convolution.conv2dBackwardBias(grad);
      }
      return out;
    }

    /** The per-example squared norms of this layer's weight and bias gradients. */
    private void record(NDArray grad) {
      record.releaseGrads(capture);
      double[] sq;
      int[] ws = w.shape();
      if (record.ghost) {
        try (NDArray norms =
            Convolution.conv2dPerSampleWeightGradSquaredNorms(
                grad, x, ws, stride, padding, dilation, groups, true)) {
          sq = norms.toDoubleArray();
        }
      } else {
        long bytes = (long) x.shape(0) * w.numel() * x.dtype().byteSize();
        if (capture.keptBytes + bytes <= KEEP_BUDGET_BYTES) {
          NDArray g =
              Convolution.conv2dPerSampleWeightGrads(
                  grad, x, ws, stride, padding, dilation, groups);
          record.perExampleGrads = g;
          capture.keptBytes += bytes;
          sq = rowSquares(g);
        } else {
          try (NDArray norms =
              Convolution.conv2dPerSampleWeightGradSquaredNorms(
                  grad, x, ws, stride, padding, dilation, groups, false)) {
            sq = norms.toDoubleArray();
          }
        }
      }
      if (b != null) {
        // g_b,i = sum over positions of D_i: (B, O, T) -> (B, O)
        int n = grad.shape(0);
        int o = grad.shape(1);
        try (NDArray d = grad.reshape(n, o, grad.shape(2) * grad.shape(3));
            NDArray gb = d.sum(2)) {
          double[] bsq = rowSquares(gb);
          for (int i = 0; i < sq.length; i++) {
            sq[i] += bsq[i];
          }
        }
      }
      record.squaredNorms = sq;
    }

    @Override
    public String toString() {
      return "CapturedConv2dBackward("
          + x.shape(1)
          + " -> "
          + w.shape(0)
          + (record.ghost ? ", ghost" : ", per-example")
          + ")";
    }
  }
}
