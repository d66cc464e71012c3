package org.emberdl.tensor.random;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The float Box-Muller transform of {@link Philox#normal(long, float[], int, int, float, float)}
 * with the Vector API, four pairs at a time in 256-bit lanes. It performs, lane by lane, exactly
 * the double operations of the scalar code ({@code Philox.logScaled}, {@code sinTurns}, {@code
 * cosTurns}) in the same order, and Java vector arithmetic is IEEE like scalar arithmetic (no fused
 * multiply-add unless asked for), so every value is bit-for-bit the one the scalar code gives. The
 * only differences are in how integers become doubles: by adding their bits to those of 1.5 * 2^52
 * (exact for the small integers here) rather than by a conversion instruction, which AVX2 lacks for
 * 64-bit lanes, and exponent and fraction of {@code 2^32 - word} read from its (exact) double
 * rather than from a leading-zero count.
 *
 * <p>Only {@link VectorNormalSwitch} loads this class, and only when the {@code
 * jdk.incubator.vector} module is present and C2 compiles it; elsewhere the Vector API runs as
 * plain Java at a few microseconds per operation.
 *
 * <p>The work is four short loops, not one: C2 stops inlining a method once its graph grows past a
 * fixed node count (NodeCountInliningCutoff), and each Vector API operation parses into many nodes;
 * a loop that is cut off boxes its vectors and runs about ten times slower.
 */
final class VectorNormal {
  private VectorNormal() {}

  private static final VectorSpecies<Long> L = LongVector.SPECIES_256;
  private static final VectorSpecies<Double> D = DoubleVector.SPECIES_256;
  private static final VectorSpecies<Integer> I = IntVector.SPECIES_256;

  /** Pairs per vector. */
  static final int LANES = 4;

  private static final long MASK32 = 0xFFFFFFFFL;
  private static final long FRACTION = 0x000F_FFFF_FFFF_FFFFL;
  private static final long SQRT2_MANTISSA =
      Double.doubleToRawLongBits(1.4142135623730951) & FRACTION;
  private static final double LN2_HI = 6.93147180369123816490e-01;
  private static final double LN2_LO = 1.90821492927058770002e-10;
  private static final long MAGIC_BITS = 0x4338_0000_0000_0000L;
  private static final double MAGIC = 0x1.8p52;
  private static final double TWO_PI = 2 * Math.PI;

  /** Whether this CPU runs 256-bit long and double vectors natively (AVX2 and up). */
  static boolean supported() {
    return LongVector.SPECIES_PREFERRED.vectorBitSize() >= 256
        && DoubleVector.SPECIES_PREFERRED.vectorBitSize() >= 256;
  }

  /**
   * Values of {@code pairs} whole pairs (a multiple of {@link #LANES}): pair {@code t} reads words
   * {@code buf[pos + 2t]} ({@code u1}) and {@code buf[pos + 2t + 1]} ({@code u2}) and writes its
   * cosine value to {@code out[o + 2t]} and its sine value to {@code out[o + 2t + 1]}. {@code
   * scratch} needs {@code 3 * pairs} elements.
   */
  static void floats(
      int[] buf,
      int pos,
      int pairs,
      float[] out,
      int o,
      double mu,
      double sigma,
      double[] scratch) {
    reduceLog(buf, pos, pairs, scratch);
    radius(pairs, sigma, scratch);
    angles(buf, pos, pairs, mu, scratch);
    pack(pairs, scratch, out, o);
  }

  /** {@code v} (small integers in long lanes) as doubles, exactly. */
  private static DoubleVector toDouble(LongVector v) {
    return v.add(MAGIC_BITS).reinterpretAsDoubles().sub(MAGIC);
  }

  /**
   * {@code logScaled}'s reduction of {@code 2^32 - u1}: {@code s} into {@code scratch[t]} and
   * {@code e - 32} into {@code scratch[pairs + t]}.
   */
  private static void reduceLog(int[] buf, int pos, int pairs, double[] scratch) {
    LongVector two32 = LongVector.broadcast(L, 1L << 32);
    LongVector sqrt2 = LongVector.broadcast(L, SQRT2_MANTISSA);
    LongVector bias = LongVector.broadcast(L, 1023);
    for (int t = 0; t < pairs; t += LANES) {
      // Each long lane is one pair: u1 in the low half, u2 in the high half (little-endian).
      LongVector u1 = IntVector.fromArray(I, buf, pos + 2 * t).reinterpretAsLongs().and(MASK32);
      LongVector bits = toDouble(two32.sub(u1)).reinterpretAsLongs();
      LongVector mantissa = bits.and(FRACTION);
      LongVector halve = sqrt2.sub(mantissa).lanewise(VectorOperators.LSHR, 63);
      DoubleVector f =
          mantissa.or(bias.sub(halve).lanewise(VectorOperators.LSHL, 52)).reinterpretAsDoubles();
      f.sub(1).div(f.add(1)).intoArray(scratch, t);
      LongVector ek = bits.lanewise(VectorOperators.LSHR, 52).sub(1023 + 32).add(halve);
      toDouble(ek).intoArray(scratch, pairs + t);
    }
  }

  /** {@code sigma sqrt(-2 ln(1 - u1))} into {@code scratch[2 pairs + t]}. */
  private static void radius(int pairs, double sigma, double[] scratch) {
    for (int t = 0; t < pairs; t += LANES) {
      DoubleVector s = DoubleVector.fromArray(D, scratch, t);
      DoubleVector ek = DoubleVector.fromArray(D, scratch, pairs + t);
      DoubleVector z = s.mul(s);
      DoubleVector z2 = z.mul(z);
      DoubleVector z4 = z2.mul(z2);
      DoubleVector z8 = z4.mul(z4);
      DoubleVector a = z.mul(1.0 / 3).add(1).add(z2.mul(z.mul(1.0 / 7).add(1.0 / 5)));
      DoubleVector b = z.mul(1.0 / 11).add(1.0 / 9).add(z2.mul(z.mul(1.0 / 15).add(1.0 / 13)));
      DoubleVector c = z.mul(1.0 / 19).add(1.0 / 17).add(z2.mul(1.0 / 21));
      DoubleVector series = a.add(z4.mul(b)).add(z8.mul(c));
      DoubleVector log = ek.mul(LN2_HI).add(ek.mul(LN2_LO).add(s.mul(2).mul(series)));
      log.mul(-2).sqrt().mul(sigma).intoArray(scratch, 2 * pairs + t);
    }
  }

  /** The two values of each pair, as doubles: cosine into {@code scratch[t]}, sine after. */
  private static void angles(int[] buf, int pos, int pairs, double mu, double[] scratch) {
    LongVector one = LongVector.broadcast(L, 1);
    LongVector two = LongVector.broadcast(L, 2);
    for (int t = 0; t < pairs; t += LANES) {
      LongVector a =
          IntVector.fromArray(I, buf, pos + 2 * t)
              .reinterpretAsLongs()
              .lanewise(VectorOperators.LSHR, 32);
      DoubleVector r = DoubleVector.fromArray(D, scratch, 2 * pairs + t);
      // reducedTurns and quarterTurns with k = 32.
      LongVector q = a.add(1L << 29).lanewise(VectorOperators.LSHR, 30);
      DoubleVector x =
          toDouble(a.sub(q.lanewise(VectorOperators.LSHL, 30))).mul(TWO_PI / (1L << 32));
      // QUARTER_COS[j] and QUARTER_SIN[j] without a table: 1 - j and 2 - j for even and odd j
      // respectively, else 0 (+0.0, as in the tables).
      LongVector j = q.and(3);
      LongVector odd = j.and(1);
      DoubleVector quarterCos = toDouble(one.sub(j).and(odd.sub(1)));
      DoubleVector quarterSin = toDouble(two.sub(j).and(odd.neg()));
      DoubleVector z = x.mul(x);
      DoubleVector z2 = z.mul(z);
      DoubleVector z4 = z2.mul(z2);
      // sinPoly(x, z)
      DoubleVector sa = z.mul(1.0 / 120).add(-1.0 / 6);
      DoubleVector sb = z.mul(1.0 / 362880).add(-1.0 / 5040);
      DoubleVector sc = z.mul(1.0 / 6227020800L).add(-1.0 / 39916800);
      DoubleVector sp = sa.add(z2.mul(sb)).add(z4.mul(sc.add(z2.mul(-1.0 / 1307674368000L))));
      DoubleVector sin = x.add(x.mul(z).mul(sp));
      // cosPoly(z)
      DoubleVector ca = z.mul(1.0 / 24).add(-1.0 / 2);
      DoubleVector cb = z.mul(1.0 / 40320).add(-1.0 / 720);
      DoubleVector cc = z.mul(1.0 / 479001600).add(-1.0 / 3628800);
      DoubleVector cd = z.mul(1.0 / 20922789888000L).add(-1.0 / 87178291200L);
      DoubleVector cp = ca.add(z2.mul(cb)).add(z4.mul(cc.add(z2.mul(cd))));
      DoubleVector cos = z.mul(cp).add(1);
      DoubleVector cosTurns = cos.mul(quarterCos).sub(sin.mul(quarterSin));
      DoubleVector sinTurns = sin.mul(quarterCos).add(cos.mul(quarterSin));
      r.mul(cosTurns).add(mu).intoArray(scratch, t);
      r.mul(sinTurns).add(mu).intoArray(scratch, pairs + t);
    }
  }

  /** Rounds to float and interleaves: cosine value, then sine value, pair by pair. */
  private static void pack(int pairs, double[] scratch, float[] out, int o) {
    for (int t = 0; t < pairs; t += LANES, o += 2 * LANES) {
      LongVector c = floatBits(DoubleVector.fromArray(D, scratch, t));
      LongVector s = floatBits(DoubleVector.fromArray(D, scratch, pairs + t));
      c.and(MASK32)
          .or(s.lanewise(VectorOperators.LSHL, 32))
          .reinterpretAsFloats()
          .intoArray(out, o);
    }
  }

  /** The float bits of each lane (rounded to nearest) in the low half of a long lane. */
  private static LongVector floatBits(DoubleVector v) {
    return (LongVector)
        v.convertShape(VectorOperators.D2F, FloatVector.SPECIES_128, 0)
            .reinterpretAsInts()
            .convertShape(VectorOperators.I2L, L, 0);
  }
}
