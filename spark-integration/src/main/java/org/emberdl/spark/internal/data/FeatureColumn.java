package org.emberdl.spark.internal.data;

import java.io.Serializable;
import org.apache.spark.ml.linalg.VectorUDT;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.util.ArrayData;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.vectorized.ColumnVector;
import org.apache.spark.sql.vectorized.ColumnarArray;
import org.emberdl.nn.TokenInput;

/**
 * A features column and how to copy one row of it into a float buffer without boxing: a Spark ML
 * {@code Vector} (dense or sparse), {@code array<float>} (one memcpy), {@code array<double>}, or
 * integer token ids as {@code array<int>}/{@code array<long>} ({@link TokenIdColumn}). Every row is
 * checked: null, wrong length, non-finite values and sparse indices outside the vector or out of
 * order are reported with the column, the expected size and the offending index or value.
 */
public final class FeatureColumn implements Serializable {
  private static final long serialVersionUID = 1L;

  enum Kind {
    VECTOR,
    FLOAT_ARRAY,
    DOUBLE_ARRAY,
    INT_ARRAY,
    LONG_ARRAY
  }

  private final String name;
  private final Kind kind;
  private final int size;
  private final boolean elementsMayBeNull;
  private final TokenIdColumn ids; // array<int>/array<long> only

  private FeatureColumn(
      String name, Kind kind, int size, boolean elementsMayBeNull, TokenIdColumn ids) {
    this.name = name;
    this.kind = kind;
    this.size = size;
    this.elementsMayBeNull = elementsMayBeNull;
    this.ids = ids;
  }

  /**
   * The column {@code name} of {@code schema}, expected to hold {@code size} values per row.
   *
   * @throws IllegalArgumentException naming the column when it is missing or of another type
   */
  public static FeatureColumn of(StructType schema, String name, int size) {
    return of(schema, name, size, null);
  }

  /**
   * As {@link #of(StructType, String, int)}, for a network that takes {@code tokens} (null when its
   * input is plain numbers), against which {@code array<int>}/{@code array<long>} rows are checked.
   */
  public static FeatureColumn of(StructType schema, String name, int size, TokenInput tokens) {
    Kind kind = kindOf(schema, name);
    // Spark enforces containsNull = false, so such arrays need no per-element null scan.
    boolean mayBeNull =
        !(schema.apply(name).dataType() instanceof ArrayType array) || array.containsNull();
    TokenIdColumn ids =
        kind == Kind.INT_ARRAY || kind == Kind.LONG_ARRAY
            ? new TokenIdColumn(kind == Kind.LONG_ARRAY, size, tokens)
            : null;
    return new FeatureColumn(name, kind, size, mayBeNull, ids);
  }

  /** A column of Spark ML Vectors named {@code name}, for a single Vector put in a row. */
  public static FeatureColumn vector(String name, int size) {
    return new FeatureColumn(name, Kind.VECTOR, size, false, null);
  }

