package org.emberdl.tensor;

import java.util.Arrays;

/** Static helpers for shapes ({@code int[]} sizes) and NumPy broadcasting. */
public final class Shape {
  private Shape() {}

  /** Number of elements of an array of this shape (1 for a scalar, 0 if any size is 0). */
  public static long numel(int[] shape) {
    long n = 1;
    for (int s : shape) {
      n *= s;
    }
    return n;
  }

  /** Row-major strides, in elements, of a contiguous array of this shape. */
  public static long[] contiguousStrides(int[] shape) {
    long[] strides = new long[shape.length];
    long s = 1;
    for (int d = shape.length - 1; d >= 0; d--) {
      strides[d] = s;
      s *= Math.max(shape[d], 1);
    }
    return strides;
  }

  /**
   * The NumPy broadcast of two shapes: aligned at the trailing dim, each pair of sizes equal or one
   * of them 1.
   *
   * @throws IllegalArgumentException naming both shapes when they do not broadcast
   */
  public static int[] broadcast(int[] a, int[] b) {
    int n = Math.max(a.length, b.length);
    int[] out = new int[n];
    for (int i = 0; i < n; i++) {
      int da = i - (n - a.length);
      int db = i - (n - b.length);
      int sa = da >= 0 ? a[da] : 1;
      int sb = db >= 0 ? b[db] : 1;
      if (sa != sb && sa != 1 && sb != 1) {
        throw new IllegalArgumentException(
            "shapes "
                + toString(a)
                + " and "
                + toString(b)
                + " do not broadcast: size "
                + sa
                + " vs "
                + sb
                + " at dim "
                + i);
      }
      out[i] = sa == 1 ? sb : sa;
    }
    return out;
  }

  /** Normalizes a possibly negative dim ({@code -1} is the last) against {@code ndim} dims. */
  public static int normalizeDim(int dim, int ndim) {
    int d = dim < 0 ? dim + ndim : dim;
    if (d < 0 || d >= ndim) {
      throw new IndexOutOfBoundsException(
          "dim " + dim + " is out of range for an array of " + ndim + " dims");
    }
    return d;
  }

  /** Normalized, sorted, duplicate-free dims; an empty argument means every dim. */
  public static int[] normalizeDims(int[] dims, int ndim) {
    if (dims.length == 0) {
      int[] all = new int[ndim];
      Arrays.setAll(all, i -> i);
      return all;
    }
    boolean[] seen = new boolean[ndim];
    for (int dim : dims) {
      int d = normalizeDim(dim, ndim);
      if (seen[d]) {
        throw new IllegalArgumentException("dim " + dim + " appears more than once");
      }
      seen[d] = true;
    }
    int[] out = new int[dims.length];
    int k = 0;
    for (int d = 0; d < ndim; d++) {
      if (seen[d]) {
        out[k++] = d;
      }
    }
    return out;
  }

  /** Checks that every size is non-negative; returns a defensive copy. */
  public static int[] checked(int... shape) {
    long n = 1;
    for (int s : shape) {
      if (s < 0) {
        throw new IllegalArgumentException("negative size in shape " + toString(shape));
      }
      n = Math.multiplyHigh(n, s) != 0 || n * s < 0 ? -1 : n * s;
      if (n < 0 || n > MAX_ELEMENTS) {
        throw new IllegalArgumentException("shape " + toString(shape) + " has too many elements");
      }
    }
    return shape.clone();
  }

  /** The most elements an array may have (byte sizes of every dtype then fit in a long). */
  public static final long MAX_ELEMENTS = 1L << 56;

  /** {@code [2, 3]} */
  public static String toString(int[] shape) {
    return Arrays.toString(shape);
  }
}
