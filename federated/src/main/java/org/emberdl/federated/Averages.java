package org.emberdl.federated;

/** Division of summed updates by their example count. */
final class Averages {
  private Averages() {}

  /**
   * {@code sum / total.examples()} as a new array: each value times {@code 1.0 / examples} in
   * double, rounded to float.
   *
   * <p>When the example count is a power of two (every full step of the usual batch sizes), {@code
   * 1 / examples} is exact in float as well, and so is the double product; rounding it to float
   * then gives exactly what one float multiplication gives. That loop C2 vectorizes; the double one
   * it does not (a driver's sum-to-reply time at batch 128 was mostly this division).
   */
  static float[] perExample(float[] sum, Update total) {
    long examples = total.examples();
    if (examples <= 0) {
      throw new IllegalStateException(
          "a round's updates cover no examples (" + total.partitions() + " partitions)");
    }
    float[] out = new float[sum.length];
    if (Long.bitCount(examples) == 1) {
      float scale = 1.0f / examples; // a power of two >= 2^-62: exact
      for (int i = 0; i < sum.length; i++) {
        out[i] = sum[i] * scale;
      }
    } else {
      double scale = 1.0 / examples;
      for (int i = 0; i < sum.length; i++) {
        out[i] = (float) (sum[i] * scale);
      }
    }
    return out;
  }
}
