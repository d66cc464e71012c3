package org.emberdl.spark.internal.data;

import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.OutOfMemoryException;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.emberdl.arrow.ArrowTensors;
import org.emberdl.arrow.NullCheck;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.memory.HostMemory;

/**
 * A task's training rows in off-heap Arrow buffers: features as a {@code FixedSizeList<float32>}
 * column, labels as a {@code float32} column beside it, both allocated in the task's own child
 * allocator (so they count against the executor's Ember budget and are accounted per task), and
 * viewed as {@code [rows, dim]} and {@code [rows]} {@link NDArray}s through {@code arrow-bridge}
 * without a copy. Each mini-batch is gathered from the feature buffer by one memcpy per row.
 *
 * <p>Closing it frees the columns and closes the allocator, which fails loudly if anything made in
 * it is still open: a task's off-heap use returns to zero.
 */
final class ArrowRows implements TrainRows, AutoCloseable {
  private static final FieldType FLOAT32 =
      FieldType.notNullable(new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE));

  private final BufferAllocator allocator;
  private final FixedSizeListVector features;
  private final Float4Vector labels;
  private final NDArray x;
  private final NDArray y;
  private final int rows;
  private final int dim;
  private final long xAddress;
  private final ArrowBuf labelBuffer;

  private ArrowRows(
      BufferAllocator allocator,
      FixedSizeListVector features,
      Float4Vector labels,
      NDArray x,
      NDArray y,
      int rows,
      int dim) {
    this.allocator = allocator;
    this.features = features;
    this.labels = labels;
    this.x = x;
    this.y = y;
    this.rows = rows;
    this.dim = dim;
    this.xAddress = rows == 0 ? 0 : x.storage().address();
    this.labelBuffer = labels.getDataBuffer();
  }

  /**
   * Copies {@code rows} rows of {@code dim} features ({@code x}, row-major) and their labels into
   * new Arrow columns in {@code allocator}, which the result owns and closes.
   *
   * @throws OutOfMemoryException when the allocator (or its root's limit) refuses the columns; the
   *     allocator is closed first
   */
  static ArrowRows copyOf(float[] x, float[] y, int rows, int dim, BufferAllocator allocator) {
    FixedSizeListVector features = null;
    Float4Vector labels = null;
    NDArray fx = null;
    try {
      features = FixedSizeListVector.empty("features", dim, allocator);
      features.addOrGetVector(FLOAT32);
      features.setInitialCapacity(rows);
      features.allocateNew();
      Float4Vector values = (Float4Vector) features.getDataVector();
      labels = new Float4Vector("label", FLOAT32, allocator);
      labels.allocateNew(rows);
      if (rows > 0) {
        HostMemory.copyIn(x, 0, values.getDataBuffer().memoryAddress(), rows * dim);
        HostMemory.copyIn(y, 0, labels.getDataBuffer().memoryAddress(), rows);
      }
      allValid(features, rows);
      allValid(values, rows * dim);
      allValid(labels, rows);
      features.setValueCount(rows);
      labels.setValueCount(rows);
      // Every value was checked finite and non-null when the partition was read.
      fx = ArrowTensors.wrap(features, NullCheck.SKIP);
      NDArray fy = ArrowTensors.wrap(labels, NullCheck.SKIP);
      return new ArrowRows(allocator, features, labels, fx, fy, rows, dim);
    } catch (RuntimeException e) {
      if (fx != null) {
        fx.close();
      }
      if (labels != null) {
        labels.close();
      }
      if (features != null) {
        features.close();
      }
      allocator.close();
      throw e;
    }
  }

  private static void allValid(FieldVector v, int count) {
    long bytes = (count + 7L) / 8;
    if (bytes > 0) {
      v.getValidityBuffer().setOne(0L, bytes);
    }
  }

  @Override
  public int count() {
    return rows;
  }

  @Override
  public int dim() {
    return dim;
  }

  /** The features, {@code [rows, dim]}, over the Arrow column's data buffer (not a copy). */
  NDArray features() {
    return x;
  }

  /** The labels, {@code [rows]}, over the Arrow label column's data buffer (not a copy). */
  NDArray labels() {
    return y;
  }

  FixedSizeListVector featureVector() {
    return features;
  }

  Float4Vector labelVector() {
    return labels;
  }

  BufferAllocator allocator() {
    return allocator;
  }

  @Override
  public NDArray gather(int[] order, int lo, int hi, int[] inputShape) {
    int n = hi - lo;
    NDArray batch = NDArray.empty(DType.FLOAT32, TrainRows.batchShape(n, inputShape));
    if (n == 0) {
      return batch;
    }
    long rowBytes = 4L * dim;
    long to = batch.storage().address();
    for (int i = 0; i < n; i++) {
      int r = order[lo + i];
      if (r < 0 || r >= rows) { // an unchecked index would read outside the column
        batch.close();
        throw new IndexOutOfBoundsException("row " + r + " of a partition of " + rows + " rows");
      }
      HostMemory.copy(xAddress + r * rowBytes, to + i * rowBytes, rowBytes);
    }
    return batch;
  }

  @Override
  public float label(int row) {
    return labelBuffer.getFloat(4L * row);
  }

  /** Frees the columns and closes the task's allocator (which throws if anything leaked). */
  @Override
  public void close() {
    x.close();
    y.close();
    labels.close();
    features.close();
    allocator.close();
  }
}
