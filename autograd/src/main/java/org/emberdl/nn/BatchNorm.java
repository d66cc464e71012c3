package org.emberdl.nn;

import java.util.Arrays;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.NDArray;

/**
 * Batch normalization over the channel dim (dim 1), the common part of {@link BatchNorm1d} and
 * {@link BatchNorm2d}, as PyTorch's {@code _BatchNorm}: {@code y = (x - mean) / sqrt(var + eps) *
 * weight + bias} per channel.
 *
 * <p>In training mode (or without running statistics) mean and biased variance are the batch's,
 * taken over every dim but the channel one, and the running statistics move towards them: {@code
 * running = (1 - momentum) * running + momentum * batch}, with the <em>unbiased</em> batch variance
 * for {@code running_var}, as PyTorch; {@code num_batches_tracked} counts the steps. In eval mode
 * the running statistics normalize.
 *
 * <p>State, in PyTorch's order and names: parameters {@code weight} (C, ones) and {@code bias} (C,
 * zeros) when affine; buffers {@code running_mean} (C, zeros), {@code running_var} (C, ones) and
 * {@code num_batches_tracked} (int64, 0-d) when tracking running statistics.
 */
public abstract class BatchNorm extends Module {
  private final int numFeatures;
  private final double eps;
  private final Double momentum;
  private final Parameter weight;
  private final Parameter bias;
  private final boolean trackRunningStats;

  /**
   * @param numFeatures C, the channel count
   * @param eps added to the variance before the square root
   * @param momentum the running statistics' update factor, or null for a cumulative average ({@code
   *     1 / num_batches_tracked})
   * @param affine whether to learn {@code weight} and {@code bias}
   * @param trackRunningStats whether to keep running statistics (else batch statistics always)
   * @param dtype the dtype of parameters and running statistics
   */
  protected BatchNorm(
      int numFeatures,
      double eps,
      Double momentum,
      boolean affine,
      boolean trackRunningStats,
      DType dtype) {
    if (numFeatures <= 0) {
      throw new IllegalArgumentException("numFeatures must be positive, got " + numFeatures);
    }
    this.numFeatures = numFeatures;
    this.eps = eps;
    this.momentum = momentum;
    this.trackRunningStats = trackRunningStats;
    this.weight = affine ? registerParameter("weight", NDArray.ones(dtype, numFeatures)) : null;
    this.bias = affine ? registerParameter("bias", NDArray.zeros(dtype, numFeatures)) : null;
    if (trackRunningStats) {
      registerBuffer("running_mean", NDArray.zeros(dtype, numFeatures));
      registerBuffer("running_var", NDArray.ones(dtype, numFeatures));
      registerBuffer("num_batches_tracked", NDArray.scalar(0, DType.INT64));
    }
  }

  /** Throws IllegalArgumentException unless {@code input} has the rank this layer accepts. */
  protected abstract void checkInput(Tensor input);

  /**
   * {@code (N, C, *) -> (N, C, *)}: normalized with batch statistics in training mode (updating the
   * running ones), with the running statistics in eval mode.
   *
   * @throws IllegalArgumentException for a wrong rank or channel count, or a training batch with
   *     one value per channel (its variance is undefined)
   */
  @Override
  public Tensor forward(Tensor input) {
    checkInput(input);
    if (input.shape(1) != numFeatures) {
      throw new IllegalArgumentException(
          getClass().getSimpleName()
              + "("
              + numFeatures
              + ") got "
              + input.shape(1)
              + " channels in input "
              + Arrays.toString(input.shape()));
    }
    boolean useBatchStats = isTraining() || !trackRunningStats;
    if (useBatchStats) {
      checkBatch(input);
    }
    double factor = 0;
    if (isTraining() && trackRunningStats) {
      NDArray count = buffer("num_batches_tracked");
      count.addInPlace(1);
      factor = momentum == null ? 1.0 / count.item() : momentum;
    }
    return batchNorm(
        input,
        trackRunningStats ? runningMean() : null,
        trackRunningStats ? runningVar() : null,
        weight,
        bias,
        useBatchStats,
        factor,
        eps);
  }

