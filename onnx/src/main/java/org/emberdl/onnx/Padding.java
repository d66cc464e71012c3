package org.emberdl.onnx;

import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.NDArray;

/**
 * Constant padding of any dims, as a concatenation with constant blocks (so the gradient passes to
 * the input); negative amounts crop.
 */
final class Padding {
  private Padding() {}

  static boolean isZero(int[] begin, int[] end) {
    for (int i = 0; i < begin.length; i++) {
      if (begin[i] != 0 || end[i] != 0) {
        return false;
      }
    }
    return true;
  }

  /**
   * {@code x} with {@code begin[d]} values before and {@code end[d]} after along each dim {@code d}
   * (arrays of x's rank), filled with {@code value}.
   */
  static Tensor pad(Tensor x, int[] begin, int[] end, double value) {
    Tensor cur = Values.share(x);
    try {
      for (int d = 0; d < begin.length; d++) {
        if (begin[d] < 0 || end[d] < 0) {
          int size = cur.shape(d);
          int from = Math.max(0, -begin[d]);
          int to = size - Math.max(0, -end[d]);
          if (to < from) {
            throw new IllegalArgumentException(
                "pads crop more than dim " + d + " of size " + size + " holds");
          }
          Tensor next = cur.narrow(d, from, to - from);
          cur.close();
          cur = next;
        }
        int b = Math.max(0, begin[d]);
        int e = Math.max(0, end[d]);
        if (b == 0 && e == 0) {
          continue;
        }
        Tensor before = b > 0 ? block(cur, d, b, value) : null;
        Tensor after = e > 0 ? block(cur, d, e, value) : null;
        Tensor next;
        try {
          if (before != null && after != null) {
            next = Tensor.cat(d, before, cur, after);
          } else if (before != null) {
            next = Tensor.cat(d, before, cur);
          } else {
            next = Tensor.cat(d, cur, after);
          }
        } finally {
          if (before != null) {
            before.close();
          }
          if (after != null) {
            after.close();
          }
        }
        cur.close();
        cur = next;
      }
      return cur;
    } catch (RuntimeException ex) {
      cur.close();
      throw ex;
    }
  }

  private static Tensor block(Tensor like, int dim, int size, double value) {
    int[] shape = like.shape();
    shape[dim] = size;
    return Tensor.of(NDArray.full(like.dtype(), like.device(), value, shape));
  }
}
