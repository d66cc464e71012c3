package org.emberdl.tensor.cpu;

import org.emberdl.tensor.DType;

/**
 * The heap array type a kernel computes in: float32 in {@code float[]}, float64 in {@code
 * double[]}, and the integer and bool dtypes in {@code long[]} (exact for every int64 value).
 */
enum Family {
  F,
  D,
  L;

  static Family of(DType dtype) {
    return switch (dtype) {
      case FLOAT32 -> F;
      case FLOAT64 -> D;
      case INT32, INT64, BOOL -> L;
    };
  }
}