  /**
   * Functional batch norm, as {@code torch.nn.functional.batch_norm}. With {@code training} the
   * batch statistics normalize and, when given, {@code runningMean} and {@code runningVar} are
   * updated in place with factor {@code momentum}; otherwise the running statistics normalize.
   *
   * @param input (N, C, *), floating
   * @param runningMean (C), or null (required when not training)
   * @param runningVar (C), or null (required when not training)
   * @param weight (C), or null for no scale
   * @param bias (C), or null for no shift
   * @return (N, C, *)
   */
  public static Tensor batchNorm(
      Tensor input,
      NDArray runningMean,
      NDArray runningVar,
      Tensor weight,
      Tensor bias,
      boolean training,
      double momentum,
      double eps) {
    if (input.ndim() < 2) {
      throw new IllegalArgumentException(
          "batch norm needs input (N, C, *), got " + Arrays.toString(input.shape()));
    }
    int nd = input.ndim();
    int c = input.shape(1);
    int[] channelShape = new int[nd]; // (1, C, 1, ...): broadcasts against (N, C, *)
    Arrays.fill(channelShape, 1);
    channelShape[1] = c;
    Tensor normalized;
    if (training) {
      checkBatch(input);
      int[] dims = new int[nd - 1]; // every dim but the channel one
      for (int d = 0, k = 0; d < nd; d++) {
        if (d != 1) {
          dims[k++] = d;
        }
      }
      long n = input.data().numel() / c;
      try (Tensor mean = input.mean(dims, true);
          Tensor centered = input.sub(mean);
          Tensor sq = centered.square();
          Tensor var = sq.mean(dims, true); // biased: the normalization uses it
          Tensor varEps = var.add(eps);
          Tensor inv = varEps.rsqrt()) {
        normalized = centered.mul(inv);
        if (runningMean != null) {
          try (NDArray batchMean = mean.data().reshape(c)) {
            updateRunning(runningMean, batchMean, momentum);
          }
        }
        if (runningVar != null) {
          // the running variance estimates the population's: unbiased, as PyTorch
          try (NDArray flat = var.data().reshape(c);
              NDArray unbiased = flat.mul((double) n / (n - 1))) {
            updateRunning(runningVar, unbiased, momentum);
          }
        }
      }
    } else {
      if (runningMean == null || runningVar == null) {
        throw new IllegalArgumentException("batch norm in eval mode needs running statistics");
      }
      try (NDArray rv = runningVar.reshape(channelShape);
          NDArray rvEps = rv.add(eps);
          Tensor inv = Tensor.of(rvEps.rsqrt());
          Tensor mean = Tensor.of(runningMean.reshape(channelShape));
          Tensor centered = input.sub(mean)) {
        normalized = centered.mul(inv);
      }
    }
    return affine(normalized, weight, bias, channelShape);
  }

  /** {@code x * weight + bias} with (C) parameters broadcast to {@code channelShape}; closes x. */
  private static Tensor affine(Tensor x, Tensor weight, Tensor bias, int[] channelShape) {
    Tensor y = x;
    if (weight != null) {
      try (Tensor w = weight.reshape(channelShape);
          Tensor prev = y) {
        y = prev.mul(w);
      }
    }
    if (bias != null) {
      try (Tensor b = bias.reshape(channelShape);
          Tensor prev = y) {
        y = prev.add(b);
      }
    }
    return y;
  }

  private static void updateRunning(NDArray running, NDArray batch, double momentum) {
    running.mulInPlace(1 - momentum);
    running.addInPlace(batch, momentum);
  }

  private static void checkBatch(Tensor input) {
    if (input.data().numel() / input.shape(1) <= 1) {
      throw new IllegalArgumentException(
          "Expected more than 1 value per channel when training, got input size "
              + Arrays.toString(input.shape()));
    }
  }

  /** Resets running_mean to 0, running_var to 1 and num_batches_tracked to 0. */
  public void resetRunningStats() {
    if (trackRunningStats) {
      runningMean().fill(0);
      runningVar().fill(1);
      buffer("num_batches_tracked").fill(0);
    }
  }

  public int numFeatures() {
    return numFeatures;
  }

  public double eps() {
    return eps;
  }

  /** The update factor, or null for a cumulative average. */
  public Double momentum() {
    return momentum;
  }

  /** The scale (C), or null when not affine. */
  public Parameter weight() {
    return weight;
  }

  /** The shift (C), or null when not affine. */
  public Parameter bias() {
    return bias;
  }

  public boolean tracksRunningStats() {
    return trackRunningStats;
  }

  /** The running mean (C), owned by this module; null when not tracking. */
  public NDArray runningMean() {
    return buffer("running_mean");
  }

  /** The running (unbiased) variance (C), owned by this module; null when not tracking. */
  public NDArray runningVar() {
    return buffer("running_var");
  }

  /** Training steps so far (0 when not tracking). */
  public long numBatchesTracked() {
    NDArray count = buffer("num_batches_tracked");
    return count == null ? 0 : (long) count.item();
  }

  @Override
  public String toString() {
    return getClass().getSimpleName()
        + "("
        + numFeatures
        + ", eps="
        + Repr.num(eps)
        + ", momentum="
        + (momentum == null ? "None" : Repr.num(momentum))
        + ", affine="
        + Repr.bool(weight != null)
        + ", track_running_stats="
        + Repr.bool(trackRunningStats)
        + ")";
  }
}
