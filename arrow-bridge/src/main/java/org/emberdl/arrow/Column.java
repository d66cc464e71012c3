package org.emberdl.arrow;

import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.complex.ListVector;
import org.emberdl.tensor.DType;

/**
 * An Arrow column resolved for import: what kind it is, which vector holds its values (the column
 * itself, or a list's child), their dtype, and bounds checks on its buffers. Both import paths
 * (zero-copy and copying) read only buffer ranges checked here, so a truncated or inconsistent
 * vector is an error naming the column, never a read past the end of a buffer.
 */
final class Column {
  static final String SUPPORTED =
      "Ember imports float32, float64, int32 and int64 columns, and FixedSizeList or List columns of"
          + " those";

  private static final String FILL_HINT =
      " (Arrow leaves the value under a null unspecified; to replace nulls, pass a fill value to"
          + " ArrowTensors.copy or ArrowBatchSpec.fillNulls)";

  /** How rows map onto values. */
  enum Kind {
    /** One value per row: a 1-D array. */
    SCALAR,
    /** {@code listSize} values per row, back to back in the child: {@code [N, D]}. */
    FIXED_SIZE_LIST,
    /** Row {@code i} is child values {@code [offset(i), offset(i + 1))}. */
    LIST
  }

  final String name;
  final Kind kind;
  final FieldVector vector;
  final FieldVector values;
  final DType dtype;
  final int rows;

  private Column(String name, Kind kind, FieldVector vector, FieldVector values, DType dtype) {
    this.name = name;
    this.kind = kind;
    this.vector = vector;
    this.values = values;
    this.dtype = dtype;
    this.rows = vector.getValueCount();
  }

  /** Resolves {@code vector}; throws {@link ArrowImportException} for an unsupported type. */
  static Column of(FieldVector vector) {
    String name = vector.getName();
    if (vector instanceof FixedSizeListVector || vector instanceof ListVector) {
      FieldVector child = (FieldVector) vector.getChildrenFromFields().get(0);
      DType dtype = dtypeOf(child);
      if (dtype == null) {
        throw ArrowImportException.column(
            name, "is a list of " + child.getField().getType() + "; " + SUPPORTED);
      }
      Kind kind = vector instanceof ListVector ? Kind.LIST : Kind.FIXED_SIZE_LIST;
      return new Column(name, kind, vector, child, dtype);
    }
    DType dtype = dtypeOf(vector);
    if (dtype == null) {
      throw ArrowImportException.column(
          name,
          "is "
              + vector.getField().getType()
              + " ("
              + vector.getClass().getSimpleName()
              + "); "
              + SUPPORTED);
    }
    return new Column(name, Kind.SCALAR, vector, vector, dtype);
  }

  /** The dtype of a vector of scalars Ember can view, or null. */
  static DType dtypeOf(FieldVector v) {
    if (v instanceof Float4Vector) {
      return DType.FLOAT32;
    } else if (v instanceof Float8Vector) {
      return DType.FLOAT64;
    } else if (v instanceof IntVector) {
      return DType.INT32;
    } else if (v instanceof BigIntVector) {
      return DType.INT64;
    }
    return null;
  }

  int listSize() {
    return ((FixedSizeListVector) vector).getListSize();
  }

  /** The buffer holding the values. */
  ArrowBuf data() {
    return values.getDataBuffer();
  }

  /** Checks that values {@code [first, first + count)} exist: counted and inside the buffer. */
  void requireValues(long first, long count) {
    long end = first + count;
    if (first < 0 || end > values.getValueCount()) {
      throw ArrowImportException.column(
          name,
          (kind == Kind.SCALAR ? "" : "child '" + values.getName() + "' ")
              + "holds "
              + values.getValueCount()
              + " values but the rows need values ["
              + first
              + ", "
              + end
              + ")");
    }
    long bytes = end * dtype.byteSize();
    if (data().capacity() < bytes) {
      throw ArrowImportException.column(
          name,
          "data buffer has "
              + data().capacity()
              + " bytes but "
              + end
              + " "
              + dtype
              + " values need "
              + bytes);
    }
  }

  /** Throws for the first null row. */
  void rejectNullRows() {
    ArrowBuf bits = vector.getValidityBuffer();
    Validity.requireCovers(name, "row", bits, rows);
    long row = Validity.nextNull(bits, 0, rows);
    if (row >= 0) {
      throw nullRow(row);
    }
  }

  /**
   * Throws for the first null among values {@code [first, first + count)}, rows of {@code width}.
   */
  void rejectNullValues(long first, long count, int width) {
    ArrowBuf bits = values.getValidityBuffer();
    Validity.requireCovers(name, "value", bits, first + count);
    long at = Validity.nextNull(bits, first, first + count);
    if (at >= 0) {
      long row = (at - first) / width;
      if (kind == Kind.SCALAR) {
        throw nullRow(row);
      }
      throw ArrowImportException.row(
          name, row, "value " + (at - first) % width + " is null" + FILL_HINT);
    }
  }

  boolean rowIsNull(long row) {
    ArrowBuf bits = vector.getValidityBuffer();
    Validity.requireCovers(name, "row", bits, row + 1);
    return !Validity.isSet(bits, row);
  }

  ArrowImportException nullRow(long row) {
    return ArrowImportException.row(name, row, "is null" + FILL_HINT);
  }
}
