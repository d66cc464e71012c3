package org.emberdl.arrow;

import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.FieldVector;
import org.emberdl.tensor.Device;
import org.emberdl.tensor.Layout;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.memory.HostMemory;
import org.emberdl.tensor.memory.Storage;

/**
 * Import of a null-free column: checked once ({@link #plan}), then either viewed in place (the
 * array's storage is the column's data buffer, with one more reference on its ledger) or copied.
 * Checks read only offsets and validity bitmaps, never values.
 */
final class VectorImport {
  private VectorImport() {}

  /**
   * A checked column: its values {@code [first, first + numel)} of {@code column.data()} are the
   * rows, row-major, as {@code shape} ({@code [N]} or {@code [N, D]}).
   */
  record Plan(Column column, long first, int[] shape) {
    long numel() {
      return shape.length == 1 ? shape[0] : (long) shape[0] * shape[1];
    }
  }

  /**
   * Checks {@code vector} for viewing as {@code [N]} (scalars) or {@code [N, D]} (lists).
   *
   * @param width the expected D of a list column, or -1 for any (a List's row 0 sets it)
   */
  static Plan plan(FieldVector vector, int width, NullCheck nulls) {
    Column c = Column.of(vector);
    boolean scan = nulls == NullCheck.SCAN;
    if (scan && c.kind != Column.Kind.SCALAR) {
      // Null rows first: a null list row usually also has the wrong length, and "null" is the
      // accurate message for it.
      c.rejectNullRows();
    }
    long first = 0;
    int d = 1;
    switch (c.kind) {
      case SCALAR -> {}
      case FIXED_SIZE_LIST -> {
        d = c.listSize();
        requireWidth(c, d, width);
      }
      case LIST -> {
        ListRows rows = new ListRows(c);
        d = rows.uniformWidth(width);
        first = c.rows > 0 ? rows.start(0) : 0;
      }
    }
    long count = (long) c.rows * d;
    c.requireValues(first, count);
    if (scan) {
      c.rejectNullValues(first, count, d);
    }
    int[] shape = c.kind == Column.Kind.SCALAR ? new int[] {c.rows} : new int[] {c.rows, d};
    return new Plan(c, first, shape);
  }

  static void requireWidth(Column c, int actual, int expected) {
    if (expected >= 0 && actual != expected) {
      throw ArrowImportException.column(
          c.name, "has rows of " + actual + " values, expected " + expected);
    }
  }

  /** An array over the column's own data buffer; throws when the buffer is misaligned. */
  static NDArray share(Plan p) {
    Column c = p.column();
    if (p.numel() == 0) {
      // Nothing to share, and an empty vector's buffer may be Arrow's shared empty placeholder.
      return NDArray.empty(c.dtype, p.shape());
    }
    ArrowBuf data = c.data();
    if (!isAligned(p)) {
      // Ember's kernels load whole elements, and an element off its natural alignment is
      // undefined behaviour for Unsafe on some CPUs. A copy realigns it.
      throw ArrowImportException.column(
          c.name,
          "data buffer address 0x"
              + Long.toHexString(data.memoryAddress())
              + " is not aligned to "
              + c.dtype.byteSize()
              + " bytes ("
              + c.dtype
              + "), so it cannot be viewed in place; ArrowTensors.copy realigns it");
    }
    Layout dense = Layout.contiguous(p.shape());
    Layout layout = new Layout(dense.shape(), dense.strides(), p.first());
    // The array holds one reference on the buffer's ledger (whichever allocator owns it), so the
    // memory stays until both the vector and the array have let go, in either order.
    data.getReferenceManager().retain();
    Storage storage = new Storage(data, Device.CPU);
    try {
      return NDArray.wrap(storage, c.dtype, layout);
    } catch (RuntimeException e) {
      storage.release();
      throw e;
    }
  }

  /** A contiguous copy in Ember's allocator (64-byte aligned, whatever the source's alignment). */
  static NDArray copy(Plan p) {
    Column c = p.column();
    NDArray out = NDArray.empty(c.dtype, p.shape());
    long bytes = p.numel() * c.dtype.byteSize();
    if (bytes > 0) {
      long from = c.data().memoryAddress() + p.first() * c.dtype.byteSize();
      HostMemory.copy(from, out.storage().address(), bytes);
    }
    return out;
  }

  static boolean isAligned(Plan p) {
    return p.column().data().memoryAddress() % p.column().dtype.byteSize() == 0;
  }
}
