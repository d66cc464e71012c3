package org.emberdl.onnx.export;

import java.util.Arrays;

/**
 * A value flowing through the graph being exported: its name, its element type (a {@code
 * TensorProto.DataType} number) and its shape, where dim 0 is the batch dim and may be {@link
 * #DYNAMIC}.
 */
public record OnnxValue(String name, int elemType, long[] shape) {
  // (shape is cloned in and out: a record's array would otherwise be shared and mutable)

  /** The batch dim: its size is only known when the model runs (the graph's {@code batch}). */
  public static final long DYNAMIC = -1;

  /** A size known only at run time that is not the batch size (e.g. batch times features). */
  public static final long UNKNOWN = -2;

  public OnnxValue {
    shape = shape.clone();
  }

  @Override
  public long[] shape() {
    return shape.clone();
  }

  public int rank() {
    return shape.length;
  }

  /** Size of dim {@code d} (negative counts from the end), {@link #DYNAMIC} or {@link #UNKNOWN}. */
  public long dim(int d) {
    return shape[d < 0 ? d + shape.length : d];
  }

  /** The same shape and type under another name. */
  public OnnxValue named(String newName) {
    return new OnnxValue(newName, elemType, shape);
  }

  /** The shape with {@code batch} for the batch dim, {@code ?} for another run-time size. */
  public String shapeString() {
    StringBuilder sb = new StringBuilder("(");
    for (int i = 0; i < shape.length; i++) {
      long d = shape[i];
      sb.append(i > 0 ? ", " : "")
          .append(d == DYNAMIC ? "batch" : d == UNKNOWN ? "?" : Long.toString(d));
    }
    return sb.append(')').toString();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof OnnxValue v
        && v.name.equals(name)
        && v.elemType == elemType
        && Arrays.equals(v.shape, shape);
  }

  @Override
  public int hashCode() {
    return name.hashCode() * 31 + Arrays.hashCode(shape);
  }

  @Override
  public String toString() {
    return name + shapeString();
  }
}
