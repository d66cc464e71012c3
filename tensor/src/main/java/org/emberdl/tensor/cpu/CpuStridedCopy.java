package org.emberdl.tensor.cpu;

import static org.emberdl.tensor.cpu.UnsafeAccess.UNSAFE;

import java.util.Arrays;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Layout;
import org.emberdl.tensor.NDArray;

/**
 * Copies between two strided float views whose last dim is dense in both, run by run: attention's
 * head merge ({@code (N, heads, T, d)} into {@code (N, T, heads * d)}) and the head gradients
 * written into their columns of a packed {@code (N, T, 3E)} array. The general elementwise loop
 * moves such a copy element by element along its longest dim when the dense run is short (d = 16),
 * at strides of a whole row; here each run is a plain loop of loads and stores (C2 compiles {@code
 * Unsafe} float accesses to moves), and the outer dims advance as an odometer once per run.
 */
final class CpuStridedCopy {
  /** Dense runs shorter than this go to the general loop. */
  static final int MIN_RUN = 8;

  private CpuStridedCopy() {}

  /**
   * Copies {@code src} into {@code dst} and returns true when both are float32 or both float64, of
   * one shape, in different storages, with a dense last dim of at least {@link #MIN_RUN}; returns
   * false (copying nothing) otherwise.
   */
  static boolean tryCopy(NDArray src, NDArray dst) {
    DType t = dst.dtype();
    if (src.dtype() != t || (t != DType.FLOAT32 && t != DType.FLOAT64)) {
      return false;
    }
    if (src.storage() == dst.storage()) {
      return false; // overlapping views keep the general loop's semantics
    }
    Layout ls = src.layout();
    Layout ld = dst.layout();
    int nd = ld.ndim();
    if (nd < 2 || !Arrays.equals(ls.shape(), ld.shape())) {
      return false;
    }
    int len = ld.shape()[nd - 1];
    if (len < MIN_RUN || ls.strides()[nd - 1] != 1 || ld.strides()[nd - 1] != 1) {
      return false;
    }
    long numel = src.numel();
    if (numel == 0) {
      return true;
    }
    long rows = numel / len;
    int outer = nd - 1;
    int[] shape = Arrays.copyOf(ld.shape(), outer);
    long[] ss = Arrays.copyOf(ls.strides(), outer);
    long[] ds = Arrays.copyOf(ld.strides(), outer);
    long size = t.byteSize();
    long s0 = src.storage().address() + ls.offset() * size;
    long d0 = dst.storage().address() + ld.offset() * size;
    boolean f32 = t == DType.FLOAT32;
    Parallel.range(
        rows,
        numel,
        ElementwiseLoop.PARALLEL_MIN_ELEMENTS,
        (from, to) -> {
          int[] idx = new int[outer];
          long offS = 0;
          long offD = 0;
          long rem = from;
          for (int d = outer - 1; d >= 0; d--) {
            idx[d] = (int) (rem % shape[d]);
            rem /= shape[d];
            offS += idx[d] * ss[d];
            offD += idx[d] * ds[d];
          }
          for (long r = from; r < to; r++) {
            long a = s0 + offS * size;
            long b = d0 + offD * size;
            if (f32) {
              for (int i = 0; i < len; i++) {
                UNSAFE.putFloat(b + 4L * i, UNSAFE.getFloat(a + 4L * i));
              }
            } else {
              for (int i = 0; i < len; i++) {
                UNSAFE.putDouble(b + 8L * i, UNSAFE.getDouble(a + 8L * i));
              }
            }
            for (int d = outer - 1; d >= 0; d--) {
              offS += ss[d];
              offD += ds[d];
              if (++idx[d] < shape[d]) {
                break;
              }
              offS -= ss[d] * shape[d];
              offD -= ds[d] * shape[d];
              idx[d] = 0;
            }
          }
        });
    return true;
  }
}
