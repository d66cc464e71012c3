package org.emberdl.federated.dp;

import java.util.Arrays;
import java.util.List;
import org.emberdl.autograd.Tensor;
import org.emberdl.nn.BatchNorm;
import org.emberdl.nn.Conv2d;
import org.emberdl.nn.Linear;
import org.emberdl.nn.Module;
import org.emberdl.nn.Parameter;
import org.emberdl.nn.PerExampleCapture;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.EmberConfig;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.random.Philox;

/**
 * Example-level DP-SGD (Abadi et al., "Deep Learning with Differential Privacy", CCS 2016): the
 * noisy gradient of one step, with per-example clipping and Gaussian noise, exactly the mechanism
 * that {@link RdpAccountant} accounts for.
 *
 * <h2>One step</h2>
 *
 * <ol>
 *   <li><b>Sampling</b> ({@link #poissonSample}): each of the {@code N} examples is in the batch
 *       independently with probability {@code q}; the batch size is random, with mean {@code qN}.
 *   <li><b>Clipping</b> ({@link #clippedSum}): example {@code i}'s whole gradient {@code g_i} (all
 *       parameters together) is scaled by {@code c_i = min(1, C / (||g_i|| + 1e-6))}, and the
 *       clipped gradients are summed: {@code S = sum_i c_i g_i}, so one example changes {@code S}
 *       by at most {@code C} in L2 norm.
 *   <li><b>Noise</b> ({@link #privatize}): {@code N(0, sigma^2 C^2 I)} is added <em>once, to the
 *       sum</em> {@code S} (one draw per parameter element, from the caller's {@link Generator}),
 *       and the result is divided by the <em>expected</em> batch size {@code qN}, never by the
 *       actual one (which would depend on the data). This is the Poisson-sampled Gaussian mechanism
 *       with sensitivity {@code C} and noise multiplier {@code sigma} of {@link RdpAccountant}
 *       under add-or-remove-one adjacency; the division and the optimizer update are
 *       post-processing. Account each step as {@code accountant.withSteps(q, sigma, 1)}.
 * </ol>
 *
 * The noisy gradient is a 1-D array in {@link Module#flatParameters()} layout: {@code
 * optimizer.step(Gradients.fromFlat(model, noisy))} applies it.
 *
 * <h2>How per-example gradients are clipped</h2>
 *
 * <b>Ghost clipping</b> (the fast path), when every parameter of the model belongs to a {@link
 * Linear} layer applied once to a 2-D {@code (B, in)} or 3-D {@code (B, T, in)} input or a {@link
 * Conv2d} layer applied once to a 4-D input or a {@link org.emberdl.nn.LayerNorm} applied once to a
 * batched input, or to a layer with its own rule in {@link PerExampleCapture} (self-attention's
 * packed input projection, the class token, learned positions, embeddings): MLPs, CNNs, Transformer
 * encoders and patch transformers, with any parameter-free layers between (activations, pooling,
 * mean/last-step pooling, flatten, dropout): one forward pass inside a {@link PerExampleCapture},
 * then two backward passes over the same graph. Pass 1 backpropagates the sum of the per-example
 * losses; each captured layer turns the gradient flowing into its output ({@code delta}) and its
 * input into every example's squared gradient norm for the layer, and pass 1 computes no parameter
 * gradients. Linear layers use the ghost-norm identity {@code ||g_W,i||^2 = ||delta_i||^2
 * ||x_i||^2} (plus {@code ||delta_i||^2} for the bias); Linear layers on sequences and Conv2d
 * layers use, by cost, either the ghost norm from two {@code T x T} Gram matrices or the layer's
 * per-example weight gradients materialised by one batched GEMM; LayerNorm's per-example affine
 * gradients are sums over the example's positions of {@code dy * xhat} and {@code dy} (see {@link
 * PerExampleCapture}). Pass 2 backpropagates {@code sum_i c_i loss_i} with the {@code c_i}
 * constants (seeding the backward pass with {@code c} is the same as weighting the losses by
 * detached {@code c_i}): by linearity its parameter gradient is exactly {@code sum_i c_i g_i};
 * convolutions whose per-example gradients pass 1 kept form their part as {@code sum_i c_i g_W,i}
 * directly. The same forward graph serves both passes, so dropout masks agree.
 *
 * <p><b>Materialised per-example gradients</b> (the fallback, much slower: one forward and backward
 * pass per example) for every other model: embeddings, multi-head attention (its packed input
 * projection), recurrent layers (LSTM, GRU), a Linear applied to a 4-D input, a layer applied
 * twice, an unbatched convolution, subclasses of the layers above. Each example's flat gradient is
 * computed alone, clipped and added.
 *
 * <p><b>Batch norm is refused</b>: it mixes the examples of a batch, so an example's influence is
 * not confined to its own gradient and per-example clipping bounds nothing (use group or layer norm
 * instead).
 *
 * <p>Both paths require the model to treat the examples independently, and the loss to give one
 * value per example, or per element of a tensor with a leading batch dimension (a {@code
 * Reduction.NONE} loss; values of one example are summed). Both zero the model's gradients, and
 * leave them holding the clipped sum.
 */
