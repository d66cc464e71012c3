package org.emberdl.spark.internal.data;

import org.emberdl.tensor.NDArray;

/**
 * A partition's training rows as a step reads them: its mini-batch features gathered in a given
 * order into one new array, and each row's label. Two forms hold the same values: {@link HeapRows}
 * over the block-manager-cached {@link PartitionData}, and {@link ArrowRows}, the off-heap Arrow
 * copy a training-stage task makes once and gathers every step from. Gathering copies whole rows
 * (one memcpy each, nothing allocated per row), so both forms give the same batch bit for bit.
 */
public interface TrainRows {
  /** The number of rows. */
  int count();

  /** Features per row. */
  int dim();

  /**
   * Rows {@code order[lo..hi)}, in that order, copied into a new float32 array shaped {@code (hi -
   * lo, inputShape...)} in the current {@code MemoryScope}.
   */
  NDArray gather(int[] order, int lo, int hi, int[] inputShape);

  /** The label of row {@code row}. */
  float label(int row);

  /** {@code (n, inputShape...)}. */
  static int[] batchShape(int n, int[] inputShape) {
    int[] shape = new int[inputShape.length + 1];
    shape[0] = n;
    System.arraycopy(inputShape, 0, shape, 1, inputShape.length);
    return shape;
  }
}
