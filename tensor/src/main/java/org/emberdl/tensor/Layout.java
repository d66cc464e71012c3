package org.emberdl.tensor;

import java.util.Arrays;

/**
 * How an array's elements map onto its storage: sizes, strides and offset, all in elements. Views
 * (transpose, slice, expand, ...) are new layouts over the same storage; nothing here copies.
 *
 * @param shape sizes per dim
 * @param strides elements to step in storage per index step, per dim (0 for broadcast dims)
 * @param offset index of element {@code [0, ..., 0]} in storage
 *     <p>The arrays are not copied (kernels read them on every op): treat them as read-only. Use
 *     {@link NDArray#shape()} for a copy.
 */
public record Layout(int[] shape, long[] strides, long offset) {

  /** A contiguous row-major layout at offset 0. */
  public static Layout contiguous(int[] shape) {
    return new Layout(shape.clone(), Shape.contiguousStrides(shape), 0);
  }

  public int ndim() {
    return shape.length;
  }

  public long numel() {
    return Shape.numel(shape);
  }

  /** True when the elements are dense and in row-major order (size-1 dims' strides ignored). */
  public boolean isContiguous() {
    if (numel() == 0) {
      return true;
    }
    long expected = 1;
    for (int d = shape.length - 1; d >= 0; d--) {
      if (shape[d] != 1) {
        if (strides[d] != expected) {
          return false;
        }
        expected *= shape[d];
      }
    }
    return true;
  }

  /** One past the largest storage element this layout touches, or the offset when empty. */
  public long extent() {
    if (numel() == 0) {
      return offset;
    }
    long end = offset;
    for (int d = 0; d < shape.length; d++) {
      end += (long) (shape[d] - 1) * strides[d];
    }
    return end + 1;
  }

  public Layout permute(int... dims) {
    if (dims.length != shape.length) {
      throw new IllegalArgumentException(
          "permute needs " + shape.length + " dims, got " + Arrays.toString(dims));
    }
    int[] s = new int[dims.length];
    long[] st = new long[dims.length];
    boolean[] seen = new boolean[dims.length];
    for (int i = 0; i < dims.length; i++) {
      int d = Shape.normalizeDim(dims[i], shape.length);
      if (seen[d]) {
        throw new IllegalArgumentException("permute has dim " + d + " twice");
      }
      seen[d] = true;
      s[i] = shape[d];
      st[i] = strides[d];
    }
    return new Layout(s, st, offset);
  }

  public Layout transpose(int dim0, int dim1) {
    int a = Shape.normalizeDim(dim0, shape.length);
    int b = Shape.normalizeDim(dim1, shape.length);
    int[] s = shape.clone();
    long[] st = strides.clone();
    s[a] = shape[b];
    s[b] = shape[a];
    st[a] = strides[b];
    st[b] = strides[a];
    return new Layout(s, st, offset);
  }

  /** Broadcast to {@code target}: new leading dims and size-1 dims get stride 0. */
  public Layout expand(int[] target) {
    if (target.length < shape.length) {
      throw new IllegalArgumentException(
          "cannot expand " + Shape.toString(shape) + " to fewer dims " + Shape.toString(target));
    }
    int lead = target.length - shape.length;
    long[] st = new long[target.length];
    for (int i = 0; i < target.length; i++) {
      int d = i - lead;
      if (d < 0) {
        st[i] = 0;
      } else if (shape[d] == target[i]) {
        st[i] = strides[d];
      } else if (shape[d] == 1) {
        st[i] = 0;
      } else {
        throw new IllegalArgumentException(
            "cannot expand "
                + Shape.toString(shape)
                + " to "
                + Shape.toString(target)
                + ": size "
                + shape[d]
                + " at dim "
                + d
                + " is not 1");
      }
    }
    return new Layout(target.clone(), st, offset);
  }

