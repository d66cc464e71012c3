package org.emberdl.tensor.random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

class PhiloxTest {

  // ---------------------------------------------------------------------------------------------
  // Known answers. The three philox4x32 10-round lines of Random123's tests/kat_vectors (columns:
  // counter words 0..3, key words 0..1, expected output words 0..3):
  //
  // philox4x32 10 00000000 00000000 00000000 00000000 00000000 00000000
  //     6627e8d5 e169c58d bc57ac4c 9b00dbd8
  // philox4x32 10 ffffffff ffffffff ffffffff ffffffff ffffffff ffffffff
  //     408f276d 41c83b0e a20bc7c6 6d5451fd
  // philox4x32 10 243f6a88 85a308d3 13198a2e 03707344 a4093822 299f31d0
  //     d16cfe09 94fdcceb 5001e420 24126ea1
  // ---------------------------------------------------------------------------------------------

  private static final int[] KAT_ZERO = {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8};

  @Test
  void blockMatchesRandom123KnownAnswers() {
    int[] out = new int[4];
    Philox.block(0, 0, 0, 0, 0, 0, out);
    assertArrayEquals(KAT_ZERO, out);

    Philox.block(-1, -1, -1, -1, -1, -1, out);
    assertArrayEquals(new int[] {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}, out);

    Philox.block(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, out);
    assertArrayEquals(new int[] {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}, out);
  }

  @Test
  void blockWritesOnlyTheFirstFourWords() {
    int[] out = new int[6];
    Arrays.fill(out, 7);
    Philox.block(0, 0, 0, 0, 0, 0, out);
    assertArrayEquals(new int[] {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8, 7, 7}, out);
  }

  @Test
  void generatorZeroIsTheZeroKnownAnswer() {
    // Seed 0, stream 0, block 0 is the all-zero counter and key.
    int[] out = new int[4];
    new Philox(0, 0).nextInts(0, out, 0, 4);
    assertArrayEquals(KAT_ZERO, out);
  }

  @Test
  void wordsFollowTheDocumentedCounterLayout() {
    // Word w of (seed, stream) is word w % 4 of the block with counter (w/4 lo, w/4 hi, stream lo,
    // stream hi) and key (seed lo, seed hi).
    SplittableRandom rnd = new SplittableRandom(1);
    long[] seeds = {0, 1, -1, 0x299f31d0a4093822L, 1L << 32, rnd.nextLong()};
    long[] streams = {0, 1, -1, 0x0370734413198a2eL, 1L << 32, rnd.nextLong()};
    int[] expect = new int[4];
    int[] got = new int[1];
    for (long seed : seeds) {
      for (long stream : streams) {
        Philox g = new Philox(seed, stream);
        for (int t = 0; t < 20; t++) {
          long w = t < 8 ? t : rnd.nextLong(Philox.MAX_VALUES);
          long blk = w >>> 2;
          Philox.block(
              (int) blk,
              (int) (blk >>> 32),
              (int) stream,
              (int) (stream >>> 32),
              (int) seed,
              (int) (seed >>> 32),
              expect);
          g.nextInts(w, got, 0, 1);
          assertEquals(expect[(int) (w & 3)], got[0], () -> g + " word " + w);
        }
      }
    }
  }

  // Conversions checked on the known-answer words of seed 0, stream 0 (by hand from the spec).

  @Test
  void uniformFloatUsesTheTop24BitsOfEachWord() {
    float[] out = new float[4];
    new Philox(0, 0).uniform(0, out, 0, 4, 0f, 1f);
    assertArrayEquals(
        new float[] {
          0x6627e8 * 0x1.0p-24f, 0xe169c5 * 0x1.0p-24f, 0xbc57ac * 0x1.0p-24f, 0x9b00db * 0x1.0p-24f
        },
        out);
    new Philox(0, 0).uniform(0, out, 0, 4, -2f, 2f);
    assertEquals(-2f + 4f * (0x6627e8 * 0x1.0p-24f), out[0]);
  }

  @Test
  void uniformDoubleUsesTheTop53BitsOfAWordPair() {
    double[] out = new double[2];
    new Philox(0, 0).uniform(0, out, 0, 2, 0.0, 1.0);
    // Value v: word 2v is the low half, word 2v + 1 the high half.
    assertEquals((0xe169c58d6627e8d5L >>> 11) * 0x1.0p-53, out[0]);
    assertEquals((0x9b00dbd8bc57ac4cL >>> 11) * 0x1.0p-53, out[1]);
  }

  @Test
  void integersOfAPowerOfTwoRangeAreTheHighBits() {
    // With s = 2^32, Lemire's method never rejects and returns the top 32 bits of the draw: the
    // high word of each pair.
    long[] out = new long[2];
    new Philox(0, 0).integers(0, out, 0, 2, 0, 1L << 32);
    assertArrayEquals(new long[] {0xe169c58dL, 0x9b00dbd8L}, out);
    new Philox(0, 0).integers(0, out, 0, 2, -10, -8);
    // s = 2: the top bit of the draw.
    assertArrayEquals(new long[] {-10 + 1, -10 + 1}, out);
  }

