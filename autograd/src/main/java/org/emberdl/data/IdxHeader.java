package org.emberdl.data;

import java.util.Arrays;
import java.util.Objects;
import org.emberdl.tensor.Shape;

/**
 * The header of an IDX file: its element type and dimension sizes.
 *
 * @param type the element type
 * @param dims the sizes, outermost first (the accessor returns a copy)
 */
public record IdxHeader(IdxType type, int[] dims) {
  /**
   * Copies {@code dims}, so the record stays immutable.
   *
   * @throws IllegalArgumentException for a size below 0 or more than {@link Shape#MAX_ELEMENTS}
   *     elements in all (the reader reports both as {@link IdxFormatException}s before it gets
   *     here)
   */
  public IdxHeader {
    Objects.requireNonNull(type, "type");
    dims = dims.clone();
    Shape.checked(dims);
  }

  @Override
  public int[] dims() {
    return dims.clone();
  }

  /** Number of dimensions. */
  public int ndim() {
    return dims.length;
  }

  /** Number of elements (the product of the sizes). */
  public long numel() {
    long n = 1;
    for (int d : dims) {
      n *= d;
    }
    return n;
  }

  /** Bytes of the header itself: the 4-byte magic number and one int32 per dimension. */
  public long headerBytes() {
    return 4L + 4L * dims.length;
  }

  /** Bytes of data the header promises. */
  public long dataBytes() {
    return numel() * type.byteSize();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof IdxHeader h && h.type == type && Arrays.equals(h.dims, dims);
  }

  @Override
  public int hashCode() {
    return 31 * type.hashCode() + Arrays.hashCode(dims);
  }

  @Override
  public String toString() {
    return "IdxHeader[" + type + " " + Arrays.toString(dims) + "]";
  }
}
