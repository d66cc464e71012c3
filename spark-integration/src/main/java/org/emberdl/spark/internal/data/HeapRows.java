package org.emberdl.spark.internal.data;

import org.emberdl.tensor.NDArray;

/** Rows held row-major in heap arrays (the block manager's cached form of a partition). */
final class HeapRows implements TrainRows {
  private final float[] x;
  private final float[] y;
  private final int rows;
  private final int dim;

  HeapRows(float[] x, float[] y, int rows, int dim) {
    this.x = x;
    this.y = y;
    this.rows = rows;
    this.dim = dim;
  }

  @Override
  public int count() {
    return rows;
  }

  @Override
  public int dim() {
    return dim;
  }

  @Override
  public NDArray gather(int[] order, int lo, int hi, int[] inputShape) {
    int n = hi - lo;
    float[] batch = new float[n * dim];
    for (int i = 0; i < n; i++) {
      System.arraycopy(x, order[i + lo] * dim, batch, i * dim, dim);
    }
    return NDArray.of(batch, TrainRows.batchShape(n, inputShape));
  }

  @Override
  public float label(int row) {
    return y[row];
  }
}
