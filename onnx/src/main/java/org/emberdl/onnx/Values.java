package org.emberdl.onnx;

import java.util.Arrays;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.NDArray;

/**
 * Checks and conversions kernels share. They throw {@link IllegalArgumentException} with what was
 * expected; the runtime prefixes the node that failed.
 */
final class Values {
  private Values() {}

  /** {@code t}, which must be floating (float32 or float64). */
  static Tensor floating(Tensor t, String role) {
    if (t == null) {
      throw new IllegalArgumentException("input " + role + " is required");
    }
    if (!t.dtype().isFloatingPoint()) {
      throw new IllegalArgumentException(
          "input " + role + " must be a float tensor, got " + t.dtype() + shape(t));
    }
    return t;
  }

  /** True for INT32 and INT64. */
  static boolean isInteger(DType d) {
    return d == DType.INT32 || d == DType.INT64;
  }

  /** The values of an integer tensor (shapes, axes, indices). */
  static long[] ints(Tensor t, String role) {
    if (t == null) {
      throw new IllegalArgumentException("input " + role + " is required");
    }
    return ints(t.data(), role);
  }

  static long[] ints(NDArray a, String role) {
    if (!isInteger(a.dtype())) {
      throw new IllegalArgumentException(
          "input "
              + role
              + " must be an int64 (or int32) tensor, got "
              + a.dtype()
              + Arrays.toString(a.shape()));
    }
    return a.toLongArray();
  }

  /** A 1-D (or 0-d) integer tensor's values as ints. */
  static int[] intList(Tensor t, String role) {
    long[] v = ints(t, role);
    if (t.ndim() > 1) {
      throw new IllegalArgumentException(
          "input " + role + " must be 1-D, got shape " + Arrays.toString(t.shape()));
    }
    return toInts(v, role);
  }

  static int[] toInts(long[] v, String role) {
    int[] out = new int[v.length];
    for (int i = 0; i < v.length; i++) {
      if (v[i] > Integer.MAX_VALUE || v[i] < Integer.MIN_VALUE) {
        throw new IllegalArgumentException(role + " value " + v[i] + " is out of range");
      }
      out[i] = (int) v[i];
    }
    return out;
  }

  /** {@code axis} in [-rank, rank) as a non-negative dim. */
  static int axis(long axis, int rank, String what) {
    if (axis < -rank || axis >= rank) {
      throw new IllegalArgumentException(
          what
              + " "
              + axis
              + " is out of range for rank "
              + rank
              + " (expected -"
              + rank
              + ".."
              + (rank - 1)
              + ")");
    }
    return (int) (axis < 0 ? axis + rank : axis);
  }

  /** A new tensor sharing {@code t}'s values (and its place in the graph). */
  static Tensor share(Tensor t) {
    return t.expand(t.shape());
  }

  static String shape(Tensor t) {
    return Arrays.toString(t.shape());
  }

  /** One tensor as a kernel result. */
  static Tensor[] one(Tensor t) {
    return new Tensor[] {t};
  }

  /** Product of dims [from, to). */
  static int prod(int[] shape, int from, int to) {
    long n = 1;
    for (int i = from; i < to; i++) {
      n *= shape[i];
    }
    return Math.toIntExact(n);
  }
}