public final class DpSgd {
  /** Added to the norm in the clip factor, as Opacus does, so a zero gradient divides safely. */
  public static final double NORM_EPSILON = 1e-6;

  /**
   * Per-example losses of a model's output, e.g. {@code new
   * CrossEntropyLoss(Reduction.NONE)::apply}.
   */
  @FunctionalInterface
  public interface PerExampleLoss {
    /** One loss per example: shape {@code (B)}, or {@code (B, ...)} (summed per example). */
    Tensor apply(Tensor output, NDArray target);
  }

  /** How the per-example norms were obtained. */
  public enum Method {
    /** Ghost norms and a reweighted second backward pass. */
    GHOST,
    /** One backward pass per example. */
    MATERIALIZED
  }

  /**
   * The sum of the clipped per-example gradients, in {@link Module#flatParameters()} layout.
   *
   * @param sum {@code sum_i c_i g_i}, 1-D (owned: close it)
   * @param norms {@code ||g_i||}, before clipping
   * @param method the path taken
   */
  public record ClippedSum(NDArray sum, double[] norms, Method method) implements AutoCloseable {
    @Override
    public void close() {
      sum.close();
    }
  }

  /** Where {@link #noisyGradient} draws the noise ({@link #noiseDrawing()}). */
  public enum NoiseDrawing {
    /** After the clipping, on the calling thread (and Ember's pool, as {@code NDArray.normal}). */
    CALLER,
    /** On the {@code ember-dp-noise} daemon thread, while the clipping runs. */
    NOISE_THREAD,
    /**
     * In chunks, by Ember's CPU pool workers while the clipping leaves them idle; the chunks left
     * when the clipping ends are drawn on every pool thread.
     */
    IDLE_POOL_WORKERS
  }

  private final double clipNorm;
  private final double noiseMultiplier;
  private final double expectedBatchSize;

  /** True or false as given; null: decided at each step ({@link #backgroundNoise()}). */
  private final Boolean backgroundNoise;

  /**
   * As {@link #DpSgd(double, double, double, boolean)}, drawing the noise in the background when a
   * processor is left over by Ember's CPU threads ({@link #backgroundNoise()}).
   */
  public DpSgd(double clipNorm, double noiseMultiplier, double expectedBatchSize) {
    this(clipNorm, noiseMultiplier, expectedBatchSize, null);
  }

  /**
   * @param clipNorm {@code C > 0}
   * @param noiseMultiplier {@code sigma >= 0} (noise standard deviation over {@code C})
   * @param expectedBatchSize {@code qN > 0}, the divisor of the noisy sum
   * @param backgroundNoise whether {@link #noisyGradient} draws the noise on a background thread
   *     while it clips (same values either way; see there)
   */
  public DpSgd(
      double clipNorm, double noiseMultiplier, double expectedBatchSize, boolean backgroundNoise) {
    this(clipNorm, noiseMultiplier, expectedBatchSize, Boolean.valueOf(backgroundNoise));
  }

