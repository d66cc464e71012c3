package org.emberdl.federated.dp;

import java.io.Serializable;
import java.security.SecureRandom;
import java.util.Arrays;
import org.emberdl.federated.secagg.Randomness;

/**
 * Poisson sampling that whoever knows the public seed cannot predict ({@code secureNoise=true}).
 *
 * <p>The privacy amplification the accountant credits to sampling holds only if the sample is
 * secret: a sample derived from the stage's seed can be recomputed by anyone who knows the seed,
 * who then knows exactly which examples (or clients) each step used. So under secure noise the
 * sample comes from a per-fit secret key: 32 bytes of {@link SecureRandom} drawn on the driver when
 * the fit starts, never logged ({@link #toString()} hides it) nor persisted. Each (round, stream)
 * draws its uniforms from the AES-256-CTR keystream of an HKDF-derived key, so the sample is
 * <em>deterministic given the key</em>: a task Spark retries, on any executor, replays the same
 * sample, as the architecture's determinism rule requires. A new fit (including a resumed one)
 * draws a new key.
 *
 * <p>Why a key rather than shipping each round's sample from the driver: DP-SGD samples rows on the
 * executors, where the driver does not hold the data; shipping a bit per row each step would cost
 * as much as the rows' count, and the key does the same job in 32 bytes. The key travels to the
 * executors inside the task closures, so Spark's RPC encryption ({@code
 * spark.network.crypto.enabled}) should be on where the network is not trusted.
 */
public final class SecretSampler implements Serializable {
  private static final long serialVersionUID = 1L;

  private final byte[] key;

  private SecretSampler(byte[] key) {
    this.key = key;
  }

  /** A sampler with a fresh 32-byte key from {@link SecureRandom}. */
  public static SecretSampler fresh() {
    byte[] key = new byte[32];
    new SecureRandom().nextBytes(key);
    return new SecretSampler(key);
  }

  /**
   * The indices in {@code [0, n)} drawn each independently with probability {@code q}, in
   * increasing order, for sampling {@code round} of {@code stream} (e.g. a partition); the same
   * every time for the same key and arguments.
   */
  public int[] poissonSample(int n, double q, long round, int stream) {
    if (n < 0) {
      throw new IllegalArgumentException("n must be >= 0, got " + n);
    }
    if (!(q >= 0 && q <= 1)) {
      throw new IllegalArgumentException("q must be in [0, 1], got " + q);
    }
    Randomness r = Randomness.derived(key, "poisson", (int) (round >>> 32), (int) round, stream);
    byte[] bytes = new byte[8 * Math.min(n, 4096)];
    int[] out = new int[n];
    int k = 0;
    for (int start = 0; start < n; start += 4096) {
      int m = Math.min(4096, n - start);
      r.nextBytes(bytes);
      for (int i = 0; i < m; i++) {
        long word = 0;
        for (int b = 0; b < 8; b++) {
          word = (word << 8) | (bytes[8 * i + b] & 0xff);
        }
        // 53 random bits: a uniform double in [0, 1), so P(u < q) = q up to 2^-53
        double u = (word >>> 11) * 0x1.0p-53;
        if (u < q) {
          out[k++] = start + i;
        }
      }
    }
    return Arrays.copyOf(out, k);
  }

  @Override
  public String toString() {
    return "SecretSampler[key hidden]";
  }
}