  @Test
  void bernoulliComparesWordsWithTheThreshold() {
    float[] out = new float[4];
    new Philox(0, 0).bernoulli(0, out, 0, 4, 0.5); // word < 0x80000000
    assertArrayEquals(new float[] {1, 0, 0, 0}, out);
    new Philox(0, 0).bernoulli(0, out, 0, 4, 0.75); // word < 0xc0000000
    assertArrayEquals(new float[] {1, 0, 1, 1}, out);
  }

  @Test
  void normalFloatIsBoxMullerOnWordPairs() {
    // Reference computed with StrictMath from the raw words, per the documented formula.
    Philox g = new Philox(0x5eed, 3);
    int count = 10_001;
    long offset = 12_345; // odd: the first value is the sine half of its pair
    int[] words = new int[count + 2];
    g.nextInts(offset - 1, words, 0, count + 2);
    float[] out = new float[count];
    g.normal(offset, out, 0, count, 0.5f, 2f);
    for (int i = 0; i < count; i++) {
      long v = offset + i;
      int pair = (int) ((v & ~1L) - (offset - 1)); // index of the pair's first word in words
      double u1 = (words[pair] & 0xFFFFFFFFL) * 0x1.0p-32;
      double u2 = (words[pair + 1] & 0xFFFFFFFFL) * 0x1.0p-32;
      double r = StrictMath.sqrt(-2 * StrictMath.log(1 - u1));
      double t = 2 * Math.PI * u2;
      float ref = (float) (0.5 + 2 * r * ((v & 1) == 0 ? StrictMath.cos(t) : StrictMath.sin(t)));
      // Both sides round a double within ~1e-15 of the truth to float: equal, or one ulp apart
      // when the truth lies at a rounding boundary.
      assertTrue(Math.abs(out[i] - ref) <= Math.ulp(ref), "value " + v);
    }
  }

  @Test
  void normalDoubleIsBoxMullerOnBlocks() {
    Philox g = new Philox(-77, 1L << 40);
    int count = 10_001;
    long offset = 999; // odd
    int[] words = new int[2 * count + 4];
    long firstBlock = offset / 2;
    g.nextInts(4 * firstBlock, words, 0, words.length);
    double[] out = new double[count];
    g.normal(offset, out, 0, count, -1.0, 3.0);
    double maxErr = 0;
    for (int i = 0; i < count; i++) {
      long v = offset + i;
      int b = (int) (4 * (v / 2 - firstBlock));
      double u1 = (pack(words[b], words[b + 1]) >>> 11) * 0x1.0p-53;
      double u2 = (pack(words[b + 2], words[b + 3]) >>> 11) * 0x1.0p-53;
      double r = StrictMath.sqrt(-2 * StrictMath.log(1 - u1));
      double t = 2 * Math.PI * u2;
      double ref = -1.0 + 3 * r * ((v & 1) == 0 ? StrictMath.cos(t) : StrictMath.sin(t));
      maxErr = Math.max(maxErr, Math.abs(out[i] - ref));
    }
    // |r| <= 8.6 and both sides are within a few ulps: far below anything a test could see.
    assertTrue(maxErr < 1e-13, "max error " + maxErr);
  }

  @Test
  void normalFloatKnownAnswers() {
    // Bits pinned when the Vector API path was added (and unchanged by it): DP-SGD noise, weight
    // initialisation and every seeded experiment depend on them, so a change must be deliberate.
    float[] x = new float[8];
    new Philox(0, 0).normal(0, x, 0, 8, 0f, 1f);
    assertArrayEquals(
        new int[] {
          0x3f3ce8b6,
          0xbf303d2e,
          0xbfa49c44,
          0xbf807c2c,
          0xbfdde637,
          0x4002954b,
          0x3fbfa3e3,
          0x3eb5f7eb
        },
        floatBits(x));
    float[] y = new float[5];
    new Philox(0x5eed, 3).normal(12_345, y, 0, 5, 0.5f, 2f);
    assertArrayEquals(
        new int[] {0xbff01733, 0x3f64b082, 0x3f305da8, 0x3fa55f28, 0xbe1cea39}, floatBits(y));
  }

  private static int[] floatBits(float[] x) {
    int[] bits = new int[x.length];
    for (int i = 0; i < x.length; i++) {
      bits[i] = Float.floatToRawIntBits(x[i]);
    }
    return bits;
  }

  // The Vector API kernel must give the scalar code's bits exactly. The tests run under C1
  // (-XX:TieredStopAtLevel=1), where the Vector API runs as plain Java at microseconds per value,
  // so the sizes here stay small; the kernel's arithmetic is the same whichever compiler runs it.

  @Test
  void normalFloatVectorPathGivesTheScalarBits() {
    SplittableRandom rnd = new SplittableRandom(3);
    float[][] params = {{0f, 1f}, {0.5f, 2f}, {-0.0f, 1f}, {3f, 0f}, {-1e3f, 1e-3f}};
    for (int t = 0; t < 24; t++) {
      Philox g = new Philox(rnd.nextLong(), rnd.nextLong());
      long offset = t < 4 ? t : rnd.nextLong(Philox.MAX_VALUES / 2);
      // Across chunk boundaries (128 pairs per chunk), odd and even offsets and counts.
      int n = t < 8 ? t * 37 : 1 + rnd.nextInt(1_500);
      float[] p = params[t % params.length];
      float[] scalar = new float[n + 3];
      float[] vector = new float[n + 3];
      g.normalFloat(offset, scalar, 2, n, p[0], p[1], false);
      g.normalFloat(offset, vector, 2, n, p[0], p[1], true);
      assertArrayEquals(floatBits(scalar), floatBits(vector), g + " offset " + offset + " n " + n);
    }
  }