  private DpSgd(
      double clipNorm, double noiseMultiplier, double expectedBatchSize, Boolean backgroundNoise) {
    if (!(clipNorm > 0) || Double.isInfinite(clipNorm)) {
      throw new IllegalArgumentException("clipNorm must be finite and > 0, got " + clipNorm);
    }
    if (!(noiseMultiplier >= 0) || Double.isInfinite(noiseMultiplier)) {
      throw new IllegalArgumentException("noiseMultiplier must be >= 0, got " + noiseMultiplier);
    }
    if (!(expectedBatchSize > 0) || Double.isInfinite(expectedBatchSize)) {
      throw new IllegalArgumentException(
          "expectedBatchSize must be > 0 (q * N), got " + expectedBatchSize);
    }
    this.clipNorm = clipNorm;
    this.noiseMultiplier = noiseMultiplier;
    this.expectedBatchSize = expectedBatchSize;
    this.backgroundNoise = backgroundNoise;
    if (noiseMultiplier > 0) {
      Philox.expectManyNormals(); // one normal per parameter per step from here on
    }
  }

  public double clipNorm() {
    return clipNorm;
  }

  public double noiseMultiplier() {
    return noiseMultiplier;
  }

  public double expectedBatchSize() {
    return expectedBatchSize;
  }

  /**
   * Whether {@link #noisyGradient} draws the noise on a background thread now: as given to the
   * constructor, or by default when the JVM has more processors than {@link EmberConfig#threads()}
   * (the noise thread then runs on a core the forward and backward passes leave idle; with every
   * core in Ember's pool it would only take turns with the pool's threads, and slow them down).
   */
  public boolean backgroundNoise() {
    if (backgroundNoise != null) {
      return backgroundNoise;
    }
    return Runtime.getRuntime().availableProcessors() > EmberConfig.threads();
  }

  /**
   * Where {@link #noisyGradient} draws the noise now: on the noise thread when {@link
   * #backgroundNoise()}; otherwise, unless the constructor said {@code backgroundNoise = false}, on
   * Ember's pool workers while the clipping leaves them idle when the pool has more than one thread
   * (every core is then in the pool, and a further thread would take turns with the pool's threads
   * for the cores); else on the calling thread after the clipping. The values are the same in every
   * case.
   */
  public NoiseDrawing noiseDrawing() {
    if (backgroundNoise()) {
      return NoiseDrawing.NOISE_THREAD;
    }
    if (backgroundNoise == null && EmberConfig.threads() > 1) {
      return NoiseDrawing.IDLE_POOL_WORKERS;
    }
    return NoiseDrawing.CALLER;
  }

