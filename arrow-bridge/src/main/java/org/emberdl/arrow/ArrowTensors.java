package org.emberdl.arrow;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Device;
import org.emberdl.tensor.NDArray;

/**
 * Arrow vectors to and from {@link NDArray}s. The {@code wrap} and {@code export} methods do not
 * copy: an imported array's storage <em>is</em> the vector's data buffer, and an exported vector's
 * data buffer <em>is</em> the array's storage. Methods that copy say so in their name.
 *
 * <p><b>Columns.</b> {@code Float4Vector}, {@code Float8Vector}, {@code IntVector} and {@code
 * BigIntVector} become 1-D float32, float64, int32 and int64 arrays; a {@code FixedSizeListVector}
 * of those becomes {@code [N, D]}; a {@code ListVector} of those whose rows all hold {@code D}
 * values becomes {@code [N, D]} (its offsets are read once to check that). Anything else, a null, a
 * ragged row or an inconsistent buffer is an {@link ArrowImportException} naming the column and the
 * first bad row.
 *
 * <p><b>Lifetimes.</b> A shared buffer carries Arrow's reference count: the array (or exported
 * vector) holds one reference and the other side its own, so either may be closed first and the
 * memory is freed when the last one goes, in whichever allocator accounts for it. Writes through
 * one side are seen by the other. A vector that is refilled later ({@code VectorSchemaRoot} reuse,
 * {@code ArrowReader.loadNextBatch}) gets new buffers and leaves earlier arrays on the old ones;
 * only writes in place ({@code set}, {@code reset}) change what an earlier array sees.
 *
 * <p><b>Slices and alignment.</b> A sliced vector ({@code VectorSchemaRoot.slice}, {@code
 * splitAndTransfer}) is viewed at its own offset. Ember's allocator aligns to 64 bytes, Arrow's IPC
 * reader to 8; both work in place. A data buffer not aligned to its element size is rejected by
 * {@code wrap} and realigned by {@code copy}.
 */
public final class ArrowTensors {
  private ArrowTensors() {}

  /**
   * Views {@code vector} as an array without copying, rejecting nulls ({@link NullCheck#SCAN}).
   *
   * @return a CPU array sharing the vector's data buffer; the caller closes it
   * @throws ArrowImportException for an unsupported type, a null, a ragged list row, a misaligned
   *     or too-short buffer
   */
  public static NDArray wrap(FieldVector vector) {
    return wrap(vector, NullCheck.SCAN);
  }

  /**
   * Views {@code vector} as an array without copying. With {@link NullCheck#SKIP} the cost does not
   * depend on the number of rows (List columns still read their offsets once).
   *
   * @throws ArrowImportException as {@link #wrap(FieldVector)}, nulls only when scanned
   */
  public static NDArray wrap(FieldVector vector, NullCheck nulls) {
    return VectorImport.share(VectorImport.plan(vector, -1, nulls));
  }

  /**
   * Copies {@code vector} into a new array in Ember's allocator, rejecting nulls. For a misaligned
   * buffer, or to release the Arrow batch early.
   *
   * @throws ArrowImportException as {@link #wrap(FieldVector)}, except for alignment
   */
  public static NDArray copy(FieldVector vector) {
    return VectorImport.copy(VectorImport.plan(vector, -1, NullCheck.SCAN));
  }

  /**
   * Copies {@code vector} into a new array, writing {@code nullFill} for every null: a null value,
   * each value of a null list row, a whole null row. A copy is needed because the fill must not be
   * written into the producer's buffer. A List column's width is that of its first non-null row.
   *
   * @param nullFill converted to the column's dtype; for an integer column it must be an integer
   * @throws ArrowImportException for an unsupported type, a ragged non-null row, a fill the dtype
   *     cannot hold, or an inconsistent buffer
   */
  public static NDArray copy(FieldVector vector, double nullFill) {
    return FillingImport.copy(vector, -1, nullFill);
  }

  /**
   * Copies scalar columns side by side into one {@code [N, C]} array (column {@code c} of the
   * result is {@code columns.get(c)}), in the promoted dtype of the columns ({@link DType}): a copy
   * is unavoidable since the columns live in separate buffers. Nulls are rejected.
   *
   * @throws ArrowImportException when a column is not scalar, holds a null or has another length
   */
  public static NDArray copyColumns(List<? extends FieldVector> columns) {
    return ColumnStack.copy(columns, null);
  }

