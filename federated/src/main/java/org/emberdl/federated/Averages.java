package org.emberdl.federated;

/** Division of summed updates by their example count. */
final class Averages {
  private Averages() {}

  /** {@code sum / total.examples()} as a new array. */
  static float[] perExample(float[] sum, Update total) {
    if (total.examples() <= 0) {
      throw new IllegalStateException(
          "a round's updates cover no examples (" + total.partitions() + " partitions)");
    }
    double scale = 1.0 / total.examples();
    float[] out = new float[sum.length];
    for (int i = 0; i < sum.length; i++) {
      out[i] = (float) (sum[i] * scale);
    }
    return out;
  }
}
