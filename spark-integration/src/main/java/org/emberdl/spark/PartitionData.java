package org.emberdl.spark;

import java.io.Serializable;
import java.util.Arrays;
import java.util.Iterator;
import org.apache.spark.sql.catalyst.InternalRow;

/**
 * One partition's training rows, converted once on its executor and cached by Spark's block manager
 * across every round and epoch: features row-major in one {@code float[]}, labels in another, and
 * the held-out validation rows beside them.
 *
 * <p>Why heap arrays in the block manager rather than off-heap Arrow buffers in an executor-side
 * map: Spark then owns eviction, spilling and, after an executor is lost, recomputation from
 * lineage, with no release protocol of our own; and each step gathers its shuffled mini-batch into
 * a fresh off-heap array anyway, so the cache's own layout costs no extra copy.
 */
final class PartitionData implements Serializable {
  private static final long serialVersionUID = 1L;

  final int dim;
  final float[] trainX;
  final float[] trainY;
  final int trainRows;
  final float[] validX;
  final float[] validY;
  final int validRows;
  final long skipped;

  private PartitionData(Rows train, Rows valid, int dim, long skipped) {
    this.dim = dim;
    this.trainX = train.x();
    this.trainY = train.y();
    this.trainRows = train.count;
    this.validX = valid.x();
    this.validY = valid.y();
    this.validRows = valid.count;
    this.skipped = skipped;
  }

  /**
   * Reads a partition of {@code (features, label)} rows.
   *
   * @param rows the partition, features at ordinal 0 and a double label at ordinal 1
   * @param validationFraction the share of rows held out, chosen by a hash of (seed, partition,
   *     row) so the split does not depend on the executor or a retry
   * @param skipInvalid drop invalid rows instead of failing
   * @throws IllegalArgumentException for an invalid row when not skipping, naming the column, the
   *     partition and the row
   */
  static PartitionData read(
      Iterator<InternalRow> rows,
      FeatureColumn features,
      String labelCol,
      TaskKind kind,
      int numClasses,
      double validationFraction,
      long seed,
      int partition,
      boolean skipInvalid) {
    int dim = features.size();
    Rows train = new Rows(dim);
    Rows valid = new Rows(dim);
    long index = 0;
    long skipped = 0;
    while (rows.hasNext()) {
      InternalRow row = rows.next();
      long at = index++;
      boolean toValid = validationFraction > 0 && uniform(seed, partition, at) < validationFraction;
      Rows target = toValid ? valid : train;
      target.ensureRoom();
      String problem = features.copy(row, 0, target.x, target.count * dim);
      if (problem != null) {
        if (skipInvalid) {
          skipped++;
          continue;
        }
        throw new IllegalArgumentException(features.invalidRow(problem, partition, at));
      }
      String badLabel = row.isNullAt(1) ? "null" : checkLabel(row.getDouble(1), kind, numClasses);
      if (badLabel != null) {
        if (skipInvalid) {
          skipped++;
          continue;
        }
        throw new IllegalArgumentException(
            "invalid label in column '"
                + labelCol
                + "' at row "
                + at
                + " of partition "
                + partition
                + ": "
                + badLabel);
      }
      target.y[target.count++] = (float) row.getDouble(1);
    }
    return new PartitionData(train, valid, dim, skipped);
  }

  private static String checkLabel(double label, TaskKind kind, int numClasses) {
    if (kind == TaskKind.CLASSIFICATION) {
      if (label != Math.rint(label) || label < 0 || label >= numClasses) {
        return label + " is not a class index in [0, " + numClasses + ")";
      }
    } else if (!Double.isFinite(label)) {
      return label + " is not finite";
    }
    return null;
  }

  /** A uniform double in [0, 1) from (seed, partition, row) by SplitMix64 finalizers. */
  static double uniform(long seed, int partition, long row) {
    long z = mix(mix(seed ^ 0x9E3779B97F4A7C15L) + partition) + row;
    return (mix(z) >>> 11) * 0x1.0p-53;
  }

  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  /** A growing row buffer. */
  private static final class Rows {
    final int dim;
    float[] x;
    float[] y;
    int count;

    Rows(int dim) {
      this.dim = dim;
      this.x = new float[dim * 64];
      this.y = new float[64];
    }

    void ensureRoom() {
      if (count == y.length) {
        int capacity = (int) Math.min((long) y.length * 2, Integer.MAX_VALUE / Math.max(1, dim));
        if (capacity <= count) {
          throw new IllegalStateException(
              "a partition holds more than "
                  + count
                  + " rows of "
                  + dim
                  + " features; "
                  + "use more partitions");
        }
        x = Arrays.copyOf(x, capacity * dim);
        y = Arrays.copyOf(y, capacity);
      }
    }

    float[] x() {
      return Arrays.copyOf(x, count * dim);
    }

    float[] y() {
      return Arrays.copyOf(y, count);
    }
  }
}
