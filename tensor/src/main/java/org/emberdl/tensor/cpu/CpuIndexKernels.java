package org.emberdl.tensor.cpu;

import static org.emberdl.tensor.cpu.UnsafeAccess.UNSAFE;

import org.emberdl.tensor.DType;
import org.emberdl.tensor.Layout;
import org.emberdl.tensor.NDArray;

/** Indexing kernels: pure data movement (indexSelect, gather) and scatter-add. */
final class CpuIndexKernels {
  private CpuIndexKernels() {}

  /** x and out contiguous; out = x with dim {@code dim} picked by {@code index} (1-D). */
  static void indexSelect(NDArray x, int dim, NDArray index, NDArray out) {
    int[] shape = x.layout().shape();
    long outer = 1;
    for (int d = 0; d < dim; d++) {
      outer *= shape[d];
    }
    long inner = 1;
    for (int d = dim + 1; d < shape.length; d++) {
      inner *= shape[d];
    }
    int size = shape[dim];
    int count = (int) index.numel();
    long[] idx = readIndex(index, size, dim);
    long bytes = inner * x.dtype().byteSize();
    long src = x.storage().address() + x.layout().offset() * x.dtype().byteSize();
    long dst = out.storage().address() + out.layout().offset() * out.dtype().byteSize();
    Parallel.range(
        outer,
        outer * count * inner,
        ElementwiseLoop.PARALLEL_MIN_ELEMENTS,
        (from, to) -> {
          for (long o = from; o < to; o++) {
            for (int i = 0; i < count; i++) {
              UNSAFE.copyMemory(
                  src + (o * size + idx[i]) * bytes, dst + (o * count + i) * bytes, bytes);
            }
          }
        });
  }

  /** Reads a 1-D int index into a long[], checking every value against {@code size}. */
  private static long[] readIndex(NDArray index, int size, int dim) {
    long n = index.numel();
    long[] idx = new long[(int) n];
    Layout l = index.layout();
    long step = l.ndim() == 0 ? 0 : l.strides()[0];
    long base = index.storage().address() + l.offset() * index.dtype().byteSize();
    for (int i = 0; i < n; i++) {
      long v = TileIO.readLong(index.dtype(), base + i * step * index.dtype().byteSize());
      checkIndex(v, size, dim);
      idx[i] = v;
    }
    return idx;
  }

  private static void checkIndex(long v, int size, int dim) {
    if (v < 0 || v >= size) {
      throw new IndexOutOfBoundsException(
          "index " + v + " is out of bounds for dim " + dim + " with size " + size);
    }
  }

  /**
   * Visits every position of {@code shape} in row-major order, maintaining element offsets into
   * three strided arrays.
   */
  @FunctionalInterface
  private interface Visitor {
    void visit(long offA, long offB, long offC);
  }

  private static void forEach(int[] shape, long[] sa, long[] sb, long[] sc, Visitor v) {
    long n = org.emberdl.tensor.Shape.numel(shape);
    if (n == 0) {
      return;
    }
    int nd = shape.length;
    int[] pos = new int[nd];
    long a = 0;
    long b = 0;
    long c = 0;
    for (long i = 0; i < n; i++) {
      v.visit(a, b, c);
      for (int d = nd - 1; d >= 0; d--) {
        if (++pos[d] < shape[d]) {
          a += sa[d];
          b += sb[d];
          c += sc[d];
          break;
        }
        a -= sa[d] * (shape[d] - 1);
        b -= sb[d] * (shape[d] - 1);
        c -= sc[d] * (shape[d] - 1);
        pos[d] = 0;
      }
    }
  }

  /** out[...] = x[... with dim replaced by index[...]]; out has index's shape. */
  static void gather(NDArray x, int dim, NDArray index, NDArray out) {
    Layout lx = x.layout();
    Layout li = index.layout();
    Layout lo = out.layout();
    long[] xs = lx.strides().clone();
    long dimStride = xs[dim];
    int dimSize = lx.shape()[dim];
    xs[dim] = 0;
    int es = x.dtype().byteSize();
    long xBase = x.storage().address() + lx.offset() * es;
    long iBase = index.storage().address() + li.offset() * index.dtype().byteSize();
    long oBase = out.storage().address() + lo.offset() * es;
    DType it = index.dtype();
    forEach(
        li.shape(),
        xs,
        li.strides(),
        lo.strides(),
        (ox, oi, oo) -> {
          long v = TileIO.readLong(it, iBase + oi * it.byteSize());
          checkIndex(v, dimSize, dim);
          copyElement(xBase + (ox + v * dimStride) * es, oBase + oo * es, es);
        });
  }

  /** target[... with dim replaced by index[...]] += src[...]; src has index's shape. */
  static void scatterAdd(NDArray target, int dim, NDArray index, NDArray src) {
    Layout lt = target.layout();
    Layout li = index.layout();
    Layout ls = src.layout();
    long[] ts = lt.strides().clone();
    long dimStride = ts[dim];
    int dimSize = lt.shape()[dim];
    ts[dim] = 0;
    DType tt = target.dtype();
    DType st = src.dtype();
    long tBase = target.storage().address() + lt.offset() * tt.byteSize();
    long iBase = index.storage().address() + li.offset() * index.dtype().byteSize();
    long sBase = src.storage().address() + ls.offset() * st.byteSize();
    DType it = index.dtype();
    boolean integral = !tt.isFloatingPoint();
    forEach(
        li.shape(),
        ts,
        li.strides(),
        ls.strides(),
        (ot, oi, os) -> {
          long v = TileIO.readLong(it, iBase + oi * it.byteSize());
          checkIndex(v, dimSize, dim);
          long a = tBase + (ot + v * dimStride) * tt.byteSize();
          long s = sBase + os * st.byteSize();
          if (integral) {
            TileIO.writeLong(tt, a, TileIO.readLong(tt, a) + TileIO.readLong(st, s));
          } else {
            TileIO.writeDouble(tt, a, TileIO.readDouble(tt, a) + TileIO.readDouble(st, s));
          }
        });
  }

  private static void copyElement(long from, long to, int bytes) {
    switch (bytes) {
      case 8 -> UNSAFE.putLong(to, UNSAFE.getLong(from));
      case 4 -> UNSAFE.putInt(to, UNSAFE.getInt(from));
      default -> UNSAFE.putByte(to, UNSAFE.getByte(from));
    }
  }
}