  /**
   * The noisy gradient of one step: {@code (sum_i c_i g_i + N(0, sigma^2 C^2 I)) / (qN)}, 1-D in
   * {@link Module#flatParameters()} layout (owned by the caller). The batch may be empty (Poisson
   * sampling can draw no example): the result is then noise alone.
   *
   * <p>The values are those of {@link #clippedSum} followed by {@link #privatize}, bit for bit. The
   * noise, which depends only on the generator and not on the gradient, is drawn where {@link
   * #noiseDrawing()} says: with {@link #backgroundNoise()} on a background daemon thread while the
   * clipping runs, by default with every core in Ember's pool by the pool's idle workers, and
   * joined when it is added (it takes the values {@code privatize} would take: the generator ends
   * at the same position; if the model draws from the same generator during the step, the noise is
   * drawn again after those draws).
   *
   * @param x the batch's inputs, leading dimension {@code B}
   * @param target the batch's targets, leading dimension {@code B}
   * @param gen the noise source; the same generator state gives the same noise
   * @throws IllegalStateException when the background noise draw failed (its cause attached)
   */
  public NDArray noisyGradient(
      Module model, NDArray x, NDArray target, PerExampleLoss loss, Generator gen) {
    if (noiseMultiplier == 0) {
      try (ClippedSum s = clippedSum(model, x, target, loss, clipNorm)) {
        return privatize(s.sum(), gen);
      }
    }
    List<Parameter> params = model.parameters();
    long total = 0;
    for (Parameter p : params) {
      total += p.data().numel();
    }
    DType dtype = params.isEmpty() ? DType.FLOAT32 : params.get(0).dtype();
    int[] shape = {Math.toIntExact(total)};
    try (NoiseDraw noise =
            NoiseDraw.start(gen, dtype, noiseMultiplier * clipNorm, noiseDrawing(), shape);
        ClippedSum s = clippedSum(model, x, target, loss, clipNorm)) {
      NDArray sum = s.sum();
      if (sum.dtype() != dtype || !Arrays.equals(sum.shape(), shape)) {
        noise.close(); // not what was drawn (the generator has not moved): draw it here instead
        return privatize(sum, gen);
      }
      NDArray out = noise.join();
      try {
        return out.addInPlace(sum).divInPlace(expectedBatchSize);
      } catch (RuntimeException e) {
        out.close();
        throw e;
      }
    }
  }

  /**
   * Adds the Gaussian noise to a clipped sum and divides by the expected batch size: {@code
   * (clippedSum + N(0, sigma^2 C^2 I)) / (qN)}, a new array. The noise is drawn from {@code gen} in
   * one call of {@code clippedSum.numel()} values (none when {@code sigma = 0}), so it depends only
   * on the generator's seed, stream and position.
   */
  public NDArray privatize(NDArray clippedSum, Generator gen) {
    if (noiseMultiplier == 0) {
      return clippedSum.div(expectedBatchSize);
    }
    // one draw of numel() normals, then in place: noise + sum, / qN (no temporaries)
    NDArray out =
        NDArray.normal(gen, clippedSum.dtype(), 0, noiseMultiplier * clipNorm, clippedSum.shape());
    try {
      return out.addInPlace(clippedSum).divInPlace(expectedBatchSize);
    } catch (RuntimeException e) {
      out.close();
      throw e;
    }
  }

  /**
   * Poisson sampling: the indices in {@code [0, n)} of the examples drawn, each independently with
   * probability {@code q}, in increasing order. Deterministic given the generator (for instance
   * {@code Generator.forTask(seed, step, partition)}).
   */
  public static int[] poissonSample(int n, double q, Generator gen) {
    if (n < 0) {
      throw new IllegalArgumentException("n must be >= 0, got " + n);
    }
    if (!(q >= 0 && q <= 1)) {
      throw new IllegalArgumentException("q must be in [0, 1], got " + q);
    }
    if (n == 0) {
      return new int[0];
    }
    double[] u;
    try (NDArray r = NDArray.rand(gen, DType.FLOAT64, n)) {
      u = r.toDoubleArray();
    }
    int[] out = new int[n];
    int k = 0;
    for (int i = 0; i < n; i++) {
      if (u[i] < q) {
        out[k++] = i;
      }
    }
    return Arrays.copyOf(out, k);
  }

  /**
   * @throws IllegalArgumentException when {@code model} contains batch norm
   */
  public static void refuseBatchNorm(Module model) {
    if (model instanceof BatchNorm) {
      throw new IllegalArgumentException(
          model.getClass().getSimpleName()
              + " is not allowed under DP-SGD: batch norm mixes the examples of a batch, so"
              + " per-example clipping does not bound one example's influence; use GroupNorm or"
              + " LayerNorm");
    }
    for (Module child : model.children().values()) {
      refuseBatchNorm(child);
    }
  }

