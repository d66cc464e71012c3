package org.emberdl.arrow;

import java.util.Arrays;
import java.util.List;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.ForeignAllocation;
import org.apache.arrow.vector.BaseFixedWidthVector;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.ipc.message.ArrowFieldNode;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Device;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.memory.Storage;

/**
 * Zero-copy export: a vector whose data buffer is an array's storage.
 *
 * <p>The buffer is a {@link ForeignAllocation} in the caller's allocator that holds one reference
 * to the array's {@link Storage} and drops it when Arrow frees the buffer. Arrow cannot share one
 * ledger between allocators of different roots, and the caller's allocator (Spark's, a test's) is
 * usually not under Ember's root; a foreign allocation works under any root. The bytes are then
 * counted by both allocators while both sides hold them, which is what each side's limit should
 * see.
 */
final class VectorExport {
  private VectorExport() {}

  static FieldVector export(NDArray array, String name, BufferAllocator allocator) {
    requireExportable(array, name);
    int rows = array.shape(0);
    if (array.ndim() == 1) {
      BaseFixedWidthVector v = newScalarVector(name, array.dtype(), allocator);
      try {
        load(v, rows, array, allocator);
        return v;
      } catch (RuntimeException e) {
        v.close();
        throw e;
      }
    }
    int width = array.shape(1);
    FixedSizeListVector list =
        new FixedSizeListVector(
            name, allocator, FieldType.notNullable(new ArrowType.FixedSizeList(width)), null);
    try {
      list.addOrGetVector(FieldType.notNullable(arrowType(array.dtype())));
      // With a null count of 0 and no validity buffer, Arrow makes an all-valid bitmap itself.
      list.loadFieldBuffers(new ArrowFieldNode(rows, 0), List.of(allocator.getEmpty()));
      load((BaseFixedWidthVector) list.getDataVector(), rows * width, array, allocator);
      return list;
    } catch (RuntimeException e) {
      list.close();
      throw e;
    }
  }

  /** The Arrow type an array of {@code dtype} exports as; throws for bool. */
  static ArrowType arrowType(DType dtype) {
    return switch (dtype) {
      case FLOAT32 -> new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE);
      case FLOAT64 -> new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE);
      case INT32 -> new ArrowType.Int(32, true);
      case INT64 -> new ArrowType.Int(64, true);
      case BOOL -> throw new IllegalArgumentException("bool has no zero-copy Arrow type");
    };
  }

  private static BaseFixedWidthVector newScalarVector(
      String name, DType dtype, BufferAllocator allocator) {
    Field field = Field.notNullable(name, arrowType(dtype));
    return switch (dtype) {
      case FLOAT32 -> new Float4Vector(field, allocator);
      case FLOAT64 -> new Float8Vector(field, allocator);
      case INT32 -> new IntVector(field, allocator);
      case INT64 -> new BigIntVector(field, allocator);
      case BOOL -> throw new IllegalStateException("checked by arrowType");
    };
  }

  /** Loads the array's elements as the data buffer of {@code v}, with {@code count} values. */
  private static void load(
      BaseFixedWidthVector v, int count, NDArray array, BufferAllocator allocator) {
    ArrowBuf data = foreignBuffer(array, allocator);
    try {
      // loadFieldBuffers takes its own reference; ours is dropped below either way.
      v.loadFieldBuffers(new ArrowFieldNode(count, 0), List.of(allocator.getEmpty(), data));
    } finally {
      data.close();
    }
  }

  private static ArrowBuf foreignBuffer(NDArray array, BufferAllocator allocator) {
    Storage storage = array.storage();
    long bytes = array.numel() * array.dtype().byteSize();
    long address = storage.address() + array.layout().offset() * array.dtype().byteSize();
    storage.retain();
    try {
      return allocator.wrapForeignAllocation(new StorageAllocation(storage, address, bytes));
    } catch (RuntimeException e) {
      storage.release();
      throw e;
    }
  }

  private static void requireExportable(NDArray array, String name) {
    String problem = null;
    if (!array.device().equals(Device.CPU)) {
      problem =
          "is on "
              + array.device()
              + ", whose memory Arrow cannot read; ArrowTensors.download copies it to the host";
    } else if (array.ndim() != 1 && array.ndim() != 2) {
      problem = "has " + array.ndim() + " dims; export takes [N] or [N, D] (reshape first)";
    } else if (!array.isContiguous()) {
      problem = "is not contiguous; call contiguous() first (which copies)";
    } else if (array.dtype() == DType.BOOL) {
      problem = "is bool, which Arrow packs into bits; cast it to int32 first";
    } else if (array.numel() > Integer.MAX_VALUE) {
      problem = "has " + array.numel() + " elements; an Arrow vector holds at most 2^31 - 1";
    }
    if (problem != null) {
      throw new IllegalArgumentException(
          "cannot export " + array.dtype() + shapeOf(array) + " as '" + name + "': it " + problem);
    }
  }

  private static String shapeOf(NDArray a) {
    return Arrays.toString(a.shape());
  }

  /** Arrow's view of an array's memory: freeing it drops one reference to the storage. */
  private static final class StorageAllocation extends ForeignAllocation {
    private final Storage storage;

    StorageAllocation(Storage storage, long address, long bytes) {
      super(bytes, address);
      this.storage = storage;
    }

    @Override
    protected void release0() {
      storage.release();
    }
  }
}
