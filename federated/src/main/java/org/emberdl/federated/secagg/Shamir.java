package org.emberdl.federated.secagg;

import java.math.BigInteger;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Shamir's t-of-n secret sharing over the prime field {@code GF(p)}, {@code p = 2^521 - 1} (the
 * Mersenne prime M521).
 *
 * <p>A secret of up to 32 bytes (an X25519 private key or a self-mask seed) is read as an unsigned
 * big-endian integer {@code s < 2^256 < p} and is the constant term of a polynomial {@code f} of
 * degree {@code t - 1} whose other coefficients are uniform in the field; holder {@code h} (a
 * client id {@code >= 0}) gets {@code f(h + 1)}. Any {@code t} shares give {@code s} back by
 * Lagrange interpolation at 0; any {@code t - 1} are uniformly distributed whatever {@code s} is.
 *
 * <p>Why this field: one element holds a whole 256-bit secret, so nothing is split into chunks, and
 * the 265 bits of headroom are a sanity check. Interpolating shares that do not belong together
 * (too few, mixed from two secrets, sessions or thresholds, or overwritten with random values)
 * gives an essentially uniform field element, which is below {@code 2^256} with probability {@code
 * 2^-265}: {@link #reconstruct} then throws rather than return garbage. The check is no integrity
 * protection: adding {@code d} to one share shifts the result by {@code lambda d} (its Lagrange
 * coefficient times {@code d}), which passes when small. The protocol therefore checks what it
 * reconstructs (a mask key against its public key, a self-mask seed against its commitment). A
 * share costs 66 bytes.
 */
public final class Shamir {
  /** The field modulus {@code 2^521 - 1}. */
  public static final BigInteger PRIME = BigInteger.ONE.shiftLeft(521).subtract(BigInteger.ONE);

  /** Bytes of one encoded field element (521 bits). */
  public static final int ELEMENT_BYTES = 66;

  /** Largest secret, in bytes, that {@link #split} takes. */
  public static final int MAX_SECRET_BYTES = 32;

  private Shamir() {}

  /**
   * Shares {@code secret} among {@code holders} so that any {@code threshold} of them can recover
   * it.
   *
   * @param secret at most 32 bytes
   * @param threshold {@code t}, between 1 and the number of holders
   * @param holders distinct client ids, each {@code >= 0}
   * @param randomness source of the polynomial's coefficients
   * @return each holder's share, by holder id
   */
  public static SortedMap<Integer, BigInteger> split(
      byte[] secret, int threshold, Collection<Integer> holders, Randomness randomness) {
    if (secret.length > MAX_SECRET_BYTES) {
      throw new IllegalArgumentException(
          "secrets are at most " + MAX_SECRET_BYTES + " bytes, got " + secret.length);
    }
    if (threshold < 1 || threshold > holders.size()) {
      throw new IllegalArgumentException(
          "threshold must be in [1, "
              + holders.size()
              + "] (the number of holders), got "
              + threshold);
    }
    BigInteger[] coefficients = new BigInteger[threshold];
    coefficients[0] = new BigInteger(1, secret);
    for (int i = 1; i < threshold; i++) {
      coefficients[i] = randomElement(randomness);
    }
    SortedMap<Integer, BigInteger> shares = new TreeMap<>();
    for (int holder : holders) {
      BigInteger x = x(holder);
      BigInteger y = BigInteger.ZERO;
      for (int i = threshold - 1; i >= 0; i--) {
        y = y.multiply(x).add(coefficients[i]).mod(PRIME);
      }
      if (shares.put(holder, y) != null) {
        throw new IllegalArgumentException("holder " + holder + " listed twice");
      }
    }
    Arrays.fill(coefficients, BigInteger.ZERO);
    return shares;
  }

  /**
   * Recovers a secret of {@code secretBytes} bytes from at least {@code threshold} shares (the
   * {@code threshold} of smallest holder id are used).
   *
   * @param what names the secret in exception messages, e.g. "the self-mask seed of client 3"
   * @throws BelowThresholdException with fewer than {@code threshold} shares, naming how many were
   *     available and needed
   * @throws IllegalStateException when the shares do not interpolate to a {@code secretBytes}-byte
   *     value, i.e. they do not belong to one sharing of one secret with this threshold
   */
  public static byte[] reconstruct(
      Map<Integer, BigInteger> shares, int threshold, int secretBytes, String what) {
    return reconstruct(shares, threshold, secretBytes, what, new HashMap<>());
  }

  /**
   * {@link #reconstruct} with a cache of Lagrange coefficients by holder set, for recovering many
   * secrets from the shares of the same holders (as the server does).
   */
  static byte[] reconstruct(
      Map<Integer, BigInteger> shares,
      int threshold,
      int secretBytes,
      String what,
      Map<List<Integer>, BigInteger[]> coefficientCache) {
    if (shares.size() < threshold) {
      throw new BelowThresholdException(
          "cannot reconstruct " + what + " from shares", shares.size(), threshold);
    }
    List<Integer> holders = new TreeMap<>(shares).keySet().stream().limit(threshold).toList();
    BigInteger[] lambda = coefficientCache.computeIfAbsent(holders, Shamir::lagrangeAtZero);
    BigInteger s = combine(holders, lambda, shares);
    if (s.bitLength() > 8 * secretBytes) {
      throw new IllegalStateException(
          "reconstructing "
              + what
              + " from "
              + threshold
              + " shares gave a value that is not a "
              + secretBytes
              + "-byte secret: the shares are inconsistent (corrupted, from different secrets or"
              + " sessions, or shared with a higher threshold)");
    }
    return toBytes(s, secretBytes);
  }

  /**
   * The value at 0 of the polynomial of degree {@code shares.size() - 1} through the shares: the
   * secret when there are exactly {@code t} consistent shares, an unrelated field element with
   * fewer. No checks; {@link #reconstruct} is the safe entry point.
   */
  static BigInteger interpolateAtZero(Map<Integer, BigInteger> shares) {
    List<Integer> holders = new TreeMap<>(shares).keySet().stream().toList();
    return combine(holders, lagrangeAtZero(holders), shares);
  }

  /** The Lagrange basis at 0: {@code lambda_i = prod_{j != i} x_j / (x_j - x_i)}. */
  private static BigInteger[] lagrangeAtZero(List<Integer> holders) {
    BigInteger[] lambda = new BigInteger[holders.size()];
    for (int i = 0; i < lambda.length; i++) {
      BigInteger num = BigInteger.ONE;
      BigInteger den = BigInteger.ONE;
      BigInteger xi = x(holders.get(i));
      for (int j = 0; j < lambda.length; j++) {
        if (j != i) {
          BigInteger xj = x(holders.get(j));
          num = num.multiply(xj).mod(PRIME);
          den = den.multiply(xj.subtract(xi)).mod(PRIME);
        }
      }
      lambda[i] = num.multiply(den.modInverse(PRIME)).mod(PRIME);
    }
    return lambda;
  }

  private static BigInteger combine(
      List<Integer> holders, BigInteger[] lambda, Map<Integer, BigInteger> shares) {
    BigInteger sum = BigInteger.ZERO;
    for (int i = 0; i < lambda.length; i++) {
      sum = sum.add(shares.get(holders.get(i)).multiply(lambda[i]));
    }
    return sum.mod(PRIME);
  }

  /** The fixed-length big-endian encoding of a field element, for messages. */
  static byte[] encodeElement(BigInteger e) {
    if (e.signum() < 0 || e.compareTo(PRIME) >= 0) {
      throw new IllegalArgumentException("not a field element");
    }
    return toBytes(e, ELEMENT_BYTES);
  }

  /** Inverse of {@link #encodeElement}. */
  static BigInteger decodeElement(byte[] bytes, int offset) {
    BigInteger e = new BigInteger(1, Arrays.copyOfRange(bytes, offset, offset + ELEMENT_BYTES));
    if (e.compareTo(PRIME) >= 0) {
      throw new IllegalArgumentException("not a field element");
    }
    return e;
  }

  private static BigInteger x(int holder) {
    if (holder < 0) {
      throw new IllegalArgumentException("holder ids must be >= 0, got " + holder);
    }
    return BigInteger.valueOf(holder + 1L);
  }

  /** Uniform in {@code [0, p)}: 521 random bits, redrawn in the 2^-521 case that they equal p. */
  private static BigInteger randomElement(Randomness randomness) {
    byte[] bytes = new byte[ELEMENT_BYTES];
    while (true) {
      randomness.nextBytes(bytes);
      bytes[0] &= 0x01;
      BigInteger e = new BigInteger(1, bytes);
      if (e.compareTo(PRIME) < 0) {
        return e;
      }
    }
  }

  private static byte[] toBytes(BigInteger v, int length) {
    byte[] raw = v.toByteArray();
    byte[] out = new byte[length];
    int n = Math.min(raw.length, length);
    System.arraycopy(raw, raw.length - n, out, length - n, n);
    return out;
  }
}
