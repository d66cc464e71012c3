package org.emberdl.federated;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class AveragesTest {
  /** The definition: each value times 1.0 / examples in double, rounded to float. */
  private static float reference(float v, long examples) {
    return (float) (v * (1.0 / examples));
  }

  /** Random bit patterns (every exponent, subnormals, NaNs, infinities) plus the edge values. */
  private static float[] values() {
    SplittableRandom r = new SplittableRandom(7);
    float[] v = new float[100_000];
    for (int i = 0; i < v.length; i++) {
      v[i] = Float.intBitsToFloat(r.nextInt());
    }
    float[] edges = {
      0f,
      -0f,
      Float.MIN_VALUE,
      -Float.MIN_VALUE,
      Float.MIN_NORMAL,
      Float.MAX_VALUE,
      -Float.MAX_VALUE,
      Float.POSITIVE_INFINITY,
      Float.NEGATIVE_INFINITY,
      Float.NaN,
      1f,
      3f,
      0.1f
    };
    System.arraycopy(edges, 0, v, 0, edges.length);
    return v;
  }

  @Test
  void everyExampleCountGivesTheDoubleProductRoundedToFloat() {
    float[] sum = values();
    // powers of two take the float loop, the others the double one; both must be the definition
    long[] counts = {1, 2, 3, 64, 96, 100, 128, 256, 1000, 1L << 20, (1L << 40) + 1, 1L << 62};
    for (long examples : counts) {
      float[] out = Averages.perExample(sum, new Update(sum, new float[0], examples, 0, 0));
      for (int i = 0; i < sum.length; i++) {
        float want = reference(sum[i], examples);
        assertEquals(
            Float.floatToIntBits(want),
            Float.floatToIntBits(out[i]),
            () -> "examples " + examples + ", value " + Float.floatToIntBits(sum[0]));
      }
    }
  }

  @Test
  void subnormalResultsRoundOnce() {
    // 3 * 2^-149 / 2 = 1.5 * 2^-149: the exact half rounds to even (2 * 2^-149), not twice
    float[] out =
        Averages.perExample(
            new float[] {3 * Float.MIN_VALUE, Float.MIN_VALUE},
            new Update(new float[2], new float[0], 2, 0, 0));
    assertEquals(2 * Float.MIN_VALUE, out[0]);
    assertEquals(0f, out[1]); // 0.5 * 2^-149 rounds to even: zero
  }

  @Test
  void noExamplesIsRefused() {
    IllegalStateException e =
        assertThrows(
            IllegalStateException.class,
            () ->
                Averages.perExample(new float[1], new Update(new float[1], new float[0], 0, 0, 0)));
    assertTrue(e.getMessage().contains("cover no examples"), e.getMessage());
  }
}