  @Test
  void normalFloatVectorPathIsSplitInvariant() {
    assertSplitInvariant(
        "normalFloatVector",
        (g, off, n, into, from) -> {
          float[] a = floats(into, n);
          g.normalFloat(off, a, from, n, 1f, 0.5f, true);
          return a;
        });
  }

  @Test
  void vectorKernelMatchesTheScalarCodeOnExtremeWords() {
    // u1 = 0 (radius 0), 1, 2^32 - 1 (the 6.66 sigma tail), the sqrt(2) split; u2 at and next to
    // every eighth of a turn, where the nearest quarter turn changes.
    int[] edge = {
      0,
      1,
      2,
      -1,
      -2,
      Integer.MIN_VALUE,
      Integer.MAX_VALUE,
      0x6a09e667,
      0x6a09e668,
      0x95f61999,
      0x20000000,
      0x1fffffff,
      0x60000000,
      0x5fffffff,
      0xa0000000,
      0xe0000000,
      0xdfffffff,
      0x40000000
    };
    int pairs = edge.length * edge.length; // 324, a multiple of 4
    int[] words = new int[2 * pairs];
    for (int a = 0; a < edge.length; a++) {
      for (int b = 0; b < edge.length; b++) {
        words[2 * (a * edge.length + b)] = edge[a];
        words[2 * (a * edge.length + b) + 1] = edge[b];
      }
    }
    for (double[] p : new double[][] {{0, 1}, {-0.0, 1}, {0.25, 3}, {0, 0}}) {
      float[] want = new float[2 * pairs];
      Philox.scalarNormals(words, 0, 0, pairs, 0, 0, 2 * pairs, want, 0, p[0], p[1], null);
      float[] got = new float[2 * pairs];
      VectorNormal.floats(words, 0, pairs, got, 0, p[0], p[1], new double[3 * pairs]);
      assertArrayEquals(floatBits(want), floatBits(got), "mean " + p[0] + " std " + p[1]);
    }
  }

  private static long pack(int lo, int hi) {
    return (lo & 0xFFFFFFFFL) | ((long) hi << 32);
  }

  // ---------------------------------------------------------------------------------------------
  // The internal ln, sin and cos, against StrictMath (which is within 1 ulp of the truth).
  // ---------------------------------------------------------------------------------------------

  @Test
  void logScaledIsAccurate() {
    SplittableRandom rnd = new SplittableRandom(2);
    List<Long> ns = new ArrayList<>();
    for (int k : new int[] {32, 53}) {
      for (long n : new long[] {1, 2, 3, 5, (1L << k) - 1, 1L << k, (1L << (k - 1)) + 1}) {
        ns.add(n);
      }
    }
    for (int e = 0; e <= 52; e++) {
      // Either side of the sqrt(2) split, where the reduction switches.
      long edge = (long) Math.floor(Math.sqrt(2) * (1L << e));
      for (long d = -2; d <= 2; d++) {
        if (edge + d >= 1) {
          ns.add(edge + d);
        }
      }
    }
    for (int t = 0; t < 100_000; t++) {
      ns.add(1 + rnd.nextLong(1L << 53));
      ns.add(1 + (rnd.nextLong(1L << 53) >>> rnd.nextInt(53)));
    }
    for (long n : ns) {
      for (int k : new int[] {32, 53}) {
        if (n > (1L << k)) {
          continue;
        }
        double ref = StrictMath.log(n * Math.scalb(1.0, -k)); // exact argument
        double got = Philox.logScaled(n, k);
        if (ref == 0) {
          assertEquals(0.0, got, 0.0, "n=" + n + " k=" + k);
        } else {
          // A few ulps is plenty for Box-Muller (4 is the worst seen over 5e6 random inputs).
          assertTrue(
              Math.abs(got - ref) <= 6 * Math.ulp(ref),
              "n=" + n + " k=" + k + ": " + got + " vs " + ref);
        }
      }
    }
  }