  /** As {@link #copyColumns(List)}, with every null replaced by {@code nullFill}. */
  public static NDArray copyColumns(List<? extends FieldVector> columns, double nullFill) {
    return ColumnStack.copy(columns, nullFill);
  }

  /**
   * A vector sharing {@code array}'s memory: a non-nullable {@code Float4Vector}, {@code
   * Float8Vector}, {@code IntVector} or {@code BigIntVector} for {@code [N]}, a {@code
   * FixedSizeListVector} of those for {@code [N, D]}. Its data buffer is allocated "foreign" in
   * {@code allocator} (any root): it holds one reference to the array's storage and drops it when
   * the vector is closed, so the array and the vector may be closed in either order. The validity
   * bitmap (all set) is the only memory allocated.
   *
   * @throws IllegalArgumentException when the array is not a contiguous 1-D or 2-D CPU array of
   *     float32, float64, int32 or int64 (call {@code contiguous()} or {@code cast} first; both
   *     copy)
   */
  public static FieldVector export(NDArray array, String name, BufferAllocator allocator) {
    return VectorExport.export(array, name, allocator);
  }

  /**
   * {@link #export} for an array on any device: a device array is copied to the host once (the
   * backend's copyToHost, straight into the Ember host memory that becomes the vector's data
   * buffer) and a non-contiguous one made contiguous; a contiguous CPU array is shared, not copied.
   * Java never reads device memory itself.
   *
   * @throws IllegalArgumentException as {@link #export} for shapes and dtypes
   */
  public static FieldVector download(NDArray array, String name, BufferAllocator allocator) {
    try (NDArray host = array.to(Device.CPU);
        NDArray dense = host.contiguous()) {
      // the vector holds its own reference to dense's storage
      return VectorExport.export(dense, name, allocator);
    }
  }

  /**
   * A record batch of {@link #export}ed arrays, one column per entry in the map's iteration order
   * (use a {@link LinkedHashMap} to choose it). Every array must have the same first dim.
   *
   * @return a root the caller closes; closing it does not close the arrays
   */
  public static VectorSchemaRoot export(Map<String, NDArray> columns, BufferAllocator allocator) {
    List<FieldVector> vectors = new ArrayList<>();
    try {
      int rows = -1;
      for (Map.Entry<String, NDArray> e : columns.entrySet()) {
        FieldVector v = VectorExport.export(e.getValue(), e.getKey(), allocator);
        vectors.add(v);
        if (rows >= 0 && v.getValueCount() != rows) {
          throw new IllegalArgumentException(
              "column '" + e.getKey() + "' has " + v.getValueCount() + " rows, the first " + rows);
        }
        rows = v.getValueCount();
      }
      VectorSchemaRoot root = new VectorSchemaRoot(vectors);
      root.setRowCount(Math.max(rows, 0));
      return root;
    } catch (RuntimeException e) {
      vectors.forEach(FieldVector::close);
      throw e;
    }
  }

  /**
   * Copies a host array (a zero-copy import, typically) to {@code target} with one {@code
   * Backend.copyFromHost} from its memory address: the device-upload path, with no Java array or
   * staging copy in between. On CUDA this is the host-to-device transfer; on the CPU it gives an
   * independent copy (use {@link #wrap} to avoid one).
   *
   * @throws IllegalArgumentException when {@code host} is not a contiguous CPU array
   */
  public static NDArray upload(NDArray host, Device target) {
    return DeviceUpload.upload(host, target);
  }

  /**
   * The column on {@code target}: checked as {@link #wrap(FieldVector)} does (alignment aside),
   * then copied from its data buffer's address as {@link #upload(NDArray, Device)} does.
   */
  public static NDArray upload(FieldVector vector, Device target) {
    return DeviceUpload.upload(VectorImport.plan(vector, -1, NullCheck.SCAN), target);
  }

  /**
   * Copies {@code shape} elements of {@code dtype} starting {@code byteOffset} bytes into {@code
   * buffer} straight to {@code target}, for buffers that are not a column (a whole IPC body).
   *
   * @throws IndexOutOfBoundsException when the range reaches past the buffer
   */
  public static NDArray upload(
      ArrowBuf buffer, long byteOffset, DType dtype, int[] shape, Device target) {
    return DeviceUpload.upload(buffer, byteOffset, dtype, shape, target);
  }
}
