package org.emberdl.federated.dp;

import java.io.Serializable;
import org.emberdl.federated.secagg.DistributedGaussianNoise;
import org.emberdl.federated.secagg.Randomness;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.random.Philox;

/**
 * Where a central DP aggregator's Gaussian noise comes from.
 *
 * <ul>
 *   <li>{@link #seeded(long)}: Ember's counter-based generator keyed by (seed, round): a rerun with
 *       the same seed draws the same noise (reproducible experiments, resumed runs), as Opacus'
 *       default mode does. Whoever knows the seed can recompute the noise and subtract it, so the
 *       guarantee only holds against parties who do not know the seed.
 *   <li>{@link #secure()}: fresh noise from an AES-256-CTR stream keyed by 32 bytes of {@link
 *       java.security.SecureRandom} every round (as Opacus' {@code secure_mode}); not reproducible.
 * </ul>
 */
public abstract class NoiseSource implements Serializable {
  private static final long serialVersionUID = 1L;

  private NoiseSource() {}

  /** {@code n} independent {@code N(0, std^2)} values for global round {@code round}. */
  public abstract float[] sample(int n, double std, long round);

  /** Whether the noise is drawn from {@code SecureRandom}. */
  public abstract boolean isSecure();

  /**
   * {@code (sum + N(0, std^2 I)) / denominator} in double precision, the noise of global round
   * {@code round} from {@code source}; none when {@code source} is null or {@code std} is 0.
   */
  static float[] noisyMean(
      NoiseSource source, float[] sum, double std, long round, double denominator) {
    float[] noise = source != null && std > 0 ? source.sample(sum.length, std, round) : null;
    return noisyMean(noise, sum, denominator);
  }

  /** {@code (sum + noise) / denominator} in double precision; {@code noise} may be null. */
  static float[] noisyMean(float[] noise, float[] sum, double denominator) {
    double scale = 1.0 / denominator;
    float[] out = new float[sum.length];
    for (int i = 0; i < sum.length; i++) {
      out[i] = (float) (((double) sum[i] + (noise == null ? 0 : noise[i])) * scale);
    }
    return out;
  }

  /** Noise keyed by ({@code seed}, round). */
  public static NoiseSource seeded(long seed) {
    return new Seeded(seed);
  }

  /** Noise from {@code SecureRandom}. */
  public static NoiseSource secure() {
    return new Secure();
  }

  private static final class Seeded extends NoiseSource {
    private static final long serialVersionUID = 1L;
    private final long seed;

    Seeded(long seed) {
      this.seed = seed;
    }

    /**
     * The values of {@code NDArray.normal(Generator.forTask(seed, round, 0), FLOAT32, 0, std, n)},
     * drawn straight into the heap array: no array memory, so a draw on the background thread
     * ({@link NoisePrefetch}) never shows in the allocator's count.
     */
    @Override
    public float[] sample(int n, double std, long round) {
      if (!(std >= 0)) {
        throw new IllegalArgumentException("normal std must be >= 0, got " + std);
      }
      Generator gen = Generator.forTask(seed, round, 0);
      long offset = gen.reserveNormal(n, DType.FLOAT32);
      float[] out = new float[n];
      new Philox(gen.seed(), gen.stream()).normal(offset, out, 0, n, 0f, (float) std);
      return out;
    }

    @Override
    public boolean isSecure() {
      return false;
    }
  }

  private static final class Secure extends NoiseSource {
    private static final long serialVersionUID = 1L;

    @Override
    public float[] sample(int n, double std, long round) {
      float[] out = new float[n];
      if (std > 0) {
        double[] d = new DistributedGaussianNoise(1, std, 1).sample(n, Randomness.secure());
        for (int i = 0; i < n; i++) {
          out[i] = (float) d[i];
        }
      }
      return out;
    }

    @Override
    public boolean isSecure() {
      return true;
    }
  }
}