  /**
   * The sum of the per-example gradients of {@code loss}, each clipped to L2 norm {@code clipNorm}
   * (ghost clipping where the model allows it, else materialised; see the class).
   */
  public static ClippedSum clippedSum(
      Module model, NDArray x, NDArray target, PerExampleLoss loss, double clipNorm) {
    return clippedSum(model, x, target, loss, clipNorm, true);
  }

  /**
   * As {@link #clippedSum(Module, NDArray, NDArray, PerExampleLoss, double)}; {@code allowGhost =
   * false} forces the materialised path.
   */
  public static ClippedSum clippedSum(
      Module model,
      NDArray x,
      NDArray target,
      PerExampleLoss loss,
      double clipNorm,
      boolean allowGhost) {
    refuseBatchNorm(model);
    if (!(clipNorm > 0)) {
      throw new IllegalArgumentException("clipNorm must be > 0, got " + clipNorm);
    }
    int b = x.shape(0);
    if (target.shape(0) != b) {
      throw new IllegalArgumentException(
          "inputs and targets differ in batch size: " + b + " and " + target.shape(0));
    }
    model.zeroGrad();
    if (b == 0) {
      return new ClippedSum(zeroFlat(model), new double[0], Method.GHOST);
    }
    if (allowGhost) {
      String uncovered = uncoveredParameters(model);
      if (uncovered == null) {
        ClippedSum ghost = ghostClippedSum(model, x, target, loss, clipNorm);
        if (ghost != null) {
          return ghost;
        }
        model.zeroGrad();
      } else {
        FallbackLog.once(model, uncovered);
      }
    }
    return materializedClippedSum(model, x, target, loss, clipNorm);
  }

  /** The ghost path; null when the forward pass showed that it does not apply. */
  private static ClippedSum ghostClippedSum(
      Module model, NDArray x, NDArray target, PerExampleLoss loss, double clipNorm) {
    int b = x.shape(0);
    try (PerExampleCapture capture = PerExampleCapture.open();
        Tensor in = Tensor.of(x.share());
        Tensor out = model.forward(in);
        Tensor losses = loss.apply(out, target)) {
      checkLossShape(losses, b);
      String uncovered = capture.coversAllParameters(model);
      if (uncovered != null) {
        FallbackLog.once(model, uncovered);
        // release the graph (one ordinary backward), then materialise instead
        try (NDArray ones = NDArray.full(losses.dtype(), losses.device(), 1, losses.shape())) {
          losses.backward(ones);
        }
        return null;
      }
      // pass 1: deltas only
      capture.setRecording(true);
      try (NDArray ones = NDArray.full(losses.dtype(), losses.device(), 1, losses.shape())) {
        losses.backward(ones, true);
      }
      capture.setRecording(false);
      double[] sq = capture.perExampleSquaredNorms();
      double[] norms = new double[b];
      double[] factors = new double[b];
      for (int i = 0; i < b; i++) {
        norms[i] = Math.sqrt(sq[i]);
        factors[i] = clipFactor(norms[i], clipNorm);
      }
      // pass 2: backward of sum_i c_i loss_i, c_i constants
      model.zeroGrad();
      capture.setExampleWeights(factors);
      try (NDArray seed = perExampleSeed(factors, losses)) {
        losses.backward(seed, false);
      }
      return new ClippedSum(flatGrad(model), norms, Method.GHOST);
    }
  }

