package org.emberdl.federated.dp;

import org.emberdl.federated.Aggregator;
import org.emberdl.federated.Step;
import org.emberdl.federated.Update;
import org.emberdl.federated.UpdateKind;
import org.emberdl.tensor.random.Philox;

/**
 * Example-level DP-SGD across partitions (Abadi et al. 2016): every partition Poisson-samples its
 * examples with rate q and sends the sum of their per-example gradients, each clipped to L2 norm C
 * ({@link UpdateKind#CLIPPED_GRADIENT_SUM}); the partitions' sums add up to the sum over one
 * Poisson sample of the whole dataset. This aggregator adds {@code N(0, sigma^2 C^2 I)} once to
 * that total and divides by the expected batch size {@code qN}, which is exactly the mechanism
 * {@link RdpAccountant} accounts for with {@code withSteps(q, sigma, 1)} per call of {@link
 * #combine}.
 *
 * <p>Trust: the driver sees the total clipped sum before its noise (central DP: the released
 * weights are private, the driver is trusted). Secure aggregation with distributed noise is what
 * removes that trust ({@code org.emberdl.federated.secagg}).
 *
 * <p>The noise comes from a {@link NoiseSource}: keyed by ({@code seed}, round) by default, so a
 * rerun with the same seed, or a resumed run, draws the same noise; or from {@code SecureRandom}.
 * Each {@link #combine} starts drawing the next round's noise on a background daemon thread, so it
 * is ready when that round's sum arrives (same values as drawing it then).
 */
public final class DpSgdAggregator implements Aggregator {
  private static final long serialVersionUID = 1L;
  private static final long NOISE_SALT = 0x4450_5347_444e_4f49L;

  private final double clipNorm;
  private final double noiseMultiplier;
  private final double expectedBatchSize;
  private final NoiseSource noise;
  private long round;

  /** The next round's noise, drawn while the round runs (driver-side only, never serialized). */
  private transient NoisePrefetch prefetch;

  /**
   * @param clipNorm C, > 0
   * @param noiseMultiplier sigma, >= 0 (noise std sigma * C)
   * @param expectedBatchSize qN, > 0
   * @param seed the noise seed ({@link NoiseSource#seeded})
   * @param firstRound the global round the next {@link #combine} call is (for resumed runs)
   */
  public DpSgdAggregator(
      double clipNorm,
      double noiseMultiplier,
      double expectedBatchSize,
      long seed,
      long firstRound) {
    this(
        clipNorm,
        noiseMultiplier,
        expectedBatchSize,
        NoiseSource.seeded(seed ^ NOISE_SALT),
        firstRound);
  }

  /** As above, with the noise from {@code noise}. */
  public DpSgdAggregator(
      double clipNorm,
      double noiseMultiplier,
      double expectedBatchSize,
      NoiseSource noise,
      long firstRound) {
    if (!(clipNorm > 0) || !(noiseMultiplier >= 0) || !(expectedBatchSize > 0) || firstRound < 0) {
      throw new IllegalArgumentException(
          "DP-SGD needs clipNorm > 0, noiseMultiplier >= 0, expectedBatchSize > 0 and a round >="
              + " 0; got "
              + clipNorm
              + ", "
              + noiseMultiplier
              + ", "
              + expectedBatchSize
              + ", "
              + firstRound);
    }
    this.clipNorm = clipNorm;
    this.noiseMultiplier = noiseMultiplier;
    this.expectedBatchSize = expectedBatchSize;
    this.noise = noise;
    this.round = firstRound;
    if (noiseMultiplier > 0) {
      Philox.expectManyNormals(); // one normal per parameter per step from here on
    }
  }

  @Override
  public UpdateKind updateKind() {
    return UpdateKind.CLIPPED_GRADIENT_SUM;
  }

  /**
   * The noisy mean gradient {@code (sum + N(0, sigma^2 C^2 I)) / (qN)}; never divides by the sample
   * size.
   */
  @Override
  public Step combine(Update total) {
    double std = noiseMultiplier * clipNorm;
    float[] sum = total.values();
    float[] drawn = null;
    if (noise != null && std > 0) {
      drawn = prefetch().take(sum.length, std, round);
    }
    round++;
    return new Step(Step.Kind.GRADIENT, NoiseSource.noisyMean(drawn, sum, expectedBatchSize), null);
  }

  private synchronized NoisePrefetch prefetch() {
    if (prefetch == null) {
      prefetch = new NoisePrefetch(noise);
    }
    return prefetch;
  }

  public double noiseMultiplier() {
    return noiseMultiplier;
  }

  @Override
  public String name() {
    return "dp-sgd";
  }
}
