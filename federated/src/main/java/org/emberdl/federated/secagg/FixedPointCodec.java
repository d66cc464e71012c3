package org.emberdl.federated.secagg;

import java.io.Serializable;

/**
 * Fixed-point encoding of float updates into the ring {@code Z_(2^64)}, where masking happens.
 *
 * <h2>The encoding</h2>
 *
 * A value {@code x} with {@code |x| <= R} (the {@linkplain #range() range}) is encoded as the
 * integer {@code e(x) = round(x * 2^f)} ({@code f} {@linkplain #fractionalBits() fractional bits};
 * to nearest, ties toward positive infinity, as {@link Math#round(double)}), stored in a Java
 * {@code long} whose two's-complement bits are read as an element of {@code Z_(2^64)}: Java's
 * {@code long} addition and subtraction are exactly the ring's. Values are never clipped silently:
 * one outside {@code [-R, R]} (or NaN, or infinite) is rejected with an exception that names it and
 * the range. The caller bounds its update beforehand, e.g. by clipping its L2 norm to {@code S},
 * which bounds every coordinate by {@code S}; with {@linkplain DistributedGaussianNoise distributed
 * noise} the range must also cover the noise (see there).
 *
 * <h2>Why the sum cannot overflow</h2>
 *
 * Rounding is monotone, so {@code |e(x)| <= M = round(R * 2^f)}. For {@code n} clients the exact
 * integer sum lies in {@code [-n M, n M]}; the codec accepts {@code n} only when {@code n M <= 2^63
 * - 1} ({@link #checkCapacity}), so that sum is one of the ring's signed representatives and {@link
 * #decode} reads it back exactly. The server and every client check the number of clients of a
 * round against this before any masking.
 *
 * <h2>Error of the decoded sum</h2>
 *
 * {@code x * 2^f} is exact in double precision (a float times a power of two), so each encoded
 * value is within {@code 2^-(f+1)} of {@code x}, and the decoded integer sum {@code E / 2^f} is
 * within {@code n * 2^-(f+1)} ({@link #sumErrorBound}) of the exact real sum of the {@code n}
 * values. Returning it as a float adds one rounding: relative error at most {@code 2^-24 + 2^-52}
 * (through double), i.e. at most one float ulp of the result.
 *
 * <h2>Choosing f</h2>
 *
 * {@link #forClients} takes the largest {@code f <= 62} with {@code n * round(R * 2^f) <= 2^63 -
 * 1}: about {@code 63 - log2(n R)} fractional bits. For {@code R = 1} and 1000 clients that is
 * {@code f = 53}, an error bound of {@code 1000 * 2^-54 ~ 5.6e-14} on the sum, far below float
 * precision. Choosing {@code Z_(2^64)} over {@code Z_(2^32)} doubles the masked vector (8 bytes a
 * coordinate) but leaves 32 more bits to share between range, precision and client count: with
 * {@code Z_(2^32)}, 100 clients and {@code R = 1} would get only {@code f = 24}.
 */
public final class FixedPointCodec implements Serializable {
  private static final long serialVersionUID = 1L;

  /** Largest number of fractional bits. */
  public static final int MAX_FRACTIONAL_BITS = 62;

  private final double range;
  private final int fractionalBits;

  /**
   * @param range {@code R > 0}: values must lie in {@code [-R, R]}
   * @param fractionalBits {@code f} in {@code [0, 62]}: the resolution is {@code 2^-f}
   * @throws IllegalArgumentException if {@code round(R * 2^f)} does not fit one client in the ring
   */
  public FixedPointCodec(double range, int fractionalBits) {
    if (!(range > 0) || Double.isInfinite(range)) {
      throw new IllegalArgumentException("range must be finite and > 0, got " + range);
    }
    if (fractionalBits < 0 || fractionalBits > MAX_FRACTIONAL_BITS) {
      throw new IllegalArgumentException(
          "fractionalBits must be in [0, " + MAX_FRACTIONAL_BITS + "], got " + fractionalBits);
    }
    if (Math.scalb(range, fractionalBits) >= 0x1p63) {
      throw new IllegalArgumentException(
          "range " + range + " at " + fractionalBits + " fractional bits does not fit 64 bits");
    }
    this.range = range;
    this.fractionalBits = fractionalBits;
  }

