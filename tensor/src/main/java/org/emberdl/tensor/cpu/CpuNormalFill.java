package org.emberdl.tensor.cpu;

import static org.emberdl.tensor.cpu.UnsafeAccess.UNSAFE;

import org.emberdl.tensor.DType;
import org.emberdl.tensor.Device;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.random.Philox;

/**
 * Normal values written straight into part of a contiguous CPU array, so a fill split into chunks
 * run by different threads at different times ({@link IdleWork}) needs no heap copy of the whole
 * array: element {@code i} takes the generator's normal value at {@code offset + i}, as in {@code
 * NDArray.normal}, so the chunks together give that fill's bits.
 */
public final class CpuNormalFill {
  /** Values drawn into the heap per copy; the per-thread buffer's size. */
  private static final int TILE = Workspace.TILE;

  private static final ThreadLocal<float[]> FLOATS = ThreadLocal.withInitial(() -> new float[TILE]);
  private static final ThreadLocal<double[]> DOUBLES =
      ThreadLocal.withInitial(() -> new double[TILE]);

  private CpuNormalFill() {}

  /**
   * Writes {@code N(mean, std^2)} values {@code [offset + from, offset + from + count)} of {@code
   * philox}'s normal sequence into elements {@code [from, from + count)} of {@code out}.
   *
   * @throws IllegalArgumentException unless {@code out} is a contiguous float32 or float64 CPU
   *     array
   * @throws IndexOutOfBoundsException if the range is not inside {@code out}
   */
  public static void normal(
      Philox philox, long offset, NDArray out, long from, int count, double mean, double std) {
    DType t = out.dtype();
    if (!Device.CPU.equals(out.device())
        || !out.isContiguous()
        || (t != DType.FLOAT32 && t != DType.FLOAT64)) {
      throw new IllegalArgumentException(
          "normal fill needs a contiguous float32 or float64 CPU array, got "
              + t
              + " on "
              + out.device()
              + (out.isContiguous() ? "" : " (not contiguous)"));
    }
    if (from < 0 || count < 0 || from + count > out.numel()) {
      throw new IndexOutOfBoundsException(
          "elements [" + from + ", " + (from + count) + ") of an array of " + out.numel());
    }
    int es = t.byteSize();
    long base = out.storage().address() + out.layout().offset() * es;
    for (int done = 0; done < count; done += TILE) {
      int len = Math.min(TILE, count - done);
      long at = from + done;
      long dst = base + at * es;
      if (t == DType.FLOAT32) {
        float[] f = FLOATS.get();
        philox.normal(offset + at, f, 0, len, (float) mean, (float) std);
        UNSAFE.copyMemory(f, UnsafeAccess.FLOAT_BASE, null, dst, 4L * len);
      } else {
        double[] d = DOUBLES.get();
        philox.normal(offset + at, d, 0, len, mean, std);
        UNSAFE.copyMemory(d, UnsafeAccess.DOUBLE_BASE, null, dst, 8L * len);
      }
    }
  }
}
