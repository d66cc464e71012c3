package org.emberdl.spark;

import java.io.Serializable;
import org.apache.spark.ml.linalg.VectorUDT;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.util.ArrayData;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * A features column and how to copy one row of it into a float buffer without boxing: a Spark ML
 * {@code Vector} (dense or sparse), {@code array<float>} (one memcpy) or {@code array<double>}.
 * Every row is checked: null, wrong length and non-finite values are reported with the column, the
 * expected size and the offending value.
 */
final class FeatureColumn implements Serializable {
  private static final long serialVersionUID = 1L;

  enum Kind {
    VECTOR,
    FLOAT_ARRAY,
    DOUBLE_ARRAY
  }

  private final String name;
  private final Kind kind;
  private final int size;
  private final boolean elementsMayBeNull;

  private FeatureColumn(String name, Kind kind, int size, boolean elementsMayBeNull) {
    this.name = name;
    this.kind = kind;
    this.size = size;
    this.elementsMayBeNull = elementsMayBeNull;
  }

  /**
   * The column {@code name} of {@code schema}, expected to hold {@code size} values per row.
   *
   * @throws IllegalArgumentException naming the column when it is missing or of another type
   */
  static FeatureColumn of(StructType schema, String name, int size) {
    Kind kind = kindOf(schema, name);
    // Spark enforces containsNull = false, so such arrays need no per-element null scan.
    boolean mayBeNull =
        !(schema.apply(name).dataType() instanceof ArrayType array) || array.containsNull();
    return new FeatureColumn(name, kind, size, mayBeNull);
  }

  /** Checks the column's type; the message names the column and the accepted types. */
  static Kind kindOf(StructType schema, String name) {
    if (!java.util.Arrays.asList(schema.fieldNames()).contains(name)) {
      throw new IllegalArgumentException(
          "features column '"
              + name
              + "' does not exist; the columns are "
              + schema.simpleString());
    }
    StructField field = schema.apply(name);
    DataType type = field.dataType();
    if (type instanceof VectorUDT) {
      return Kind.VECTOR;
    }
    if (type instanceof ArrayType array) {
      if (array.elementType().equals(DataTypes.FloatType)) {
        return Kind.FLOAT_ARRAY;
      }
      if (array.elementType().equals(DataTypes.DoubleType)) {
        return Kind.DOUBLE_ARRAY;
      }
    }
    throw new IllegalArgumentException(
        "features column '"
            + name
            + "' must be a Spark ML Vector, array<float> or array<double>, but is "
            + type.simpleString());
  }

  String name() {
    return name;
  }

  int size() {
    return size;
  }

  /**
   * Copies the features at {@code ordinal} of {@code row} into {@code dst[offset, offset + size)}.
   *
   * @return null when the row is valid, else what is wrong with it (the caller adds the row's
   *     position and applies the handleInvalid policy)
   */
  String copy(InternalRow row, int ordinal, float[] dst, int offset) {
    if (row.isNullAt(ordinal)) {
      return "features are null";
    }
    switch (kind) {
      case FLOAT_ARRAY -> {
        ArrayData a = row.getArray(ordinal);
        String bad = checkLength(a.numElements());
        if (bad != null) {
          return bad;
        }
        if (elementsMayBeNull && hasNull(a)) {
          return "features contain a null element";
        }
        SparkInternals.copyFloats(a, dst, offset, size);
      }
      case DOUBLE_ARRAY -> {
        ArrayData a = row.getArray(ordinal);
        String bad = checkLength(a.numElements());
        if (bad != null) {
          return bad;
        }
        if (elementsMayBeNull && hasNull(a)) {
          return "features contain a null element";
        }
        for (int j = 0; j < size; j++) {
          dst[offset + j] = (float) a.getDouble(j);
        }
      }
      case VECTOR -> {
        // VectorUDT's Catalyst form: struct<type: tinyint, size: int, indices: array<int>,
        // values: array<double>>, type 1 = dense, 0 = sparse.
        InternalRow v = row.getStruct(ordinal, 4);
        boolean dense = v.getByte(0) == 1;
        ArrayData values = v.getArray(3);
        int length = dense ? values.numElements() : v.getInt(1);
        String bad = checkLength(length);
        if (bad != null) {
          return bad;
        }
        if (dense) {
          for (int j = 0; j < size; j++) {
            dst[offset + j] = (float) values.getDouble(j);
          }
        } else {
          java.util.Arrays.fill(dst, offset, offset + size, 0f);
          ArrayData indices = v.getArray(2);
          for (int k = 0, nnz = indices.numElements(); k < nnz; k++) {
            dst[offset + indices.getInt(k)] = (float) values.getDouble(k);
          }
        }
      }
      default -> throw new AssertionError(kind);
    }
    for (int j = offset, end = offset + size; j < end; j++) {
      float x = dst[j];
      if (x - x != 0f) { // NaN or infinite
        return "feature " + (j - offset) + " is " + x;
      }
    }
    return null;
  }

  private String checkLength(int length) {
    return length == size ? null : "features have length " + length + ", expected " + size;
  }

  private static boolean hasNull(ArrayData a) {
    for (int j = 0, n = a.numElements(); j < n; j++) {
      if (a.isNullAt(j)) {
        return true;
      }
    }
    return false;
  }

  /** The message of an invalid row's error. */
  String invalidRow(String problem, int partition, long rowInPartition) {
    return "invalid row "
        + rowInPartition
        + " of partition "
        + partition
        + " in features column '"
        + name
        + "' (expected "
        + size
        + " finite values): "
        + problem
        + "; set handleInvalid to 'skip' to drop such rows";
  }
}
