package org.emberdl.federated.secagg;

import java.io.Serializable;

/**
 * What the server and all clients of one round agree on beforehand (a driver broadcasts it).
 *
 * @param sessionId unique per round and never reused: it goes into every derived key, and every
 *     round must use fresh keys
 * @param threshold {@code t >= 2}: the Shamir threshold, and the fewest clients a round may go on
 *     with at any step. Secrecy holds against the server together with fewer than {@code t} clients
 *     (see the package documentation); {@code t > n/2} is the usual choice
 * @param vectorLength the number of coordinates of every update
 * @param codec the fixed-point encoding
 * @param noise distributed DP noise each client adds before masking, or null for none
 * @param noisedLength how many leading coordinates get the noise ({@code vectorLength} unless
 *     given): the rest are summed exactly, e.g. example counts that travel with a clipped update
 *     and must not widen its sensitivity
 */
public record SecureAggregationParameters(
    String sessionId,
    int threshold,
    int vectorLength,
    FixedPointCodec codec,
    DistributedGaussianNoise noise,
    int noisedLength)
    implements Serializable {
  public SecureAggregationParameters {
    if (sessionId == null || sessionId.isEmpty()) {
      throw new IllegalArgumentException("sessionId must not be empty");
    }
    if (threshold < 2) {
      throw new IllegalArgumentException("threshold must be >= 2, got " + threshold);
    }
    if (vectorLength < 0) {
      throw new IllegalArgumentException("vectorLength must be >= 0, got " + vectorLength);
    }
    if (codec == null) {
      throw new IllegalArgumentException("codec must not be null");
    }
    if (noisedLength < 0 || noisedLength > vectorLength) {
      throw new IllegalArgumentException(
          "noisedLength must be in [0, vectorLength " + vectorLength + "], got " + noisedLength);
    }
  }

  /** Parameters whose noise (if any) covers every coordinate. */
  public SecureAggregationParameters(
      String sessionId,
      int threshold,
      int vectorLength,
      FixedPointCodec codec,
      DistributedGaussianNoise noise) {
    this(sessionId, threshold, vectorLength, codec, noise, vectorLength);
  }

  /** Parameters without noise. */
  public SecureAggregationParameters(
      String sessionId, int threshold, int vectorLength, FixedPointCodec codec) {
    this(sessionId, threshold, vectorLength, codec, null);
  }

  /** The same parameters with distributed noise. */
  public SecureAggregationParameters withNoise(DistributedGaussianNoise noise) {
    return new SecureAggregationParameters(
        sessionId, threshold, vectorLength, codec, noise, noisedLength);
  }

  void checkSession(String other, String what) {
    if (!sessionId.equals(other)) {
      throw new IllegalArgumentException(
          what + " belongs to session '" + other + "', not '" + sessionId + "'");
    }
  }
}
