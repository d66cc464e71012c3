package org.emberdl.federated.secagg;

import java.io.Serializable;

/**
 * Distributed Gaussian noise for differentially private secure aggregation: each client adds its
 * share of the noise to its own update <em>before</em> masking, so the server only ever sees noised
 * updates, and only their sum.
 *
 * <h2>The formula</h2>
 *
 * With noise multiplier {@code sigma}, L2 clipping norm {@code S} (each client's update has L2 norm
 * at most {@code S}) and {@code n} the number of clients the noise is calibrated for, each client
 * adds independent {@code N(0, sigma^2 S^2 / n)} to every coordinate: standard deviation {@link
 * #perClientStd()} {@code = sigma S / sqrt(n)}. Independent Gaussians add up, so the sum of {@code
 * m} clients' updates carries {@code N(0, m sigma^2 S^2 / n)} per coordinate, and exactly {@code
 * N(0, sigma^2 S^2)} when {@code m = n}: the Gaussian mechanism on the sum with noise multiplier
 * {@code sigma} that {@link org.emberdl.federated.dp.RdpAccountant} accounts for (user-level
 * adjacency: one client's whole update changes by at most {@code S}).
 *
 * <h2>Dropouts</h2>
 *
 * If fewer than {@code n} clients survive, the sum has less noise than intended: {@code sigma
 * sqrt(m / n)}. A round only completes with at least {@code t} (the threshold) survivors, so
 * calibrating for {@code n = t} guarantees at least the intended noise whenever the round
 * completes, at the cost of up to {@code sqrt(N / t)} times more noise with all {@code N} clients
 * present.
 *
 * <h2>Range</h2>
 *
 * The noise goes into the value that is encoded, so the {@linkplain FixedPointCodec#range() range}
 * must cover it too: {@code R >= S + k sigma S / sqrt(n)}; a coordinate of {@code N(0, 1)} exceeds
 * {@code k = 10} with probability about {@code 1.5e-23}. Beyond the range the client throws
 * (nothing wraps around silently).
 *
 * <h2>Caveats</h2>
 *
 * The noise is sampled in double precision (Box-Muller on 53-bit uniforms from an AES-CTR stream
 * keyed by 32 fresh random bytes) and each client's noised value is then rounded to the grid {@code
 * 2^-f}. A proof of the guarantee for exactly this discrete mechanism (as the distributed discrete
 * Gaussian of Kairouz, Liu and Steinke, ICML 2021, gives one) is not attempted here; with the
 * resolutions of {@link FixedPointCodec#forClients} the rounding is many orders of magnitude below
 * the noise. Clipping each update to {@code S} is the caller's job ({@link #clipToNorm}).
 */
public final class DistributedGaussianNoise implements Serializable {
  private static final long serialVersionUID = 1L;

  private final double noiseMultiplier;
  private final double clipNorm;
  private final int clients;

  /**
   * @param noiseMultiplier {@code sigma >= 0}
   * @param clipNorm {@code S > 0}, the L2 bound of each client's update
   * @param clients {@code n >= 1}, the number of clients the noise is split among (see the class
   *     documentation for why the threshold is the safe choice)
   */
  public DistributedGaussianNoise(double noiseMultiplier, double clipNorm, int clients) {
    if (!(noiseMultiplier >= 0) || Double.isInfinite(noiseMultiplier)) {
      throw new IllegalArgumentException(
          "noiseMultiplier must be finite and >= 0, got " + noiseMultiplier);
    }
    if (!(clipNorm > 0) || Double.isInfinite(clipNorm)) {
      throw new IllegalArgumentException("clipNorm must be finite and > 0, got " + clipNorm);
    }
    if (clients < 1) {
      throw new IllegalArgumentException("clients must be >= 1, got " + clients);
    }
    this.noiseMultiplier = noiseMultiplier;
    this.clipNorm = clipNorm;
    this.clients = clients;
  }

  public double noiseMultiplier() {
    return noiseMultiplier;
  }

  public double clipNorm() {
    return clipNorm;
  }

  public int clients() {
    return clients;
  }

  /** {@code sigma S / sqrt(n)}: the standard deviation each client adds per coordinate. */
  public double perClientStd() {
    return noiseMultiplier * clipNorm / Math.sqrt(clients);
  }

  /** {@code sigma S sqrt(m / n)}: the standard deviation in the sum of {@code m} clients. */
  public double sumStd(int contributors) {
    return perClientStd() * Math.sqrt(contributors);
  }

  /**
   * {@code length} independent samples of {@code N(0, perClientStd()^2)}, from a stream keyed by 32
   * bytes of {@code randomness}.
   */
  public double[] sample(int length, Randomness randomness) {
    byte[] key = new byte[32];
    randomness.nextBytes(key);
    Prg prg = new Prg(key);
    double std = perClientStd();
    double[] out = new double[length];
    for (int k = 0; k < length; k += 2) {
      // Box-Muller: u1 in (0, 1], u2 in [0, 1).
      double u1 = 1.0 - prg.nextDouble();
      double u2 = prg.nextDouble();
      double r = std * Math.sqrt(-2.0 * Math.log(u1));
      out[k] = r * Math.cos(2 * Math.PI * u2);
      if (k + 1 < length) {
        out[k + 1] = r * Math.sin(2 * Math.PI * u2);
      }
    }
    return out;
  }

  /**
   * Scales {@code values} in place so that their L2 norm is at most {@code norm}; returns the
   * factor applied (1 when already within). The factor is shrunk by {@code 2^-22} relative so that
   * the rounding of the scaled values to float cannot push the norm back above {@code norm}.
   *
   * @throws IllegalArgumentException if a value is NaN or infinite
   */
  public static double clipToNorm(float[] values, double norm) {
    double sq = 0;
    for (float v : values) {
      sq += (double) v * v;
    }
    double l2 = Math.sqrt(sq);
    if (!Double.isFinite(l2)) {
      throw new IllegalArgumentException("update has a NaN or infinite value (L2 norm " + l2 + ")");
    }
    if (l2 <= norm) {
      return 1.0;
    }
    double factor = norm / l2 * (1 - 0x1p-22);
    for (int k = 0; k < values.length; k++) {
      values[k] = (float) (values[k] * factor);
    }
    return factor;
  }

  @Override
  public String toString() {
    return "DistributedGaussianNoise[sigma="
        + noiseMultiplier
        + ", S="
        + clipNorm
        + ", n="
        + clients
        + ", perClientStd="
        + perClientStd()
        + "]";
  }
}