  /** Checks the column's type; the message names the column and the accepted types. */
  public static Kind kindOf(StructType schema, String name) {
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
      if (array.elementType().equals(DataTypes.IntegerType)) {
        return Kind.INT_ARRAY;
      }
      if (array.elementType().equals(DataTypes.LongType)) {
        return Kind.LONG_ARRAY;
      }
    }
    throw new IllegalArgumentException(
        "features column '"
            + name
            + "' must be a Spark ML Vector, array<float>, array<double>, or token ids as"
            + " array<int> or array<long>, but is "
            + type.simpleString());
  }

  public String name() {
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
  public String copy(InternalRow row, int ordinal, float[] dst, int offset) {
    if (row.isNullAt(ordinal)) {
      return "features are null";
    }
    if (ids != null) {
      return copyIds(row.getArray(ordinal), dst, offset);
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
        String bad = copyVector(row.getStruct(ordinal, 4), dst, offset);
        if (bad != null) {
          return bad;
        }
      }
      case INT_ARRAY, LONG_ARRAY -> throw new AssertionError("read by copyIds");
    }
    return checkFinite(dst, offset);
  }

  /** Integer ids: no element may be null; then each is checked and stored as a float. */
  private String copyIds(ArrayData a, float[] dst, int offset) {
    if (elementsMayBeNull && hasNull(a)) {
      return "features contain a null element";
    }
    return ids.copy(a, dst, offset);
  }

  /** Whether this is an {@code array<float>} column. */
  boolean isFloatArray() {
    return kind == Kind.FLOAT_ARRAY;
  }

  /** Whether {@link #copy(ColumnVector, int, float[], int)} reads this column's kind. */
  public boolean readsColumnar() {
    return kind != Kind.VECTOR;
  }

  /**
   * As {@link #copy(InternalRow, int, float[], int)}, from row {@code rowId} of a column vector of
   * a columnar batch (an {@code array<float>} or {@code array<double>} column): the same checks in
   * the same order, so a row gets the same verdict and message from either path.
   */
  public String copy(ColumnVector column, int rowId, float[] dst, int offset) {
    if (column.isNullAt(rowId)) {
      return "features are null";
    }
    ColumnarArray a = column.getArray(rowId);
    if (ids != null) {
      return copyIds(a, dst, offset);
    }
    String bad = checkLength(a.numElements());
    if (bad != null) {
      return bad;
    }
    if (elementsMayBeNull) {
      for (int j = 0; j < size; j++) {
        if (a.isNullAt(j)) {
          return "features contain a null element";
        }
      }
    }
    switch (kind) {
      case FLOAT_ARRAY -> {
        for (int j = 0; j < size; j++) {
          dst[offset + j] = a.getFloat(j);
        }
      }
      case DOUBLE_ARRAY -> {
        for (int j = 0; j < size; j++) {
          dst[offset + j] = (float) a.getDouble(j);
        }
      }
      default -> throw new IllegalStateException("features of kind " + kind + " are read as rows");
    }
    return checkFinite(dst, offset);
  }

  private String checkFinite(float[] dst, int offset) {
    for (int j = offset, end = offset + size; j < end; j++) {
      float x = dst[j];
      if (x - x != 0f) { // NaN or infinite
        return "feature " + (j - offset) + " is " + x;
      }
    }
    return null;
  }

  /**
   * Copies a vector in VectorUDT's Catalyst form, {@code struct<type: tinyint, size: int, indices:
   * array<int>, values: array<double>>} (type 1 = dense, 0 = sparse). Spark checks a {@code
   * SparseVector}'s indices when one is constructed, but not this struct, which may come from a
   * Parquet file written by another tool; so every index is checked here before it is written,
   * since one outside {@code [0, size)} would land in a neighbouring row's slot of {@code dst}.
   */
  private String copyVector(InternalRow v, float[] dst, int offset) {
    byte type = v.getByte(0);
    if (type != 0 && type != 1) {
      return "vector type tag " + type + " is neither dense (1) nor sparse (0)";
    }
    if (v.isNullAt(3)) {
      return "vector values are null";
    }
    ArrayData values = v.getArray(3);
    if (type == 1) {
      String bad = checkLength(values.numElements());
      if (bad != null) {
        return bad;
      }
      for (int j = 0; j < size; j++) {
        dst[offset + j] = (float) values.getDouble(j);
      }
      return null;
    }
    if (v.isNullAt(1) || v.isNullAt(2)) {
      return "sparse vector has no " + (v.isNullAt(1) ? "size" : "indices");
    }
    String bad = checkLength(v.getInt(1));
    if (bad != null) {
      return bad;
    }
    ArrayData indices = v.getArray(2);
    int nnz = indices.numElements();
    if (nnz != values.numElements()) {
      return "sparse vector has " + nnz + " indices but " + values.numElements() + " values";
    }
    java.util.Arrays.fill(dst, offset, offset + size, 0f);
    int previous = -1;
    for (int k = 0; k < nnz; k++) {
      int index = indices.getInt(k);
      if (index < 0 || index >= size) {
        return "sparse vector index " + index + " (entry " + k + ") is outside [0, " + size + ")";
      }
      if (index <= previous) {
        return "sparse vector indices must be strictly increasing, but entry "
            + k
            + " is "
            + index
            + " after "
            + previous;
      }
      previous = index;
      dst[offset + index] = (float) values.getDouble(k);
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
        + (ids != null ? ids.expected() : size + " finite values")
        + "): "
        + problem
        + "; set handleInvalid to 'skip' to drop such rows";
  }
}
