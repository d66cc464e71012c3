package org.emberdl.tensor;

/**
 * Element types of an {@link NDArray}.
 *
 * <p>Type promotion follows PyTorch's category rule for two arrays: {@code bool < int32 < int64 <
 * float32 < float64}, and the result of a binary op is the higher of the two. A Java scalar operand
 * does not promote a floating array ({@code float32 + 2.5 -> float32}); a {@code double} scalar
 * with an integer array gives {@code float32} (PyTorch's default float), a {@code long} scalar
 * keeps the integer dtype. Ops that are only defined on reals ({@code exp}, {@code div}, {@code
 * mean}, ...) promote integer and bool inputs to {@code float32}, as PyTorch does.
 */
public enum DType {
  BOOL("BOOL", "bool", 1),
  INT32("I32", "int32", 4),
  INT64("I64", "int64", 8),
  FLOAT32("F32", "float32", 4),
  FLOAT64("F64", "float64", 8);

  private final String safetensorsName;
  private final String displayName;
  private final int byteSize;

  DType(String safetensorsName, String displayName, int byteSize) {
    this.safetensorsName = safetensorsName;
    this.displayName = displayName;
    this.byteSize = byteSize;
  }

  /** Bytes per element. */
  public int byteSize() {
    return byteSize;
  }

  /** The dtype string of the safetensors format ({@code F32}, {@code I64}, ...). */
  public String safetensorsName() {
    return safetensorsName;
  }

  /** True for float32 and float64. */
  public boolean isFloatingPoint() {
    return this == FLOAT32 || this == FLOAT64;
  }

  /** The result dtype of a binary op on arrays of dtypes {@code a} and {@code b}. */
  public static DType promote(DType a, DType b) {
    return a.ordinal() >= b.ordinal() ? a : b;
  }

  /** This dtype if floating, else {@code float32}: the result dtype of real-valued ops. */
  public DType toFloatingPoint() {
    return isFloatingPoint() ? this : FLOAT32;
  }

  /** Parses a safetensors dtype name; throws {@link IllegalArgumentException} for unknown ones. */
  public static DType fromSafetensorsName(String name) {
    for (DType d : values()) {
      if (d.safetensorsName.equals(name)) {
        return d;
      }
    }
    throw new IllegalArgumentException(
        "unsupported safetensors dtype '" + name + "' (Ember reads BOOL, I32, I64, F32, F64)");
  }

  @Override
  public String toString() {
    return displayName;
  }
}
