package org.emberdl.federated;

import java.io.Serializable;
import java.util.Arrays;

/**
 * What one partition (or a sum of partitions) sends back in a round: a flat float vector in the
 * layout of {@code Module.flatParameters()}, the float buffers (e.g. BatchNorm running statistics)
 * weighted by example count, and the round's metrics.
 *
 * <p>What {@link #values()} holds depends on the {@link Aggregator}'s {@link UpdateKind}: the sum
 * of per-example gradients, or the example-weighted model delta after local steps. Updates add up
 * with {@link #add}; the caller fixes the order (Ember's coordinator sums in partition order, so a
 * round's result does not depend on which task finished first).
 */
public final class Update implements Serializable {
  private static final long serialVersionUID = 1L;

  private final float[] values;
  private final float[] buffers;
  private long examples;
  private double lossSum;
  private long correct;
  private int partitions;

  /**
   * @param values the flat update (owned by this object from now on)
   * @param buffers example-weighted buffer values (owned), possibly empty
   * @param examples number of examples the update covers
   * @param lossSum sum of per-example losses
   * @param correct number of correctly classified examples (0 for regression)
   */
  public Update(float[] values, float[] buffers, long examples, double lossSum, long correct) {
    if (examples < 0) {
      throw new IllegalArgumentException("examples must be >= 0, got " + examples);
    }
    this.values = values;
    this.buffers = buffers;
    this.examples = examples;
    this.lossSum = lossSum;
    this.correct = correct;
    this.partitions = 1;
  }

  /** An update of zeros that {@link #add}s as the identity. */
  public static Update zero(int size, int bufferSize) {
    Update u = new Update(new float[size], new float[bufferSize], 0, 0, 0);
    u.partitions = 0;
    return u;
  }

  /**
   * Adds {@code other} into this update elementwise and returns this.
   *
   * @throws IllegalArgumentException when the two updates have different sizes
   */
  public Update add(Update other) {
    if (other.values.length != values.length || other.buffers.length != buffers.length) {
      throw new IllegalArgumentException(
          "updates of different sizes: "
              + values.length
              + "+"
              + buffers.length
              + " vs "
              + other.values.length
              + "+"
              + other.buffers.length);
    }
    float[] v = values;
    float[] o = other.values;
    for (int i = 0; i < v.length; i++) {
      v[i] += o[i];
    }
    float[] b = buffers;
    float[] ob = other.buffers;
    for (int i = 0; i < b.length; i++) {
      b[i] += ob[i];
    }
    examples += other.examples;
    lossSum += other.lossSum;
    correct += other.correct;
    partitions += other.partitions;
    return this;
  }

  public float[] values() {
    return values;
  }

  public float[] buffers() {
    return buffers;
  }

  public long examples() {
    return examples;
  }

  public double lossSum() {
    return lossSum;
  }

  public long correct() {
    return correct;
  }

  /** Number of partitions summed into this update. */
  public int partitions() {
    return partitions;
  }

  @Override
  public String toString() {
    return "Update[size="
        + values.length
        + ", buffers="
        + buffers.length
        + ", examples="
        + examples
        + ", lossSum="
        + lossSum
        + ", correct="
        + correct
        + ", partitions="
        + partitions
        + ", head="
        + Arrays.toString(Arrays.copyOf(values, Math.min(4, values.length)))
        + "]";
  }
}