  /** Elements {@code start, start+step, ...} below {@code end} along {@code dim}. */
  public Layout slice(int dim, int start, int end, int step) {
    int d = Shape.normalizeDim(dim, shape.length);
    if (step <= 0) {
      throw new IllegalArgumentException("slice step must be positive, got " + step);
    }
    int size = shape[d];
    int s = Math.min(Math.max(start < 0 ? start + size : start, 0), size);
    int e = Math.min(Math.max(end < 0 ? end + size : end, 0), size);
    int len = e > s ? (e - s + step - 1) / step : 0;
    int[] sh = shape.clone();
    long[] st = strides.clone();
    sh[d] = len;
    st[d] = strides[d] * step;
    return new Layout(sh, st, offset + (long) s * strides[d]);
  }

  public Layout squeeze(int dim) {
    int d = Shape.normalizeDim(dim, shape.length);
    if (shape[d] != 1) {
      return this;
    }
    return remove(d);
  }

  /** Drops every size-1 dim. */
  public Layout squeeze() {
    Layout l = this;
    for (int d = shape.length - 1; d >= 0; d--) {
      if (shape[d] == 1) {
        l = l.remove(d);
      }
    }
    return l;
  }

  private Layout remove(int d) {
    int[] s = new int[shape.length - 1];
    long[] st = new long[shape.length - 1];
    for (int i = 0, j = 0; i < shape.length; i++) {
      if (i != d) {
        s[j] = shape[i];
        st[j++] = strides[i];
      }
    }
    return new Layout(s, st, offset);
  }

  public Layout unsqueeze(int dim) {
    int d = Shape.normalizeDim(dim, shape.length + 1);
    int[] s = new int[shape.length + 1];
    long[] st = new long[shape.length + 1];
    for (int i = 0, j = 0; i < s.length; i++) {
      if (i == d) {
        s[i] = 1;
        st[i] = d < shape.length ? strides[d] * shape[d] : 1;
      } else {
        s[i] = shape[j];
        st[i] = strides[j++];
      }
    }
    return new Layout(s, st, offset);
  }

  /**
   * The layout of a reshape without copying, or {@code null} when the elements cannot be viewed
   * with the new shape (then a copy is needed, as {@code torch.reshape} makes).
   */
  public Layout reshapeView(int[] newShape) {
    if (Shape.numel(newShape) != numel()) {
      throw new IllegalArgumentException(
          "cannot reshape " + Shape.toString(shape) + " to " + Shape.toString(newShape));
    }
    if (isContiguous() || numel() == 0) {
      return new Layout(newShape.clone(), Shape.contiguousStrides(newShape), offset);
    }
    // PyTorch's computeStride: walk the old dims from the back in chunks that are contiguous
    // among themselves; each chunk must be covered exactly by a run of new dims.
    long[] newStrides = new long[newShape.length];
    int viewD = newShape.length - 1;
    long chunkBaseStride = strides[shape.length - 1];
    long tensorNumel = 1;
    long viewNumel = 1;
    for (int d = shape.length - 1; d >= 0; d--) {
      tensorNumel *= shape[d];
      boolean chunkEnds =
          d == 0 || (shape[d - 1] != 1 && strides[d - 1] != tensorNumel * chunkBaseStride);
      if (chunkEnds) {
        while (viewD >= 0 && (viewNumel < tensorNumel || newShape[viewD] == 1)) {
          newStrides[viewD] = viewNumel * chunkBaseStride;
          viewNumel *= newShape[viewD];
          viewD--;
        }
        if (viewNumel != tensorNumel) {
          return null;
        }
        if (d > 0) {
          chunkBaseStride = strides[d - 1];
          tensorNumel = 1;
          viewNumel = 1;
        }
      }
    }
    if (viewD != -1) {
      return null;
    }
    return new Layout(newShape.clone(), newStrides, offset);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Layout l
        && Arrays.equals(shape, l.shape)
        && Arrays.equals(strides, l.strides)
        && offset == l.offset;
  }

  @Override
  public int hashCode() {
    return 31 * (31 * Arrays.hashCode(shape) + Arrays.hashCode(strides)) + Long.hashCode(offset);
  }

  @Override
  public String toString() {
    return "Layout"
        + Arrays.toString(shape)
        + " strides "
        + Arrays.toString(strides)
        + " @"
        + offset;
  }
}