  /**
   * The most precise codec for {@code maxClients} clients with values in {@code [-range, range]}.
   *
   * @throws IllegalArgumentException if even {@code f = 0} overflows for that many clients
   */
  public static FixedPointCodec forClients(double range, int maxClients) {
    if (maxClients < 1) {
      throw new IllegalArgumentException("maxClients must be >= 1, got " + maxClients);
    }
    for (int f = MAX_FRACTIONAL_BITS; f >= 0; f--) {
      if (Math.scalb(range, f) < 0x1p63) {
        FixedPointCodec codec = new FixedPointCodec(range, f);
        if (codec.maxClients() >= maxClients) {
          return codec;
        }
      }
    }
    new FixedPointCodec(range, 0).checkCapacity(maxClients);
    throw new AssertionError("unreachable");
  }

  /** {@code R}: encodable values lie in {@code [-R, R]}. */
  public double range() {
    return range;
  }

  /** {@code f}: values are rounded to multiples of {@code 2^-f}. */
  public int fractionalBits() {
    return fractionalBits;
  }

  /** {@code M = round(R * 2^f)}, the largest magnitude of an encoded value. */
  public long maxEncoded() {
    return Math.round(Math.scalb(range, fractionalBits));
  }

  /** The largest {@code n} with {@code n * M <= 2^63 - 1}. */
  public long maxClients() {
    long m = maxEncoded();
    return m == 0 ? Long.MAX_VALUE : Long.MAX_VALUE / m;
  }

  /**
   * Checks that the sum of {@code clients} encoded values cannot overflow.
   *
   * @throws IllegalArgumentException naming the client count, the range and the limit otherwise
   */
  public void checkCapacity(long clients) {
    if (clients > maxClients()) {
      throw new IllegalArgumentException(
          clients
              + " clients with values in [-"
              + range
              + ", "
              + range
              + "] at "
              + fractionalBits
              + " fractional bits could overflow the ring Z_(2^64): at most "
              + maxClients()
              + " clients fit; use a smaller range or fewer fractional bits");
    }
  }

  /** {@code n * 2^-(f+1)}: the bound on {@code |decoded integer sum - exact sum|} of n values. */
  public double sumErrorBound(int clients) {
    return clients * Math.scalb(1.0, -(fractionalBits + 1));
  }

  /**
   * Encodes one value.
   *
   * @throws IllegalArgumentException if {@code x} is NaN, infinite or outside {@code [-R, R]}
   */
  public long encode(double x) {
    if (!(Math.abs(x) <= range)) {
      throw outOfRange(x, -1);
    }
    return Math.round(Math.scalb(x, fractionalBits));
  }

  /**
   * Encodes {@code values[k] + noise[k]} (the sum in double precision; {@code noise} may be null)
   * into {@code out}.
   *
   * @throws IllegalArgumentException naming the first value (and its index) outside {@code [-R, R]}
   */
  public void encode(float[] values, double[] noise, long[] out) {
    if (out.length != values.length || (noise != null && noise.length != values.length)) {
      throw new IllegalArgumentException(
          "lengths differ: values "
              + values.length
              + ", noise "
              + (noise == null ? "none" : noise.length)
              + ", out "
              + out.length);
    }
    for (int k = 0; k < values.length; k++) {
      double x = noise == null ? values[k] : values[k] + noise[k];
      if (!(Math.abs(x) <= range)) {
        throw outOfRange(x, k);
      }
      out[k] = Math.round(Math.scalb(x, fractionalBits));
    }
  }

  /** Reads a ring sum (of at most {@link #maxClients()} encoded values) back as floats. */
  public float[] decode(long[] sum) {
    float[] out = new float[sum.length];
    for (int k = 0; k < sum.length; k++) {
      out[k] = (float) Math.scalb((double) sum[k], -fractionalBits);
    }
    return out;
  }

  private IllegalArgumentException outOfRange(double x, int index) {
    return new IllegalArgumentException(
        "value "
            + x
            + (index >= 0 ? " at index " + index : "")
            + " is outside the range [-"
            + range
            + ", "
            + range
            + "] of the fixed-point encoding (clip the update first, and leave room for"
            + " noise)");
  }

  @Override
  public String toString() {
    return "FixedPointCodec[range=" + range + ", fractionalBits=" + fractionalBits + "]";
  }
}
