package org.emberdl.arrow;

import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.FieldType;

/** Builds test columns the way a producer would, through Arrow's own setters. */
final class Vectors {
  static final FieldType FLOAT32 =
      FieldType.nullable(new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE));

  private Vectors() {}

  /** A Float4Vector of {@code values}; the rows in {@code nulls} are null. */
  static Float4Vector float4(BufferAllocator a, String name, float[] values, int... nulls) {
    Float4Vector v = new Float4Vector(name, a);
    v.allocateNew(values.length);
    for (int i = 0; i < values.length; i++) {
      v.set(i, values[i]);
    }
    for (int i : nulls) {
      v.setNull(i);
    }
    v.setValueCount(values.length);
    return v;
  }

  static Float8Vector float8(BufferAllocator a, String name, double... values) {
    Float8Vector v = new Float8Vector(name, a);
    v.allocateNew(values.length);
    for (int i = 0; i < values.length; i++) {
      v.set(i, values[i]);
    }
    v.setValueCount(values.length);
    return v;
  }

  static IntVector int32(BufferAllocator a, String name, int... values) {
    IntVector v = new IntVector(name, a);
    v.allocateNew(values.length);
    for (int i = 0; i < values.length; i++) {
      v.set(i, values[i]);
    }
    v.setValueCount(values.length);
    return v;
  }

  static BigIntVector int64(BufferAllocator a, String name, long... values) {
    BigIntVector v = new BigIntVector(name, a);
    v.allocateNew(values.length);
    for (int i = 0; i < values.length; i++) {
      v.set(i, values[i]);
    }
    v.setValueCount(values.length);
    return v;
  }

  /** 0, 1, 2, ... as floats. */
  static float[] iota(int n) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = i;
    }
    return v;
  }

  /** Rows of {@code width} values from {@code values}; rows in {@code nullRows} are null. */
  static FixedSizeListVector fixedList(
      BufferAllocator a, String name, int width, float[] values, int... nullRows) {
    FixedSizeListVector v = FixedSizeListVector.empty(name, width, a);
    Float4Vector child = (Float4Vector) v.addOrGetVector(FLOAT32).getVector();
    int rows = values.length / width;
    v.allocateNew();
    for (int r = 0; r < rows; r++) {
      v.setNotNull(r);
      for (int j = 0; j < width; j++) {
        child.setSafe(r * width + j, values[r * width + j]);
      }
    }
    for (int r : nullRows) {
      v.setNull(r);
    }
    v.setValueCount(rows);
    return v;
  }

  /** A List column with one entry per row; a null entry is a null row (of length 0). */
  static ListVector list(BufferAllocator a, String name, float[]... rows) {
    ListVector v = ListVector.empty(name, a);
    Float4Vector child = (Float4Vector) v.addOrGetVector(FLOAT32).getVector();
    v.allocateNew();
    int total = 0;
    for (int r = 0; r < rows.length; r++) {
      if (rows[r] == null) {
        v.setNull(r);
        continue;
      }
      int start = v.startNewValue(r);
      for (int j = 0; j < rows[r].length; j++) {
        child.setSafe(start + j, rows[r][j]);
      }
      v.endValue(r, rows[r].length);
      total = start + rows[r].length;
    }
    child.setValueCount(total);
    v.setValueCount(rows.length);
    return v;
  }
}
