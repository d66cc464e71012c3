package org.emberdl.arrow;

import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.FieldVector;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.memory.HostMemory;

/**
 * Import of a column that may hold nulls: the values are copied into a new array and every null (a
 * null scalar, a value inside a list row, or a whole null row) becomes {@code fill}. A copy is
 * unavoidable, since the fill must not be written into the producer's buffer.
 */
final class FillingImport {
  private FillingImport() {}

  /**
   * @param width the expected D of a list column, or -1 for any (the first non-null row sets it)
   */
  static NDArray copy(FieldVector vector, int width, double fill) {
    Column c = Column.of(vector);
    requireRepresentable(c, fill);
    return switch (c.kind) {
      case SCALAR -> copyFixed(c, 1, fill);
      case FIXED_SIZE_LIST -> {
        VectorImport.requireWidth(c, c.listSize(), width);
        yield copyFixed(c, c.listSize(), fill);
      }
      case LIST -> copyList(c, width, fill);
    };
  }

  /** Rows of {@code d} values back to back from value 0: scalars and fixed-size lists. */
  private static NDArray copyFixed(Column c, int d, double fill) {
    long count = (long) c.rows * d;
    c.requireValues(0, count);
    int[] shape = c.kind == Column.Kind.SCALAR ? new int[] {c.rows} : new int[] {c.rows, d};
    NDArray out = NDArray.empty(c.dtype, shape);
    try {
      ArrowBuf dst = out.storage().arrowBuf();
      copyValues(c, 0, dst, 0, count);
      if (c.kind != Column.Kind.SCALAR) {
        ArrowBuf rowBits = c.vector.getValidityBuffer();
        Validity.requireCovers(c.name, "row", rowBits, c.rows);
        for (long r = Validity.nextNull(rowBits, 0, c.rows);
            r >= 0;
            r = Validity.nextNull(rowBits, r + 1, c.rows)) {
          fill(dst, c.dtype, r * d, d, fill);
        }
      }
      fillNullValues(c, 0, dst, 0, count, fill);
      return out;
    } catch (RuntimeException e) {
      out.close();
      throw e;
    }
  }

  /** Row by row, since a null row of a List usually has length 0 and breaks the uniform stride. */
  private static NDArray copyList(Column c, int width, double fill) {
    ListRows rows = new ListRows(c);
    int d = width >= 0 ? width : firstNonNullLength(c, rows);
    NDArray out = NDArray.empty(c.dtype, c.rows, d);
    try {
      ArrowBuf dst = out.storage().arrowBuf();
      for (int i = 0; i < c.rows; i++) {
        long at = (long) i * d;
        if (c.rowIsNull(i)) {
          fill(dst, c.dtype, at, d, fill);
          continue;
        }
        if (rows.length(i) != d) {
          throw ArrowImportException.row(
              c.name, i, "has " + rows.length(i) + " values, expected " + d);
        }
        c.requireValues(rows.start(i), d);
        copyValues(c, rows.start(i), dst, at, d);
        fillNullValues(c, rows.start(i), dst, at, d, fill);
      }
      return out;
    } catch (RuntimeException e) {
      out.close();
      throw e;
    }
  }

  private static int firstNonNullLength(Column c, ListRows rows) {
    for (int i = 0; i < c.rows; i++) {
      if (!c.rowIsNull(i)) {
        return rows.length(i);
      }
    }
    if (c.rows == 0) {
      return 0;
    }
    throw ArrowImportException.column(
        c.name, "every row is null, so the row length is unknown; give the expected width");
  }

  private static void copyValues(Column c, long first, ArrowBuf dst, long at, long count) {
    int size = c.dtype.byteSize();
    if (count > 0) {
      // A byte copy, so a misaligned source is fine here.
      HostMemory.copy(
          c.data().memoryAddress() + first * size, dst.memoryAddress() + at * size, count * size);
    }
  }

  /** Replaces nulls among source values {@code [first, first + count)}, copied to {@code at}. */
  private static void fillNullValues(
      Column c, long first, ArrowBuf dst, long at, long count, double fill) {
    ArrowBuf bits = c.values.getValidityBuffer();
    long end = first + count;
    Validity.requireCovers(c.name, "value", bits, end);
    for (long j = Validity.nextNull(bits, first, end);
        j >= 0;
        j = Validity.nextNull(bits, j + 1, end)) {
      fill(dst, c.dtype, at + (j - first), 1, fill);
    }
  }

  private static void fill(ArrowBuf dst, DType dtype, long from, long count, double value) {
    for (long i = from; i < from + count; i++) {
      switch (dtype) {
        case FLOAT32 -> dst.setFloat(i * 4, (float) value);
        case FLOAT64 -> dst.setDouble(i * 8, value);
        case INT32 -> dst.setInt(i * 4, (int) value);
        case INT64 -> dst.setLong(i * 8, (long) value);
        case BOOL -> throw new IllegalStateException("no Arrow column imports as bool");
      }
    }
  }

  /** A fill that an integer column cannot hold exactly is a mistake, not something to round. */
  private static void requireRepresentable(Column c, double fill) {
    boolean ok =
        switch (c.dtype) {
          case FLOAT32, FLOAT64 -> true;
          case INT32 ->
              fill == Math.rint(fill) && fill >= Integer.MIN_VALUE && fill <= Integer.MAX_VALUE;
          case INT64 -> fill == Math.rint(fill) && fill >= -0x1p63 && fill < 0x1p63;
          case BOOL -> false;
        };
    if (!ok) {
      throw ArrowImportException.column(
          c.name, "fill value " + fill + " is not a " + c.dtype + " value");
    }
  }
}