  private static ClippedSum materializedClippedSum(
      Module model, NDArray x, NDArray target, PerExampleLoss loss, double clipNorm) {
    int b = x.shape(0);
    double[] norms = new double[b];
    NDArray sum = zeroFlat(model);
    try {
      for (int i = 0; i < b; i++) {
        model.zeroGrad();
        try (NDArray xi = x.narrow(0, i, 1);
            NDArray ti = target.narrow(0, i, 1);
            Tensor in = Tensor.of(xi.share());
            Tensor out = model.forward(in);
            Tensor li = loss.apply(out, ti)) {
          checkLossShape(li, 1);
          try (Tensor total = li.sum()) {
            total.backward();
          }
        }
        try (NDArray g = flatGrad(model)) {
          double sq = 0;
          for (double v : g.toDoubleArray()) {
            sq += v * v;
          }
          norms[i] = Math.sqrt(sq);
          sum.addInPlace(g, clipFactor(norms[i], clipNorm));
        }
      }
      // leave the model's gradients holding the clipped sum, as the ghost path does
      model.zeroGrad();
      scatterIntoGrads(model, sum);
    } catch (RuntimeException e) {
      sum.close();
      throw e;
    }
    return new ClippedSum(sum, norms, Method.MATERIALIZED);
  }

  /** {@code min(1, C / (norm + 1e-6))}. */
  public static double clipFactor(double norm, double clipNorm) {
    return Math.min(1.0, clipNorm / (norm + NORM_EPSILON));
  }

  private static void checkLossShape(Tensor losses, int b) {
    if (losses.ndim() == 0 || losses.shape(0) != b) {
      throw new IllegalArgumentException(
          "the loss must give one value per example (Reduction.NONE), shape ("
              + b
              + ", ...); got "
              + Arrays.toString(losses.shape()));
    }
  }

  /** {@code c_i} repeated over the values of example {@code i}, shaped and typed as the losses. */
  private static NDArray perExampleSeed(double[] factors, Tensor losses) {
    int b = factors.length;
    int per = (int) (losses.data().numel() / b);
    double[] seed = new double[b * per];
    for (int i = 0; i < b; i++) {
      Arrays.fill(seed, i * per, (i + 1) * per, factors[i]);
    }
    try (NDArray s = NDArray.of(seed, losses.shape())) {
      return s.cast(losses.dtype());
    }
  }

  /**
   * Null when every parameter belongs to a layer with a norm rule ({@link
   * PerExampleCapture#hasNormRule}), else which module's parameters have none.
   */
  private static String uncoveredParameters(Module m) {
    if (PerExampleCapture.hasNormRule(m)) {
      return null;
    }
    for (String name : m.namedParameters().keySet()) {
      if (!name.contains(".")) {
        return m.getClass().getSimpleName() + " has parameters and no ghost-norm rule";
      }
    }
    for (Module child : m.children().values()) {
      String reason = uncoveredParameters(child);
      if (reason != null) {
        return reason;
      }
    }
    return null;
  }

  private static NDArray zeroFlat(Module model) {
    List<Parameter> params = model.parameters();
    long total = 0;
    for (Parameter p : params) {
      total += p.data().numel();
    }
    Parameter first = params.get(0);
    return NDArray.zeros(first.dtype(), first.device(), Math.toIntExact(total));
  }

  /** The model's gradients as one new 1-D array (zeros where a parameter has none). */
  static NDArray flatGrad(Module model) {
    if (model.isFlattened()) {
      return model.flatParameters().grads().copy();
    }
    NDArray flat = zeroFlat(model);
    forEachGradSlice(model, flat, (grad, slice) -> slice.copyFrom(grad));
    return flat;
  }

  private static void scatterIntoGrads(Module model, NDArray flat) {
    forEachGradSlice(model, flat, (grad, slice) -> grad.copyFrom(slice));
  }

  /**
   * Calls {@code action} with each parameter's gradient and the slice of {@code flat} in the
   * flat-parameter layout that belongs to it, shaped like the parameter (parameters without a
   * gradient are skipped).
   */
  private static void forEachGradSlice(
      Module model, NDArray flat, java.util.function.BiConsumer<NDArray, NDArray> action) {
    int at = 0;
    for (Parameter p : model.parameters()) {
      int n = (int) p.data().numel();
      NDArray g = p.gradOrNull();
      if (g != null) {
        try (NDArray slice = flat.narrow(0, at, n);
            NDArray view = slice.reshape(p.data().shape())) {
          action.accept(g, view);
        }
      }
      at += n;
    }
  }
}
