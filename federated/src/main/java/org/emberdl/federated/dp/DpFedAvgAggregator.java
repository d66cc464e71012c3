package org.emberdl.federated.dp;

import org.emberdl.federated.Aggregator;
import org.emberdl.federated.ServerOptimizer;
import org.emberdl.federated.Step;
import org.emberdl.federated.Update;
import org.emberdl.federated.UpdateKind;

/**
 * Client-level differentially private federated averaging, DP-FedAvg (McMahan, Ramage, Talwar and
 * Zhang, "Learning Differentially Private Recurrent Language Models", ICLR 2018, Algorithm 1 with
 * uniform client weights and the fixed-denominator estimator).
 *
 * <p>Each round every client is sampled independently with probability {@code q}; each sampled
 * client trains locally from the round's weights and sends its delta clipped to L2 norm {@code S}
 * ({@link UpdateKind#CLIPPED_DELTA_SUM}, clipped by {@code DistributedGaussianNoise.clipToNorm}).
 * Adding or removing one client changes the sum of clipped deltas by at most {@code S}, so the sum
 * plus {@code N(0, z^2 S^2 I)} is the sampled Gaussian mechanism with sampling rate {@code q} and
 * noise multiplier {@code z} that {@link RdpAccountant} accounts for with {@code withSteps(q, z,
 * 1)} per round, for client-level adjacency. This aggregator divides the noisy sum by the
 * <em>expected</em> number of clients {@code qK} (never by the number actually sampled, which would
 * depend on the data set's clients and break the sensitivity bound) and the server applies {@code w
 * += eta * that}.
 *
 * <p>Where the noise is added: {@linkplain #central central} noise is drawn here, on the driver,
 * from the sum of clipped deltas (the driver is trusted with that sum); with secure aggregation the
 * clients add their shares of it before masking ({@code
 * org.emberdl.federated.secagg.DistributedGaussianNoise}, at least {@code N(0, z^2 S^2)} in total
 * whenever a round completes) and this aggregator, built {@linkplain #distributed distributed},
 * adds none.
 */
public final class DpFedAvgAggregator implements Aggregator {
  private static final long serialVersionUID = 1L;
  private static final long NOISE_SALT = 0x4450_4641_5647_4e4fL;

  private final double clipNorm;
  private final double noiseMultiplier;
  private final double expectedClients;
  private final ServerOptimizer server;
  private final NoiseSource noise;
  private long round;

  private DpFedAvgAggregator(
      double clipNorm,
      double noiseMultiplier,
      double expectedClients,
      ServerOptimizer server,
      NoiseSource noise,
      long firstRound) {
    if (!(clipNorm > 0) || !(noiseMultiplier >= 0) || !(expectedClients > 0) || firstRound < 0) {
      throw new IllegalArgumentException(
          "DP-FedAvg needs clipNorm > 0, noiseMultiplier >= 0, expectedClients > 0 and a round"
              + " >= 0; got "
              + clipNorm
              + ", "
              + noiseMultiplier
              + ", "
              + expectedClients
              + ", "
              + firstRound);
    }
    this.clipNorm = clipNorm;
    this.noiseMultiplier = noiseMultiplier;
    this.expectedClients = expectedClients;
    this.server = server;
    this.noise = noise;
    this.round = firstRound;
  }

  /**
   * DP-FedAvg with the noise added here, on the driver.
   *
   * @param clipNorm S, the clients' delta bound
   * @param noiseMultiplier z: the noise std on the sum is {@code z * S}
   * @param expectedClients qK, the fixed denominator
   * @param server the server's step on the noisy average
   * @param seed keys the noise of round r as ({@code seed}, r) ({@link NoiseSource#seeded})
   * @param firstRound the global round the next {@link #combine} call is (for resumed runs)
   */
  public static DpFedAvgAggregator central(
      double clipNorm,
      double noiseMultiplier,
      double expectedClients,
      ServerOptimizer server,
      long seed,
      long firstRound) {
    return central(
        clipNorm,
        noiseMultiplier,
        expectedClients,
        server,
        NoiseSource.seeded(seed ^ NOISE_SALT),
        firstRound);
  }

  /** As above, with the noise from {@code noise}. */
  public static DpFedAvgAggregator central(
      double clipNorm,
      double noiseMultiplier,
      double expectedClients,
      ServerOptimizer server,
      NoiseSource noise,
      long firstRound) {
    return new DpFedAvgAggregator(
        clipNorm, noiseMultiplier, expectedClients, server, noise, firstRound);
  }

  /** DP-FedAvg whose sums already carry the clients' distributed noise: adds none. */
  public static DpFedAvgAggregator distributed(
      double clipNorm, double noiseMultiplier, double expectedClients, ServerOptimizer server) {
    return new DpFedAvgAggregator(clipNorm, noiseMultiplier, expectedClients, server, null, 0);
  }

  @Override
  public UpdateKind updateKind() {
    return UpdateKind.CLIPPED_DELTA_SUM;
  }

  /**
   * The server's step on {@code (sum + N(0, z^2 S^2 I)) / (qK)} (noise only when central), as a
   * delta.
   */
  @Override
  public Step combine(Update total) {
    float[] mean =
        NoiseSource.noisyMean(
            noise, total.values(), noiseMultiplier * clipNorm, round++, expectedClients);
    return new Step(Step.Kind.DELTA, server.step(mean), null);
  }

  public double noiseMultiplier() {
    return noiseMultiplier;
  }

  public double clipNorm() {
    return clipNorm;
  }

  /** Whether this aggregator adds the noise (false: the clients did). */
  public boolean addsNoise() {
    return noise != null;
  }

  @Override
  public String name() {
    return noise != null ? "dp-fedavg" : "dp-fedavg (distributed noise)";
  }
}