  @Test
  void sinAndCosOfTurnsAreAccurate() {
    for (int k : new int[] {32, 53}) {
      long quarter = 1L << (k - 2);
      // Exact at the quarter turns.
      for (int j = 0; j < 4; j++) {
        assertEquals(new double[] {0, 1, 0, -1}[j], Philox.sinTurns(j * quarter, k), 0.0);
        assertEquals(new double[] {1, 0, -1, 0}[j], Philox.cosTurns(j * quarter, k), 0.0);
      }
      SplittableRandom rnd = new SplittableRandom(k);
      List<Long> ms = new ArrayList<>();
      long eighth = quarter / 2;
      for (long c = 0; c < 8; c++) {
        for (long d = -2; d <= 2; d++) {
          ms.add(Math.floorMod(c * eighth + d, 1L << k)); // where the nearest quarter changes
        }
      }
      for (int t = 0; t < 100_000; t++) {
        ms.add(rnd.nextLong(1L << k));
      }
      for (long m : ms) {
        // The reference's own argument 2 pi m / 2^k is rounded (up to ~7e-16 in angle).
        double angle = 2 * Math.PI * (m * Math.scalb(1.0, -k));
        assertEquals(StrictMath.sin(angle), Philox.sinTurns(m, k), 2e-15, "sin m=" + m);
        assertEquals(StrictMath.cos(angle), Philox.cosTurns(m, k), 2e-15, "cos m=" + m);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Split invariance, determinism, independence.
  // ---------------------------------------------------------------------------------------------

  /** Fills [0, n) of a fresh array from the given offset. */
  private interface Fill {
    Object fill(Philox g, long offset, int n, Object into, int from);
  }

  private static final long HEAVY_LOW = Long.MIN_VALUE;
  private static final long HEAVY_HIGH = 1L << 62; // s = 3 * 2^62: a quarter of draws rejected

  private static void assertSplitInvariant(String name, Fill f) {
    SplittableRandom rnd = new SplittableRandom(name.hashCode());
    Philox g = new Philox(rnd.nextLong(), rnd.nextLong());
    for (int t = 0; t < 200; t++) {
      long offset = t < 8 ? t : rnd.nextLong(100_000);
      int n = rnd.nextInt(t < 100 ? 20 : 2_000);
      Object whole = f.fill(g, offset, n, null, 0);
      // Two pieces, then many random pieces, into one array at the matching positions.
      int k = rnd.nextInt(n + 1);
      Object split = f.fill(g, offset, k, newLike(whole), 0);
      f.fill(g, offset + k, n - k, split, k);
      assertArraysEqual(whole, split, name + " split at " + k + " of " + n + " @" + offset);
      Object pieces = newLike(whole);
      for (int pos = 0; pos < n; ) {
        int len = Math.min(n - pos, rnd.nextInt(9));
        f.fill(g, offset + pos, len, pieces, pos);
        pos += len;
      }
      assertArraysEqual(whole, pieces, name + " in pieces of " + n + " @" + offset);
    }
  }

  private static Object newLike(Object a) {
    if (a instanceof int[]) {
      return new int[((int[]) a).length];
    } else if (a instanceof float[]) {
      return new float[((float[]) a).length];
    } else if (a instanceof double[]) {
      return new double[((double[]) a).length];
    }
    return new long[((long[]) a).length];
  }

  private static void assertArraysEqual(Object a, Object b, String msg) {
    // Exact equality (delta 0): the contract is identical results, not close ones.
    if (a instanceof int[]) {
      assertArrayEquals((int[]) a, (int[]) b, msg);
    } else if (a instanceof float[]) {
      assertArrayEquals((float[]) a, (float[]) b, 0f, msg);
    } else if (a instanceof double[]) {
      assertArrayEquals((double[]) a, (double[]) b, 0.0, msg);
    } else {
      assertArrayEquals((long[]) a, (long[]) b, msg);
    }
  }

  /** An array of n + from elements to fill from index from, or the given one. */
  private static int[] ints(Object into, int n) {
    return into == null ? new int[n] : (int[]) into;
  }

  private static float[] floats(Object into, int n) {
    return into == null ? new float[n] : (float[]) into;
  }

  private static double[] doubles(Object into, int n) {
    return into == null ? new double[n] : (double[]) into;
  }

  private static long[] longs(Object into, int n) {
    return into == null ? new long[n] : (long[]) into;
  }

  @Test
  void nextIntsIsSplitInvariant() {
    assertSplitInvariant(
        "nextInts",
        (g, off, n, into, from) -> {
          int[] a = ints(into, n);
          g.nextInts(off, a, from, n);
          return a;
        });
  }

  @Test
  void uniformFloatIsSplitInvariant() {
    assertSplitInvariant(
        "uniformFloat",
        (g, off, n, into, from) -> {
          float[] a = floats(into, n);
          g.uniform(off, a, from, n, -1f, 5f);
          return a;
        });
  }

  @Test
  void uniformDoubleIsSplitInvariant() {
    assertSplitInvariant(
        "uniformDouble",
        (g, off, n, into, from) -> {
          double[] a = doubles(into, n);
          g.uniform(off, a, from, n, 0.0, 1.0);
          return a;
        });
  }

  @Test
  void normalFloatIsSplitInvariant() {
    assertSplitInvariant(
        "normalFloat",
        (g, off, n, into, from) -> {
          float[] a = floats(into, n);
          g.normal(off, a, from, n, 1f, 0.5f);
          return a;
        });
  }

  @Test
  void normalDoubleIsSplitInvariant() {
    assertSplitInvariant(
        "normalDouble",
        (g, off, n, into, from) -> {
          double[] a = doubles(into, n);
          g.normal(off, a, from, n, 0.0, 1.0);
          return a;
        });
  }

  @Test
  void integersAreSplitInvariant() {
    assertSplitInvariant(
        "integers",
        (g, off, n, into, from) -> {
          long[] a = longs(into, n);
          g.integers(off, a, from, n, -5, 1_000_003);
          return a;
        });
    // A range where a quarter of first draws are rejected and redrawn from the retry blocks.
    assertSplitInvariant(
        "integersHeavyRejection",
        (g, off, n, into, from) -> {
          long[] a = longs(into, n);
          g.integers(off, a, from, n, HEAVY_LOW, HEAVY_HIGH);
          return a;
        });
  }

  @Test
  void bernoulliIsSplitInvariant() {
    assertSplitInvariant(
        "bernoulli",
        (g, off, n, into, from) -> {
          float[] a = floats(into, n);
          g.bernoulli(off, a, from, n, 0.3);
          return a;
        });
  }

  @Test
  void parallelSlicesEqualASequentialFill() throws Exception {
    Philox g = new Philox(2024, 5);
    int n = 100_003;
    float[] seqU = new float[n];
    float[] seqN = new float[n];
    double[] seqD = new double[n];
    g.uniform(17, seqU, 0, n, 0f, 1f);
    g.normal(17, seqN, 0, n, 0f, 1f);
    g.normal(17, seqD, 0, n, 0.0, 1.0);
    float[] parU = new float[n];
    float[] parN = new float[n];
    double[] parD = new double[n];
    int[] cuts = {0, 1, 4_099, 33_334, 33_335, 70_001, 99_998, n};
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int c = 0; c + 1 < cuts.length; c++) {
        int from = cuts[c];
        int len = cuts[c + 1] - from;
        done.add(pool.submit(() -> g.uniform(17 + from, parU, from, len, 0f, 1f)));
        done.add(pool.submit(() -> g.normal(17 + from, parN, from, len, 0f, 1f)));
        done.add(pool.submit(() -> g.normal(17 + from, parD, from, len, 0.0, 1.0)));
      }
      for (Future<?> f : done) {
        f.get();
      }
    } finally {
      pool.shutdown();
    }
    assertArrayEquals(seqU, parU, 0f);
    assertArrayEquals(seqN, parN, 0f);
    assertArrayEquals(seqD, parD, 0.0);
  }

  @Test
  void sameSeedAndStreamGiveTheSameValues() {
    float[] a = new float[1000];
    float[] b = new float[1000];
    new Philox(99, 4).normal(3, a, 0, 1000, 0f, 1f);
    new Philox(99, 4).normal(3, b, 0, 1000, 0f, 1f);
    assertArrayEquals(a, b, 0f);
    assertArrayEquals(new Philox(7, 8).permutation(500, 11), new Philox(7, 8).permutation(500, 11));
    assertEquals(new Philox(99, 4), new Philox(99, 4));
    assertEquals(new Philox(99, 4).hashCode(), new Philox(99, 4).hashCode());
    assertNotEquals(new Philox(99, 4), new Philox(99, 5));
    assertEquals(99, new Philox(99, 4).seed());
    assertEquals(4, new Philox(99, 4).stream());
  }

  @Test
  void seedsStreamsAndOffsetsGiveDifferentValues() {
    // Each half of the 64-bit seed and stream matters; so does the offset.
    Philox[] gens = {
      new Philox(1, 0),
      new Philox(2, 0),
      new Philox(1L << 32, 0),
      new Philox(1, 1),
      new Philox(1, 1L << 32),
      new Philox(-1, -1),
    };
    int n = 4096;
    List<int[]> outs = new ArrayList<>();
    for (Philox g : gens) {
      int[] w = new int[n];
      g.nextInts(0, w, 0, n);
      outs.add(w);
    }
    int[] shifted = new int[n];
    gens[0].nextInts(4, shifted, 0, n);
    outs.add(shifted);
    for (int a = 0; a < outs.size(); a++) {
      for (int b = a + 1; b < outs.size(); b++) {
        int same = 0;
        for (int i = 0; i < n; i++) {
          same += outs.get(a)[i] == outs.get(b)[i] ? 1 : 0;
        }
        // Independent words agree with probability 2^-32.
        assertTrue(same <= 1, "generators " + a + " and " + b + " share " + same + " words");
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Statistics. Fixed seeds, so each check is deterministic; the bounds are at least 5 standard
  // errors (or the 0.1% point of the reference distribution) so a correct generator passes with
  // room to spare while a biased one fails.
  // ---------------------------------------------------------------------------------------------

  private static final int N = 1_000_000;

  @Test
  void uniformFloatMomentsAndRange() {
    float[] x = new float[N];
    new Philox(11, 0).uniform(5, x, 0, N, 0f, 1f);
    double[] m = moments(toDoubles(x));
    // Mean 1/2 (standard error 2.9e-4), variance 1/12 (standard error 7.5e-5).
    assertEquals(0.5, m[0], 0.0015);
    assertEquals(1.0 / 12, m[1], 0.0004);
    assertTrue(m[2] >= 0 && m[2] < 1e-4, "min " + m[2]);
    assertTrue(m[3] < 1 && m[3] > 1 - 1e-4, "max " + m[3]);

    new Philox(12, 0).uniform(0, x, 0, N, -2f, 3f);
    m = moments(toDoubles(x));
    assertEquals(0.5, m[0], 0.0075);
    assertEquals(25.0 / 12, m[1], 0.01);
    assertTrue(m[2] >= -2 && m[3] < 3);
  }

  @Test
  void uniformDoubleMomentsAndRange() {
    double[] x = new double[N];
    new Philox(13, 1).uniform(1, x, 0, N, 10.0, 20.0);
    double[] m = moments(x);
    assertEquals(15.0, m[0], 0.015);
    assertEquals(100.0 / 12, m[1], 0.04); // standard error 7.5e-3
    assertTrue(m[2] >= 10 && m[3] < 20);
  }

  @Test
  void uniformFloatNeverReturnsHigh() {
    // In [1, 2), u = 1 - 2^-24 gives 1 + u = 2 - 2^-24, which rounds (to even) to 2. Find a word
    // whose top 24 bits are all ones and check the value there is the float just below 2.
    Philox g = new Philox(31, 0);
    int[] w = new int[1 << 16];
    long found = -1;
    for (long base = 0; found < 0; base += w.length) {
      g.nextInts(base, w, 0, w.length);
      for (int i = 0; i < w.length && found < 0; i++) {
        if ((w[i] >>> 8) == 0xFFFFFF) {
          found = base + i;
        }
      }
    }
    float[] x = new float[1];
    g.uniform(found, x, 0, 1, 1f, 2f);
    assertEquals(Math.nextDown(2f), x[0]);
  }

  @Test
  void normalFloatMomentsAndShape() {
    float[] x = new float[N];
    new Philox(21, 0).normal(1, x, 0, N, 0f, 1f);
    double[] z = toDoubles(x);
    double[] m = moments(z);
    // Mean 0 (standard error 1e-3), variance 1 (standard error 1.4e-3).
    assertEquals(0, m[0], 0.005);
    assertEquals(1, m[1], 0.007);
    assertTrue(m[2] > -6.7 && m[3] < 6.7); // the radius is at most sqrt(64 ln 2) = 6.66
    assertKolmogorovSmirnovNormal(Arrays.copyOf(z, 200_000));

    new Philox(22, 0).normal(0, x, 0, N, 3f, 2f);
    m = moments(toDoubles(x));
    assertEquals(3, m[0], 0.01);
    assertEquals(4, m[1], 0.028);

    Arrays.fill(x, Float.NaN);
    new Philox(22, 0).normal(0, x, 0, 100, -1.5f, 0f);
    for (int i = 0; i < 100; i++) {
      assertEquals(-1.5f, x[i]);
    }
  }

  @Test
  void normalFloatFitsTheNormalByChiSquare() {
    // 1,000,000 values in 50 bins of equal probability under N(3, 0.5^2) (edges from the inverse
    // of normalCdf by bisection); plus the two-sided tail beyond 3 sigma, probability 0.0026998.
    int n = N;
    float[] x = new float[n];
    new Philox(24, 2).normal(7, x, 0, n, 3f, 0.5f);
    int bins = 50;
    double[] edges = new double[bins - 1];
    for (int k = 1; k < bins; k++) {
      double lo = -10;
      double hi = 10;
      for (int it = 0; it < 100; it++) {
        double mid = (lo + hi) / 2;
        if (normalCdf(mid) < (double) k / bins) {
          lo = mid;
        } else {
          hi = mid;
        }
      }
      edges[k - 1] = lo;
    }
    long[] counts = new long[bins];
    long tails = 0;
    for (float v : x) {
      double z = (v - 3.0) / 0.5;
      int bin = Arrays.binarySearch(edges, z);
      counts[bin >= 0 ? bin + 1 : -bin - 1]++;
      tails += Math.abs(z) > 3 ? 1 : 0;
    }
    // Chi-square with 49 degrees of freedom: 0.1% point 85.35. (The CDF approximation moves
    // each expected count by at most 0.15 of 20,000.)
    assertTrue(chiSquare(counts) < 85.35, "chi2 " + chiSquare(counts));
    // Binomial(1e6, 0.0027): standard deviation 51.9; 5 standard deviations.
    assertEquals(0.0026998 * n, tails, 260, "values beyond 3 sigma");
  }

  @Test
  void normalDoubleMomentsAndShape() {
    double[] x = new double[N];
    new Philox(23, 9).normal(0, x, 0, N, 0.0, 1.0);
    double[] m = moments(x);
    assertEquals(0, m[0], 0.005);
    assertEquals(1, m[1], 0.007);
    assertTrue(Double.isFinite(m[2]) && Double.isFinite(m[3]));
    assertKolmogorovSmirnovNormal(Arrays.copyOfRange(x, 300_000, 500_000));
  }

  /** Fails if the sample's KS distance to N(0, 1) exceeds the 0.1% critical value. */
  private static void assertKolmogorovSmirnovNormal(double[] sample) {
    double[] s = sample.clone();
    Arrays.sort(s);
    int n = s.length;
    double d = 0;
    for (int i = 0; i < n; i++) {
      double cdf = normalCdf(s[i]);
      d = Math.max(d, Math.max(cdf - (double) i / n, (double) (i + 1) / n - cdf));
    }
    // Asymptotic critical value of sqrt(n) D at the 0.1% level is 1.9495; the CDF approximation
    // adds at most 1.5e-7 to d.
    double critical = 1.9495 / Math.sqrt(n);
    assertTrue(d < critical, "KS distance " + d + " >= " + critical);
  }

  @Test
  void normalCdfApproximationIsSane() {
    assertEquals(0.5, normalCdf(0), 1e-9);
    assertEquals(0.975, normalCdf(1.959963985), 1e-6);
    assertEquals(0.025, normalCdf(-1.959963985), 1e-6);
    assertEquals(0.841344746, normalCdf(1), 1e-6);
  }

  /** Phi(x) = (1 + erf(x / sqrt 2)) / 2. */
  private static double normalCdf(double x) {
    return 0.5 * (1 + erf(x / Math.sqrt(2)));
  }

  /**
   * erf by Abramowitz and Stegun 7.1.26, absolute error at most 1.5e-7: far below the KS bounds
   * used here (above 4e-3).
   */
  private static double erf(double x) {
    double ax = Math.abs(x);
    double t = 1 / (1 + 0.3275911 * ax);
    double poly = 1.061405429;
    poly = poly * t - 1.453152027;
    poly = poly * t + 1.421413741;
    poly = poly * t - 0.284496736;
    poly = poly * t + 0.254829592;
    poly *= t;
    double y = 1 - poly * Math.exp(-ax * ax);
    return x >= 0 ? y : -y;
  }

  @Test
  void integersAreUniformOverASmallRange() {
    long[] x = new long[N];
    new Philox(41, 2).integers(0, x, 0, N, -3, 7);
    long[] counts = new long[10];
    for (long v : x) {
      assertTrue(v >= -3 && v < 7, "out of range: " + v);
      counts[(int) (v + 3)]++;
    }
    // Chi-square with 9 degrees of freedom: 0.1% point 27.877.
    assertTrue(chiSquare(counts) < 27.877, "chi2 " + chiSquare(counts));

    new Philox(41, 2).integers(0, x, 0, 1000, 5, 6);
    for (int i = 0; i < 1000; i++) {
      assertEquals(5, x[i]);
    }
  }

  @Test
  void integersRejectionRemovesTheMultiplyShiftBias() {
    // s = 3 * 2^62. Without rejection, floor(x * s / 2^64) = floor(3x / 4) hits values that are
    // 0 mod 3 twice as often as the others (1/2, 1/4, 1/4); exactly uniform values give 1/3 each.
    // This is also the range where a quarter of first draws go to the retry blocks.
    int n = 300_000;
    long[] x = new long[n];
    new Philox(43, 0).integers(7, x, 0, n, HEAVY_LOW, HEAVY_HIGH);
    long[] mod3 = new long[3];
    long[] thirds = new long[3];
    for (long v : x) {
      assertTrue(v >= HEAVY_LOW && v < HEAVY_HIGH);
      long k = v - HEAVY_LOW; // unsigned offset into the range
      mod3[(int) Long.remainderUnsigned(k, 3)]++;
      thirds[(int) Long.divideUnsigned(k, 1L << 62)]++;
    }
    // Chi-square with 2 degrees of freedom: 0.1% point 13.816. (The biased 1/2, 1/4, 1/4 would
    // give about 37,500.)
    assertTrue(chiSquare(mod3) < 13.816, "mod 3 chi2 " + chiSquare(mod3));
    assertTrue(chiSquare(thirds) < 13.816, "thirds chi2 " + chiSquare(thirds));
    // Redrawn values are independent draws, not repeats of one retry block: among 300,000 values
    // from a range of 1.4e19, a repeat has probability about 3e-9.
    long[] sorted = x.clone();
    Arrays.sort(sorted);
    for (int i = 1; i < n; i++) {
      assertNotEquals(sorted[i - 1], sorted[i], "repeated value");
    }
  }

  @Test
  void integersCoverTheWholeLongRange() {
    long[] x = new long[100_000];
    new Philox(44, 0).integers(0, x, 0, x.length, Long.MIN_VALUE, Long.MAX_VALUE);
    long[] halves = new long[2];
    for (long v : x) {
      assertTrue(v != Long.MAX_VALUE);
      halves[v < 0 ? 0 : 1]++;
    }
    assertTrue(chiSquare(halves) < 10.828, "chi2 " + chiSquare(halves)); // 1 df, 0.1% point
  }

  @Test
  void bernoulliFrequency() {
    float[] x = new float[N];
    new Philox(51, 0).bernoulli(0, x, 0, N, 0.3);
    double ones = 0;
    for (float v : x) {
      assertTrue(v == 0f || v == 1f);
      ones += v;
    }
    // Standard error sqrt(0.21 / N) = 4.6e-4.
    assertEquals(0.3, ones / N, 0.0023);

    new Philox(51, 0).bernoulli(0, x, 0, N, 0.0);
    for (float v : x) {
      assertEquals(0f, v);
    }
    new Philox(51, 0).bernoulli(0, x, 0, N, 1.0);
    for (float v : x) {
      assertEquals(1f, v);
    }
  }

  @Test
  void permutationIsAPermutation() {
    Philox g = new Philox(61, 0);
    assertArrayEquals(new int[0], g.permutation(0, 0));
    assertArrayEquals(new int[] {0}, g.permutation(1, 0));
    for (int n : new int[] {2, 3, 17, 1000, 1_000_003}) {
      int[] p = g.permutation(n, 5);
      boolean[] seen = new boolean[n];
      for (int v : p) {
        assertFalse(seen[v], "repeated " + v);
        seen[v] = true;
      }
    }
    int[] big = g.permutation(1000, 0);
    int fixed = 0;
    for (int i = 0; i < big.length; i++) {
      fixed += big[i] == i ? 1 : 0;
    }
    assertTrue(fixed < 10, fixed + " fixed points"); // about 1 expected
  }

  @Test
  void permutationPositionsAndOrdersAreUniform() {
    Philox g = new Philox(62, 3);
    int trials = 100_000;
    long[] position = new long[10];
    for (int t = 0; t < trials; t++) {
      int[] p = g.permutation(10, 9L * t); // a permutation of 10 reads 9 words
      for (int i = 0; i < 10; i++) {
        if (p[i] == 0) {
          position[i]++;
        }
      }
    }
    assertTrue(chiSquare(position) < 27.877, "chi2 " + chiSquare(position)); // 9 df, 0.1% point

    // All 3! orders of three elements equally likely.
    long[] orders = new long[6];
    for (int t = 0; t < 60_000; t++) {
      int[] p = g.permutation(3, 1_000_000 + 2L * t);
      orders[p[0] * 2 + (p[1] > p[2] ? 1 : 0)]++;
    }
    assertTrue(chiSquare(orders) < 20.515, "chi2 " + chiSquare(orders)); // 5 df, 0.1% point
  }

  /** Pearson's statistic against equal expected counts. */
  private static double chiSquare(long[] counts) {
    double total = 0;
    for (long c : counts) {
      total += c;
    }
    double expected = total / counts.length;
    double chi2 = 0;
    for (long c : counts) {
      chi2 += (c - expected) * (c - expected) / expected;
    }
    return chi2;
  }

  /** Mean, (population) variance, min and max. */
  private static double[] moments(double[] x) {
    double sum = 0;
    double min = Double.POSITIVE_INFINITY;
    double max = Double.NEGATIVE_INFINITY;
    for (double v : x) {
      sum += v;
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    double mean = sum / x.length;
    double ss = 0;
    for (double v : x) {
      ss += (v - mean) * (v - mean);
    }
    return new double[] {mean, ss / x.length, min, max};
  }

  private static double[] toDoubles(float[] x) {
    double[] d = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      d[i] = x[i];
    }
    return d;
  }

  // ---------------------------------------------------------------------------------------------
  // Bad arguments.
  // ---------------------------------------------------------------------------------------------

  private static void assertIae(String fragment, Executable call) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
    assertTrue(
        e.getMessage().contains(fragment),
        "message '" + e.getMessage() + "' should mention '" + fragment + "'");
  }

  @Test
  void badArgumentsAreRejected() {
    Philox g = new Philox(1, 2);
    float[] f = new float[10];
    double[] d = new double[10];
    long[] l = new long[10];
    int[] w = new int[10];

    assertIae("low < high", () -> g.integers(0, l, 0, 10, 5, 5));
    assertIae("low < high", () -> g.integers(0, l, 0, 10, 6, 5));

    assertIae("p=-0.1", () -> g.bernoulli(0, f, 0, 10, -0.1));
    assertIae("p=1.5", () -> g.bernoulli(0, f, 0, 10, 1.5));
    assertIae("p=NaN", () -> g.bernoulli(0, f, 0, 10, Double.NaN));

    assertIae("low < high", () -> g.uniform(0, f, 0, 10, 1f, 1f));
    assertIae("low < high", () -> g.uniform(0, f, 0, 10, 2f, 1f));
    assertIae("low < high", () -> g.uniform(0, f, 0, 10, Float.NaN, 1f));
    assertIae("low < high", () -> g.uniform(0, f, 0, 10, 0f, Float.POSITIVE_INFINITY));
    assertIae("high - low", () -> g.uniform(0, f, 0, 10, -3e38f, 3e38f));
    assertIae("low < high", () -> g.uniform(0, d, 0, 10, 0.0, 0.0));
    assertIae("high - low", () -> g.uniform(0, d, 0, 10, -Double.MAX_VALUE, Double.MAX_VALUE));

    assertIae("std", () -> g.normal(0, f, 0, 10, 0f, -1f));
    assertIae("std", () -> g.normal(0, f, 0, 10, 0f, Float.NaN));
    assertIae("mean", () -> g.normal(0, d, 0, 10, Double.POSITIVE_INFINITY, 1.0));

    assertIae("offset=-1", () -> g.nextInts(-1, w, 0, 1));
    assertIae("n=-1", () -> g.uniform(0, f, 0, -1, 0f, 1f));
    assertIae("offset=", () -> g.normal(Philox.MAX_VALUES - 5, d, 0, 6, 0.0, 1.0));
    assertIae("offset=", () -> g.integers(Philox.MAX_REJECTING_VALUES, l, 0, 1, 0, 2));
    assertIae("n=-1", () -> g.permutation(-1, 0));
    assertIae("offset=-5", () -> g.permutation(3, -5));
    assertIae("out4", () -> Philox.block(0, 0, 0, 0, 0, 0, new int[3]));

    assertThrows(IndexOutOfBoundsException.class, () -> g.nextInts(0, w, 5, 6));
    assertThrows(IndexOutOfBoundsException.class, () -> g.bernoulli(0, f, -1, 2, 0.5));
    assertThrows(IndexOutOfBoundsException.class, () -> g.integers(0, l, 10, 1, 0, 2));
  }

  @Test
  void offsetsUpToTheLimitWork() {
    Philox g = new Philox(1, 2);
    double[] d = new double[5];
    g.normal(Philox.MAX_VALUES - 5, d, 0, 5, 0.0, 1.0);
    for (double v : d) {
      assertTrue(Double.isFinite(v));
    }
    long[] l = new long[3];
    g.integers(Philox.MAX_REJECTING_VALUES - 3, l, 0, 3, HEAVY_LOW, HEAVY_HIGH);
    int[] p = g.permutation(3, Philox.MAX_REJECTING_VALUES - 3);
    assertEquals(3, p.length);
    // Zero-length fills are allowed anywhere in range and touch nothing.
    float[] f = {42f};
    g.uniform(Philox.MAX_VALUES, f, 1, 0, 0f, 1f);
    assertEquals(42f, f[0]);
  }
}
