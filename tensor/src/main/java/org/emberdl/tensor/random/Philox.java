package org.emberdl.tensor.random;

import java.util.Objects;

/**
 * Philox4x32-10, the counter-based generator of Salmon, Moraes, Dror and Shaw, "Parallel random
 * numbers: as easy as 1, 2, 3" (SC'11), the one behind PyTorch's CUDA generator (through cuRAND)
 * and TensorFlow's stateless random ops. The counter layout (key = seed, upper counter half =
 * stream, lower half = block index) is cuRAND's {@code curand_init(seed, subsequence, offset)}
 * layout, but the conversions to floats below are this class's own, so values are not
 * bit-compatible with either library.
 *
 * <p>Philox is a keyed bijection of a 128-bit counter: {@link #block} maps four 32-bit counter
 * words and two 32-bit key words to four output words, with nothing carried from one call to the
 * next. This class fixes the key to the 64-bit {@code seed} (low word first) and the upper half of
 * the counter to the 64-bit {@code stream} (low word first); the lower half of the counter is the
 * 64-bit block index. The generator's output is therefore one long sequence of 32-bit words per
 * (seed, stream): word {@code w} is word {@code w % 4} of block {@code w / 4}.
 *
 * <p>Every bulk method takes an {@code offset} that names where in that sequence its output starts,
 * in units of the values that method produces, and output {@code i} depends only on (seed, stream,
 * {@code offset + i}). So a fill of {@code n} values from {@code offset} equals any split of it,
 * for example {@code (offset, k)} followed by {@code (offset + k, n - k)}, and threads may fill
 * disjoint slices of one array concurrently and get the bits a single-threaded fill gives. Each
 * method's javadoc says which words a value reads; callers that need independent draws from one
 * (seed, stream) must give them disjoint word ranges (or use different streams).
 *
 * <p>Results are bit-for-bit reproducible on every JVM and CPU: they use only Java's exactly
 * specified integer and floating-point arithmetic (including {@link Math#sqrt}, which is correctly
 * rounded), never the platform-dependent {@link Math#log}, {@link Math#sin} or {@link Math#cos}.
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class Philox {

  // Multipliers and Weyl key increments from Random123 (philox.h): PHILOX_M4x32_0/1 and
  // PHILOX_W32_0/1 (the golden ratio and sqrt(3) - 1, as 32-bit fractions).
  private static final long M0 = 0xD2511F53L;
  private static final long M1 = 0xCD9E8D57L;
  private static final int W0 = 0x9E3779B9;
  private static final int W1 = 0xBB67AE85;
  private static final int ROUNDS = 10;

  private static final long MASK32 = 0xFFFFFFFFL;
  private static final double TWO_PI = 2 * Math.PI;

  /**
   * Bound on {@code offset + n} in values, for every method. It keeps every word index below 2^62,
   * so block indices stay below 2^60 and never reach the retry region below.
   */
  static final long MAX_VALUES = 1L << 60;

  /**
   * Bound on {@code offset + n} for the methods that reject draws ({@link #integers} and {@link
   * #permutation}): a rejected draw is redrawn from block {@code 2^63 | r << 55 | w}, where {@code
   * w} is the word index of the draw's first word and {@code r} the retry number, so {@code w} must
   * fit in 55 bits.
   */
  static final long MAX_REJECTING_VALUES = 1L << 53;

  /** Retries before the redraw gives up; each retry reads a fresh block. */
  private static final int MAX_RETRIES = 255;

  /** Words produced per inner pass: small enough to stay in L1, big enough to amortize. */
  private static final int CHUNK_WORDS = 256;

  private final long seed;
  private final long stream;
  private final int k0;
  private final int k1;
  private final int c2;
  private final int c3;

  /**
   * A generator for one (seed, stream) pair. The key is {@code seed} (key word 0 is its low 32
   * bits, key word 1 its high 32 bits); counter words 2 and 3 are the low and high halves of {@code
   * stream}; counter words 0 and 1 are the low and high halves of the block index.
   *
   * @param seed the 64-bit key
   * @param stream the 64-bit stream (subsequence) number; different streams of one seed are
   *     independent
   */
  public Philox(long seed, long stream) {
    this.seed = seed;
    this.stream = stream;
    this.k0 = (int) seed;
    this.k1 = (int) (seed >>> 32);
    this.c2 = (int) stream;
    this.c3 = (int) (stream >>> 32);
  }

  /** The seed this generator was made with. */
  public long seed() {
    return seed;
  }

  /** The stream this generator was made with. */
  public long stream() {
    return stream;
  }

  /**
   * One Philox4x32-10 block: encrypts counter {@code (c0, c1, c2, c3)} under key {@code (k0, k1)}
   * and writes the four output words to {@code out4[0..3]}. Word order follows Random123, so its
   * known-answer vectors apply directly.
   *
   * @throws IllegalArgumentException if {@code out4} has fewer than four elements
   */
  public static void block(int c0, int c1, int c2, int c3, int k0, int k1, int[] out4) {
    Objects.requireNonNull(out4, "out4");
    if (out4.length < 4) {
      throw new IllegalArgumentException("block: out4 needs 4 elements, has " + out4.length);
    }
    blocks((c0 & MASK32) | ((long) c1 << 32), 1, c2, c3, k0, k1, out4, 0);
  }

  /**
   * Writes blocks {@code blk .. blk + count - 1} (counter words 2 and 3 fixed) to {@code dst} from
   * {@code pos}, four words per block. The one place the cipher lives; everything else reads its
   * output.
   */
  private static void blocks(
      long blk, int count, int c2, int c3, int k0, int k1, int[] dst, int pos) {
    int b = 0;
    // Two blocks at a time: one block's rounds are a serial chain of multiplies, so interleaving
    // two independent chains keeps the multiplier busy (about 25% faster than one at a time;
    // four at a time gains nothing more).
    for (; b + 1 < count; b += 2, blk += 2, pos += 8) {
      int x0 = (int) blk;
      int x1 = (int) (blk >>> 32);
      int x2 = c2;
      int x3 = c3;
      int y0 = (int) (blk + 1);
      int y1 = (int) ((blk + 1) >>> 32);
      int y2 = c2;
      int y3 = c3;
      int ka = k0;
      int kb = k1;
      for (int r = 0; r < ROUNDS; r++) {
        // One round (Random123's philox4x32round): two 32x32->64 products, whose halves are
        // mixed with the other two words and the round key.
        long p0 = M0 * (x0 & MASK32);
        long p1 = M1 * (x2 & MASK32);
        long q0 = M0 * (y0 & MASK32);
        long q1 = M1 * (y2 & MASK32);
        x0 = (int) (p1 >>> 32) ^ x1 ^ ka;
        x1 = (int) p1;
        x2 = (int) (p0 >>> 32) ^ x3 ^ kb;
        x3 = (int) p0;
        y0 = (int) (q1 >>> 32) ^ y1 ^ ka;
        y1 = (int) q1;
        y2 = (int) (q0 >>> 32) ^ y3 ^ kb;
        y3 = (int) q0;
        // The bump after the last round is never used; two adds cost less than a branch.
        ka += W0;
        kb += W1;
      }
      dst[pos] = x0;
      dst[pos + 1] = x1;
      dst[pos + 2] = x2;
      dst[pos + 3] = x3;
      dst[pos + 4] = y0;
      dst[pos + 5] = y1;
      dst[pos + 6] = y2;
      dst[pos + 7] = y3;
    }
    if (b < count) {
      int x0 = (int) blk;
      int x1 = (int) (blk >>> 32);
      int x2 = c2;
      int x3 = c3;
      int ka = k0;
      int kb = k1;
      for (int r = 0; r < ROUNDS; r++) {
        long p0 = M0 * (x0 & MASK32);
        long p1 = M1 * (x2 & MASK32);
        x0 = (int) (p1 >>> 32) ^ x1 ^ ka;
        x1 = (int) p1;
        x2 = (int) (p0 >>> 32) ^ x3 ^ kb;
        x3 = (int) p0;
        ka += W0;
        kb += W1;
      }
      dst[pos] = x0;
      dst[pos + 1] = x1;
      dst[pos + 2] = x2;
      dst[pos + 3] = x3;
    }
  }

  /** Blocks {@code blk ..} of this generator's sequence into {@code dst[0..4 count)}. */
  private void gen(long blk, int count, int[] dst) {
    blocks(blk, count, c2, c3, k0, k1, dst, 0);
  }

  /**
   * Raw 32-bit words: {@code out[from + i]} is word {@code (offset + i) % 4} of block {@code
   * (offset + i) / 4}. The offset is in words.
   *
   * @throws IllegalArgumentException if {@code offset < 0}, {@code n < 0} or {@code offset + n >
   *     2^60}
   * @throws IndexOutOfBoundsException if {@code [from, from + n)} is not inside {@code out}
   */
  public void nextInts(long offset, int[] out, int from, int n) {
    checkCall("nextInts", offset, out.length, from, n, MAX_VALUES);
    int end = from + n;
    int pos = from;
    long blk = offset >>> 2;
    int skip = (int) (offset & 3);
    int[] tmp = null;
    if (skip != 0 && n > 0) {
      tmp = new int[4];
      gen(blk++, 1, tmp);
      int take = Math.min(4 - skip, n);
      System.arraycopy(tmp, skip, out, pos, take);
      pos += take;
    }
    // Whole blocks go straight into the caller's array.
    int full = (end - pos) >>> 2;
    blocks(blk, full, c2, c3, k0, k1, out, pos);
    pos += full << 2;
    blk += full;
    if (pos < end) {
      if (tmp == null) {
        tmp = new int[4];
      }
      gen(blk, 1, tmp);
      System.arraycopy(tmp, 0, out, pos, end - pos);
    }
  }

  /**
   * Uniform floats in {@code [low, high)}. Value {@code offset + i} reads word {@code offset + i}
   * (offset in values = words) and is {@code low + (high - low) * u} with {@code u = (w >>> 8) *
   * 2^-24}: 24 random bits, as many as a float in [0, 1) can hold uniformly spaced (PyTorch also
   * uses 24, but the low ones). When float rounding would give exactly {@code high} (possible when
   * {@code u} is near 1), the result is the largest float below {@code high} instead, so the
   * interval stays half-open.
   *
   * @throws IllegalArgumentException unless {@code low < high}, both finite and {@code high - low}
   *     finite; or for a bad offset or count as in {@link #nextInts}
   * @throws IndexOutOfBoundsException if {@code [from, from + n)} is not inside {@code out}
   */
  public void uniform(long offset, float[] out, int from, int n, float low, float high) {
    checkCall("uniform", offset, out.length, from, n, MAX_VALUES);
    checkInterval("uniform", low, high);
    final float scale = high - low;
    final float below = Math.nextDown(high);
    int[] buf = buffer(n);
    int i = from;
    long w = offset;
    long wEnd = offset + n;
    while (w < wEnd) {
      int skip = (int) (w & 3);
      int m = (int) Math.min(buf.length - skip, wEnd - w);
      gen(w >>> 2, (skip + m + 3) >>> 2, buf);
      for (int j = skip, e = skip + m; j < e; j++) {
        float v = low + scale * ((buf[j] >>> 8) * 0x1.0p-24f);
        out[i++] = v < high ? v : below;
      }
      w += m;
    }
  }

  /**
   * Uniform doubles in {@code [low, high)}. Value {@code v = offset + i} reads words {@code 2v}
   * (low half) and {@code 2v + 1} (high half) of a 64-bit draw {@code x}, and is {@code low + (high
   * - low) * u} with {@code u = (x >>> 11) * 2^-53}. As for floats, a result rounded up to {@code
   * high} is replaced by the largest double below it.
   *
   * @throws IllegalArgumentException unless {@code low < high}, both finite and {@code high - low}
   *     finite; or for a bad offset or count as in {@link #nextInts}
   * @throws IndexOutOfBoundsException if {@code [from, from + n)} is not inside {@code out}
   */
  public void uniform(long offset, double[] out, int from, int n, double low, double high) {
    checkCall("uniform", offset, out.length, from, n, MAX_VALUES);
    checkInterval("uniform", low, high);
    final double scale = high - low;
    final double below = Math.nextDown(high);
    int[] buf = buffer(2L * n);
    int i = from;
    long w = 2 * offset;
    long wEnd = 2 * (offset + n);
    while (w < wEnd) {
      int skip = (int) (w & 3); // 0 or 2: every value is two aligned words
      int m = (int) Math.min(buf.length - skip, wEnd - w);
      gen(w >>> 2, (skip + m + 3) >>> 2, buf);
      for (int j = skip, e = skip + m; j < e; j += 2) {
        double v = low + scale * unit53(buf[j], buf[j + 1]);
        out[i++] = v < high ? v : below;
      }
      w += m;
    }
  }

  /**
   * A hint that this JVM will draw many normal floats (DP-SGD's noise: one per parameter per step):
   * the Vector API kernel's background warm-up starts now rather than after the first 16 million
   * scalar values, so the faster path is on after about a second of one core's time instead of
   * after some 70 steps. Values do not change. Does nothing where the vector path cannot run.
   */
  public static void expectManyNormals() {
    VectorNormalSwitch.expectMany();
  }

  /**
   * Whether float normal fills use the Vector API kernel now (after {@link #expectManyNormals} or
   * enough scalar draws, once its warm-up has checked it). For diagnostics and benchmarks only:
   * values never depend on it.
   */
  public static boolean vectorNormalsOn() {
    return VectorNormalSwitch.enabled();
  }

  /**
   * Normal floats by the Box-Muller transform. Values come in pairs: values {@code 2p} and {@code
   * 2p + 1} both read words {@code 2p} and {@code 2p + 1} (so value {@code v} reads the words at
   * {@code v} and its pair partner; offset is in values, and odd offsets and counts work). With
   * {@code u1, u2} the two words as 32-bit fractions in {@code [0, 1)}, {@code r = sqrt(-2 ln(1 -
   * u1))} and {@code t = 2 pi u2}, value {@code 2p} is {@code mean + std r cos t} and value {@code
   * 2p + 1} is {@code mean + std r sin t}, computed in double and rounded once to float. Using
   * {@code 1 - u1}, which lies in {@code (0, 1]}, means no draw gives an infinite radius; the tails
   * end at about 6.66 standard deviations.
   *
   * <p>In a JVM that draws many of these (DP-SGD's noise), the transform moves to a Vector API
   * kernel, {@code VectorNormal}, about four times faster (the whole fill about 1.8 times, as the
   * Philox words then take most of the time); it computes the same bits, so results never depend on
   * which code ran. See {@code VectorNormalSwitch} for when it is used.
   *
   * @throws IllegalArgumentException unless {@code mean} is finite and {@code std} finite and
   *     {@code >= 0}; or for a bad offset or count as in {@link #nextInts}
   * @throws IndexOutOfBoundsException if {@code [from, from + n)} is not inside {@code out}
   */
  public void normal(long offset, float[] out, int from, int n, float mean, float std) {
    checkCall("normal", offset, out.length, from, n, MAX_VALUES);
    checkNormal(mean, std);
    normalFloat(offset, out, from, n, mean, std, VectorNormalSwitch.enabled());
  }

  /**
   * The float normal fill, with the whole pairs of each chunk in groups of four computed by {@link
   * VectorNormal} when {@code vector} is set (which gives the same bits; see there). Arguments are
   * checked by the caller.
   */
  void normalFloat(
      long offset, float[] out, int from, int n, float mean, float std, boolean vector) {
    if (n == 0) {
      return;
    }
    final double mu = mean;
    final double sigma = std;
    long vEnd = offset + n;
    // Word index = value index here; start at the first value's pair and end after the last's.
    long w = offset & ~1L;
    long wEnd = (vEnd + 1) & ~1L;
    int[] buf = buffer(wEnd - w);
    // The scalar radii, or the vector kernel's three rows of intermediate results.
    double[] scratch = new double[(vector ? 3 : 1) * (buf.length / 2)];
    int i = from;
    while (w < wEnd) {
      int skip = (int) (w & 3); // 0 or 2
      int m = (int) Math.min(buf.length - skip, wEnd - w);
      gen(w >>> 2, (skip + m + 3) >>> 2, buf);
      int pairs = m >>> 1;
      int t = 0;
      if (vector) {
        // Pairs [first, last) have both values in [offset, vEnd): only the very first and very
        // last pair of the fill can be cut in half.
        int first = w < offset ? 1 : 0;
        int last = w + 2L * pairs > vEnd ? pairs - 1 : pairs;
        int whole = Math.max(last - first, 0) & -VectorNormal.LANES;
        i = scalarNormals(buf, skip, 0, first, w, offset, vEnd, out, i, mu, sigma, scratch);
        VectorNormal.floats(buf, skip + 2 * first, whole, out, i, mu, sigma, scratch);
        i += 2 * whole;
        t = first + whole;
      } else {
        VectorNormalSwitch.drewScalar(m);
      }
      i = scalarNormals(buf, skip, t, pairs, w, offset, vEnd, out, i, mu, sigma, scratch);
      w += m;
    }
  }

  /**
   * The scalar float Box-Muller transform of pairs {@code t0 .. t1 - 1} of a chunk whose pair
   * {@code t} reads words {@code buf[skip + 2t]} and {@code buf[skip + 2t + 1]}, the words at
   * {@code w + 2t} and {@code w + 2t + 1} of the sequence; writes the values of the fill {@code
   * [offset, vEnd)} among them from {@code out[i]} and returns the next index. {@code radius} is
   * scratch of at least {@code t1 - t0} elements, or null.
   */
  static int scalarNormals(
      int[] buf,
      int skip,
      int t0,
      int t1,
      long w,
      long offset,
      long vEnd,
      float[] out,
      int i,
      double mu,
      double sigma,
      double[] radius) {
    if (radius == null) {
      radius = new double[Math.max(t1 - t0, 0)];
    }
    // Radii first, angles second: each loop body is then short enough for the CPU to overlap
    // several iterations' long dependency chains (about 1.5x faster than one loop).
    for (int t = t0; t < t1; t++) {
      // 1 - u1 = (2^32 - word) / 2^32, exactly.
      long n1 = (1L << 32) - (buf[skip + 2 * t] & MASK32);
      radius[t - t0] = sigma * Math.sqrt(-2 * logScaled(n1, 32));
    }
    for (int t = t0; t < t1; t++) {
      double r = radius[t - t0];
      long a = buf[skip + 2 * t + 1] & MASK32; // u2 = a / 2^32
      long v = w + 2L * t; // the pair's first value
      // Only the first and last pair can be half outside [offset, vEnd).
      if (v >= offset) {
        out[i++] = (float) (mu + r * cosTurns(a, 32));
      }
      if (v + 1 < vEnd) {
        out[i++] = (float) (mu + r * sinTurns(a, 32));
      }
    }
    return i;
  }

  /**
   * Normal doubles by the Box-Muller transform. Values {@code 2p} and {@code 2p + 1} both read
   * block {@code p} (words {@code 4p .. 4p + 3}; offset is in values, and odd offsets and counts
   * work): words {@code 4p, 4p + 1} make a 53-bit {@code u1} and words {@code 4p + 2, 4p + 3} a
   * 53-bit {@code u2}, each as in {@link #uniform(long, double[], int, int, double, double)}; then
   * {@code r = sqrt(-2 ln(1 - u1))}, {@code t = 2 pi u2}, value {@code 2p} is {@code mean + std r
   * cos t} and value {@code 2p + 1} is {@code mean + std r sin t}. The tails end at about 8.57
   * standard deviations.
   *
   * @throws IllegalArgumentException unless {@code mean} is finite and {@code std} finite and
   *     {@code >= 0}; or for a bad offset or count as in {@link #nextInts}
   * @throws IndexOutOfBoundsException if {@code [from, from + n)} is not inside {@code out}
   */
  public void normal(long offset, double[] out, int from, int n, double mean, double std) {
    checkCall("normal", offset, out.length, from, n, MAX_VALUES);
    checkNormal(mean, std);
    if (n == 0) {
      return;
    }
    long vEnd = offset + n;
    long p = offset >>> 1;
    long pEnd = (vEnd + 1) >>> 1;
    int[] buf = buffer(4 * (pEnd - p));
    double[] radius = new double[buf.length / 4];
    int i = from;
    while (p < pEnd) {
      int count = (int) Math.min(buf.length >>> 2, pEnd - p);
      gen(p, count, buf);
      // Two loops, as in the float version.
      for (int t = 0; t < count; t++) {
        long n1 = (1L << 53) - bits53(buf[4 * t], buf[4 * t + 1]); // 1 - u1 = n1 / 2^53
        radius[t] = std * Math.sqrt(-2 * logScaled(n1, 53));
      }
      for (int t = 0; t < count; t++, p++) {
        double r = radius[t];
        long a = bits53(buf[4 * t + 2], buf[4 * t + 3]); // u2 = a / 2^53
        if (2 * p >= offset) {
          out[i++] = mean + r * cosTurns(a, 53);
        }
        if (2 * p + 1 < vEnd) {
          out[i++] = mean + r * sinTurns(a, 53);
        }
      }
    }
  }

  /**
   * Uniform longs in {@code [low, high)}, exactly unbiased, by Lemire's multiply-and-reject method
   * ("Fast random integer generation in an interval", 2019) on 64-bit draws. Value {@code v =
   * offset + i} first draws the 64-bit {@code x} from words {@code 2v} (low half) and {@code 2v +
   * 1} (high half); offset is in values. With {@code s = high - low} (taken as unsigned, so the
   * whole {@code long} range works), the draw is rejected when the low 64 bits of {@code x * s}
   * fall below {@code 2^64 mod s}, which happens with probability below {@code s / 2^64} (never
   * when {@code s} is a power of two). A rejected value is redrawn from its own reserved blocks
   * {@code 2^63 | r << 55 | 2v}, {@code r = 1, 2, ...}, two 64-bit draws per block; no offset of
   * any method reaches those blocks, so a rejection never shifts or disturbs any other value, and
   * split invariance holds. (After 510 rejected redraws, which has probability below 2^-510, the
   * last draw is used as is.)
   *
   * @throws IllegalArgumentException if {@code high <= low}, or {@code offset < 0}, {@code n < 0}
   *     or {@code offset + n > 2^53}
   * @throws IndexOutOfBoundsException if {@code [from, from + n)} is not inside {@code out}
   */
  public void integers(long offset, long[] out, int from, int n, long low, long high) {
    checkCall("integers", offset, out.length, from, n, MAX_REJECTING_VALUES);
    if (high <= low) {
      throw new IllegalArgumentException(
          "integers: need low < high, got low=" + low + ", high=" + high);
    }
    final long s = high - low; // unsigned, in [1, 2^64 - 1]
    final long threshold = Long.remainderUnsigned(-s, s); // 2^64 mod s
    int[] buf = buffer(2L * n);
    int i = from;
    long w = 2 * offset;
    long wEnd = 2 * (offset + n);
    while (w < wEnd) {
      int skip = (int) (w & 3); // 0 or 2
      int m = (int) Math.min(buf.length - skip, wEnd - w);
      gen(w >>> 2, (skip + m + 3) >>> 2, buf);
      for (int j = skip, e = skip + m; j < e; j += 2) {
        long x = (buf[j] & MASK32) | ((long) buf[j + 1] << 32);
        long lo = x * s;
        if (Long.compareUnsigned(lo, threshold) < 0) {
          x = redraw64(w + (j - skip), s, threshold);
        }
        out[i++] = low + unsignedMultiplyHigh(x, s);
      }
      w += m;
    }
  }

  /** The first accepted 64-bit draw from the retry blocks of the draw at word {@code w}. */
  private long redraw64(long w, long s, long threshold) {
    int[] t = new int[4];
    long x = 0;
    for (int r = 1; r <= MAX_RETRIES; r++) {
      gen(retryBlock(w, r), 1, t);
      for (int j = 0; j < 4; j += 2) {
        x = (t[j] & MASK32) | ((long) t[j + 1] << 32);
        if (Long.compareUnsigned(x * s, threshold) >= 0) {
          return x;
        }
      }
    }
    return x;
  }

  /**
   * Zeros and ones: {@code out[from + i]} is {@code 1f} with probability {@code p}, else {@code
   * 0f}. Value {@code offset + i} reads word {@code offset + i} (offset in values = words) and is 1
   * when the word, as an unsigned integer, is below {@code ceil(p * 2^32)}; so the probability is
   * {@code p} rounded up to a multiple of 2^-32, {@code p = 0} never gives 1 and {@code p = 1}
   * always does.
   *
   * @throws IllegalArgumentException if {@code p} is not in {@code [0, 1]} (NaN included); or for a
   *     bad offset or count as in {@link #nextInts}
   * @throws IndexOutOfBoundsException if {@code [from, from + n)} is not inside {@code out}
   */
  public void bernoulli(long offset, float[] out, int from, int n, double p) {
    checkCall("bernoulli", offset, out.length, from, n, MAX_VALUES);
    if (!(p >= 0 && p <= 1)) {
      throw new IllegalArgumentException("bernoulli: p must be in [0, 1], got p=" + p);
    }
    // p * 2^32 is exact for any double p in [0, 1] (only the exponent changes), so the ceiling
    // is the exact threshold; it is at most 2^32, above every unsigned word.
    final long threshold = (long) Math.ceil(p * 0x1.0p32);
    int[] buf = buffer(n);
    int i = from;
    long w = offset;
    long wEnd = offset + n;
    while (w < wEnd) {
      int skip = (int) (w & 3);
      int m = (int) Math.min(buf.length - skip, wEnd - w);
      gen(w >>> 2, (skip + m + 3) >>> 2, buf);
      for (int j = skip, e = skip + m; j < e; j++) {
        // The sign of word - threshold, as 0 or 1: branch-free, since for p near 1/2 a branch
        // would be mispredicted half the time.
        out[i++] = (float) (((buf[j] & MASK32) - threshold) >>> 63);
      }
      w += m;
    }
  }

  /**
   * A uniformly random permutation of {@code 0 .. n - 1}, by the Fisher-Yates shuffle: for {@code k
   * = n - 1} down to 1, swap element {@code k} with a uniform element of {@code 0 .. k}. Step
   * {@code k} draws from word {@code offset + (n - 1 - k)}, so a permutation reads the {@code n -
   * 1} words {@code offset .. offset + n - 2} (offset in words; call again with {@code offset + n -
   * 1} for an independent permutation). Each uniform index is unbiased by Lemire's method on the
   * 32-bit word; a rejected draw (probability below {@code (k + 1) / 2^32}) is redrawn from
   * reserved blocks as described for {@link #integers}, four 32-bit draws per block.
   *
   * @throws IllegalArgumentException if {@code n < 0}, {@code offset < 0} or {@code offset + n >
   *     2^53}
   */
  public int[] permutation(int n, long offset) {
    checkOffset("permutation", offset, n, MAX_REJECTING_VALUES);
    int[] perm = new int[n];
    for (int k = 0; k < n; k++) {
      perm[k] = k;
    }
    int[] buf = buffer(n - 1L);
    int k = n - 1;
    long w = offset;
    long wEnd = offset + Math.max(n - 1, 0);
    while (w < wEnd) {
      int skip = (int) (w & 3);
      int m = (int) Math.min(buf.length - skip, wEnd - w);
      gen(w >>> 2, (skip + m + 3) >>> 2, buf);
      for (int j = skip, e = skip + m; j < e; j++, k--) {
        long bound = k + 1L;
        long prod = (buf[j] & MASK32) * bound;
        if ((prod & MASK32) < bound) {
          // Possible rejection: only now pay for the remainder (Lemire's shortcut).
          long threshold = (1L << 32) % bound;
          if ((prod & MASK32) < threshold) {
            prod = redraw32(w + (j - skip), bound, threshold);
          }
        }
        int pick = (int) (prod >>> 32);
        int tmp = perm[k];
        perm[k] = perm[pick];
        perm[pick] = tmp;
      }
      w += m;
    }
    return perm;
  }

  /** The first accepted product {@code word * bound} from the retry blocks of word {@code w}. */
  private long redraw32(long w, long bound, long threshold) {
    int[] t = new int[4];
    long prod = 0;
    for (int r = 1; r <= MAX_RETRIES; r++) {
      gen(retryBlock(w, r), 1, t);
      for (int j = 0; j < 4; j++) {
        prod = (t[j] & MASK32) * bound;
        if ((prod & MASK32) >= threshold) {
          return prod;
        }
      }
    }
    return prod;
  }

  /**
   * Block index of retry {@code r} (1 to 255) for the draw whose first word is {@code w < 2^55}.
   * The top bit keeps it clear of every block an offset can reach (those lie below 2^60).
   */
  private static long retryBlock(long w, int r) {
    return Long.MIN_VALUE | ((long) r << 55) | w;
  }

  /** The top 53 bits of the 64-bit draw {@code lo | hi << 32}. */
  private static long bits53(int lo, int hi) {
    return ((lo & MASK32) | ((long) hi << 32)) >>> 11;
  }

  /** A fraction in [0, 1) from the top 53 bits of the 64-bit draw {@code lo | hi << 32}. */
  private static double unit53(int lo, int hi) {
    return bits53(lo, hi) * 0x1.0p-53;
  }

  // Box-Muller needs ln, sin and cos. Math's versions may differ between JVMs and CPUs by an ulp,
  // which would break bit-reproducibility across a cluster; StrictMath's are reproducible but cost
  // about 35 ns per normal value (measured on a 2.45 GHz EPYC). The arguments here are special (a
  // dyadic rational for ln, a fraction of a turn given as an integer for sin and cos), which makes
  // exact argument reduction trivial, so short polynomials in plain (strictly specified) double
  // arithmetic give results within a few ulps of the true values, identical everywhere, at a
  // fraction of the cost. VectorNormal repeats the float path's operations lane by lane; a change
  // here must be made there too (PhiloxTest compares the two bit for bit).

  /** The 52 fraction bits of sqrt(2) rounded to double. */
  private static final long SQRT2_MANTISSA =
      Double.doubleToRawLongBits(1.4142135623730951) & 0x000F_FFFF_FFFF_FFFFL;

  // ln 2 split in two (fdlibm's ln2_hi and ln2_lo): LN2_HI has 32 significant bits, so e * LN2_HI
  // is exact for the small integers e used here.
  private static final double LN2_HI = 6.93147180369123816490e-01;
  private static final double LN2_LO = 1.90821492927058770002e-10;

  /**
   * {@code ln(n / 2^k)} for {@code 1 <= n <= 2^53}. Writes {@code n = 2^e f} with {@code f} in
   * {@code [sqrt(2)/2, sqrt(2)]} (exactly, from the bits) and uses {@code ln f = 2 atanh(s)},
   * {@code s = (f - 1) / (f + 1)}, whose series in {@code s^2 <= 0.0295} reaches double precision
   * by the {@code s^21} term. The result has no cancellation: when {@code n} is near {@code 2^k},
   * {@code e = k} and the whole answer comes from the series.
   */
  static double logScaled(long n, int k) {
    // Exponent and significand straight from the integer. (double) n would do, but x86's
    // int-to-double instruction leaves a false dependency on its target register that chains
    // successive calls together and made this three times slower.
    int lz = Long.numberOfLeadingZeros(n);
    long mantissa = (n << lz << 1) >>> 12; // the bits below the leading one; exact, n <= 2^53
    // 1 when the significand 1.mantissa exceeds sqrt(2); then halve it. A sign bit rather than
    // a branch, which would be mispredicted about half the time.
    long halve = (SQRT2_MANTISSA - mantissa) >>> 63;
    int e = (int) (63 - lz + halve);
    double f = Double.longBitsToDouble(mantissa | ((1023 - halve) << 52));
    double s = (f - 1) / (f + 1);
    double z = s * s;
    // 1 + z/3 + z^2/5 + ... + z^10/21 in Estrin's scheme: a shorter dependency chain than
    // Horner's rule, and the terms fall fast enough that the rounding is no worse.
    double z2 = z * z;
    double z4 = z2 * z2;
    double z8 = z4 * z4;
    double a = 1 + z * (1.0 / 3) + z2 * (1.0 / 5 + z * (1.0 / 7));
    double b = 1.0 / 9 + z * (1.0 / 11) + z2 * (1.0 / 13 + z * (1.0 / 15));
    double c = 1.0 / 17 + z * (1.0 / 19) + z2 * (1.0 / 21);
    double series = a + z4 * b + z8 * c;
    int ek = e - k;
    return ek * LN2_HI + (ek * LN2_LO + 2 * s * series);
  }

  // sin and cos of the quarter turns 0..3, to rotate the reduced angle back exactly.
  private static final double[] QUARTER_SIN = {0, 1, 0, -1};
  private static final double[] QUARTER_COS = {1, 0, -1, 0};

  /** 1.5 * 2^52: adding a long below 2^51 to its bits adds it to its value, exactly. */
  private static final long MAGIC_BITS = 0x4338_0000_0000_0000L;

  private static final double MAGIC = 0x1.8p52;

  /**
   * The angle {@code 2 pi m / 2^k} minus its nearest multiple of {@code pi / 2}, in {@code [-pi/4,
   * pi/4)}, for {@code 0 <= m < 2^k} and {@code 3 <= k <= 53}. The reduction is exact in integers;
   * the one rounding is the final scaling.
   */
  private static double reducedTurns(long m, int k) {
    long q = (m + (1L << (k - 3))) >>> (k - 2);
    long d = m - (q << (k - 2)); // |d| <= 2^(k - 3)
    // d as a double without (double) d, whose false register dependency is costly (see above).
    return (Double.longBitsToDouble(MAGIC_BITS + d) - MAGIC) * (TWO_PI / (1L << k));
  }

  /** The quarter turn (0 to 3) nearest to the angle {@code 2 pi m / 2^k}. */
  private static int quarterTurns(long m, int k) {
    return (int) ((m + (1L << (k - 3))) >>> (k - 2)) & 3;
  }

  /** {@code sin(2 pi m / 2^k)} for {@code 0 <= m < 2^k}, {@code 3 <= k <= 53}. */
  static double sinTurns(long m, int k) {
    double x = reducedTurns(m, k);
    int j = quarterTurns(m, k);
    double z = x * x;
    // sin(j pi/2 + x) = sin x cos(j pi/2) + cos x sin(j pi/2); the table entries are 0 and +-1,
    // so this is exact apart from the two polynomials.
    return sinPoly(x, z) * QUARTER_COS[j] + cosPoly(z) * QUARTER_SIN[j];
  }

  /** {@code cos(2 pi m / 2^k)} for {@code 0 <= m < 2^k}, {@code 3 <= k <= 53}. */
  static double cosTurns(long m, int k) {
    // The same reduction and polynomials as sinTurns: where both are inlined into one loop the
    // JIT computes them once.
    double x = reducedTurns(m, k);
    int j = quarterTurns(m, k);
    double z = x * x;
    return cosPoly(z) * QUARTER_COS[j] - sinPoly(x, z) * QUARTER_SIN[j];
  }

  /**
   * Taylor series of sin x to x^15 ({@code z = x^2}), in Estrin's scheme; for {@code |x| <= pi/4}
   * the x^17 term is under 5e-17.
   */
  private static double sinPoly(double x, double z) {
    double z2 = z * z;
    double z4 = z2 * z2;
    double a = -1.0 / 6 + z * (1.0 / 120); // -1/3! + z/5!
    double b = -1.0 / 5040 + z * (1.0 / 362880);
    double c = -1.0 / 39916800 + z * (1.0 / 6227020800L);
    double p = a + z2 * b + z4 * (c + z2 * (-1.0 / 1307674368000L)); // ... - z^6/15!
    return x + x * z * p;
  }

  /**
   * Taylor series of cos x to x^16 ({@code z = x^2}), in Estrin's scheme; for {@code |x| <= pi/4}
   * the x^18 term is under 3e-18.
   */
  private static double cosPoly(double z) {
    double z2 = z * z;
    double z4 = z2 * z2;
    double a = -1.0 / 2 + z * (1.0 / 24); // -1/2! + z/4!
    double b = -1.0 / 720 + z * (1.0 / 40320);
    double c = -1.0 / 3628800 + z * (1.0 / 479001600);
    double d = -1.0 / 87178291200L + z * (1.0 / 20922789888000L);
    double p = a + z2 * b + z4 * (c + z2 * d);
    return 1 + z * p;
  }

  /** High 64 bits of the unsigned 128-bit product (Math.unsignedMultiplyHigh arrived in 18). */
  private static long unsignedMultiplyHigh(long a, long b) {
    return Math.multiplyHigh(a, b) + ((a >> 63) & b) + ((b >> 63) & a);
  }

  /** Scratch for up to {@code words} words, a whole number of blocks and at most one chunk. */
  private static int[] buffer(long words) {
    long blocks = Math.min(CHUNK_WORDS / 4, (words + 3) / 4 + 1);
    return new int[(int) (4 * Math.max(blocks, 1))];
  }

  private static void checkCall(
      String method, long offset, int length, int from, int n, long maxValues) {
    checkOffset(method, offset, n, maxValues);
    Objects.checkFromIndexSize(from, n, length);
  }

  private static void checkOffset(String method, long offset, int n, long maxValues) {
    if (n < 0) {
      throw new IllegalArgumentException(method + ": n must be >= 0, got n=" + n);
    }
    if (offset < 0 || offset > maxValues - n) {
      throw new IllegalArgumentException(
          method
              + ": need 0 <= offset and offset + n <= 2^"
              + Long.numberOfTrailingZeros(maxValues)
              + ", got offset="
              + offset
              + ", n="
              + n);
    }
  }

  private static void checkInterval(String method, double low, double high) {
    // Written so that NaN fails the test; an infinite width would turn every value into NaN.
    if (!(low < high && Double.isFinite(high - low))) {
      throw new IllegalArgumentException(
          method
              + ": need finite low < high with finite high - low, got low="
              + low
              + ", high="
              + high);
    }
  }

  private static void checkInterval(String method, float low, float high) {
    if (!(low < high && Float.isFinite(high - low))) {
      throw new IllegalArgumentException(
          method
              + ": need finite low < high with finite high - low, got low="
              + low
              + ", high="
              + high);
    }
  }

  private static void checkNormal(double mean, double std) {
    if (!(Double.isFinite(mean) && Double.isFinite(std) && std >= 0)) {
      throw new IllegalArgumentException(
          "normal: need finite mean and finite std >= 0, got mean=" + mean + ", std=" + std);
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Philox && ((Philox) o).seed == seed && ((Philox) o).stream == stream;
  }

  @Override
  public int hashCode() {
    return Long.hashCode(seed) * 31 + Long.hashCode(stream);
  }

  @Override
  public String toString() {
    return "Philox4x32-10(seed=" + seed + ", stream=" + stream + ")";
  }
}
