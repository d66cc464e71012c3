package org.emberdl.tensor.cpu;

import org.emberdl.tensor.DType;
import org.emberdl.tensor.EmberConfig;
import org.emberdl.tensor.Layout;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.ops.ReduceOp;

/**
 * Reductions over the trailing dims of an array. The reduced dims must merge into one strided run
 * (otherwise the caller passes a contiguous copy); each output element reduces one run, tile by
 * tile. Float32 sums accumulate in double. NaN propagates through max/min/argmax/argmin, as in
 * PyTorch.
 */
final class CpuReduceKernels {
  private CpuReduceKernels() {}

  /** Running state of one reduction. */
  private static final class Acc {
    double dv;
    long lv;
    long idx;
    boolean any;

    void reset(ReduceOp op, Family fam) {
      idx = -1;
      any = false;
      switch (op) {
        case SUM -> {
          dv = 0;
          lv = 0;
        }
        case PROD -> {
          dv = 1;
          lv = 1;
        }
        case MAX, ARGMAX -> {
          dv = Double.NEGATIVE_INFINITY;
          lv = Long.MIN_VALUE;
        }
        case MIN, ARGMIN -> {
          dv = Double.POSITIVE_INFINITY;
          lv = Long.MAX_VALUE;
        }
        case ALL -> lv = 1;
        case ANY -> lv = 0;
      }
    }
  }

  /** Returns the stride of the merged run of the last {@code r} dims, or -1 if they don't merge. */
  static long mergedStride(Layout l, int r) {
    int nd = l.ndim();
    long stride = -1;
    long expected = 0;
    for (int d = nd - 1; d >= nd - r; d--) {
      int size = l.shape()[d];
      if (size == 1) {
        continue;
      }
      if (stride < 0) {
        stride = l.strides()[d];
      } else if (l.strides()[d] != expected) {
        return -1;
      }
      expected = l.strides()[d] * size;
    }
    return stride < 0 ? 1 : stride;
  }

  static void reduce(ReduceOp op, NDArray x, int r, NDArray out) {
    Layout l = x.layout();
    int nd = l.ndim();
    int kept = nd - r;
    long stride = mergedStride(l, r);
    if (stride < 0) {
      throw new IllegalArgumentException("reduced dims must merge into one run; pass a copy");
    }
    long len = 1;
    for (int d = kept; d < nd; d++) {
      len *= l.shape()[d];
    }
    final long runLength = len;
    final long runStride = stride;
    long rows = out.numel();
    Family fam = Family.of(x.dtype());
    Operand in = Operand.of(x);
    Operand o = Operand.of(out);
    int[] keptShape = java.util.Arrays.copyOf(l.shape(), kept);
    long[] keptStrides = java.util.Arrays.copyOf(l.strides(), kept);
    long[] outStrides = out.layout().strides();
    int threads = EmberConfig.threads();

    if (op == ReduceOp.SUM
        && fam != Family.L
        && kept == 1
        && keptStrides[0] == 1
        && rows >= COLUMN_SUM_MIN_COLUMNS) {
      columnSums(fam, in, runStride, runLength, (int) rows, o, outStrides[0]);
      return;
    }
    if (rows >= threads || runLength < (1 << 16)) {
      Parallel.range(
          rows,
          rows * runLength,
          ElementwiseLoop.PARALLEL_MIN_ELEMENTS,
          (from, to) -> {
            Acc acc = new Acc();
            Workspace w = Workspace.get();
            for (long row = from; row < to; row++) {
              long inOff = 0;
              long outOff = 0;
              long rem = row;
              for (int d = kept - 1; d >= 0; d--) {
                long i = rem % keptShape[d];
                rem /= keptShape[d];
                inOff += i * keptStrides[d];
                outOff += i * outStrides[d];
              }
              acc.reset(op, fam);
              run(op, fam, in, inOff, runStride, 0, runLength, w, acc);
              write(op, fam, acc, o, outOff);
            }
          });
      return;
    }
    // Few long rows (e.g. a full sum): split each run across threads and combine in order.
    for (long row = 0; row < rows; row++) {
      long inOff = 0;
      long outOff = 0;
      long rem = row;
      for (int d = kept - 1; d >= 0; d--) {
        long i = rem % keptShape[d];
        rem /= keptShape[d];
        inOff += i * keptStrides[d];
        outOff += i * outStrides[d];
      }
      Acc[] parts = new Acc[threads];
      final long base = inOff;
      Parallel.range(
          threads,
          runLength,
          0,
          (from, to) -> {
            for (long t = from; t < to; t++) {
              long s = runLength * t / threads;
              long e = runLength * (t + 1) / threads;
              Acc acc = new Acc();
              acc.reset(op, fam);
              run(op, fam, in, base + s * runStride, runStride, s, e - s, Workspace.get(), acc);
              parts[(int) t] = acc;
            }
          });
      Acc total = parts[0];
      for (int t = 1; t < threads; t++) {
        combine(op, fam, total, parts[t]);
      }
      write(op, fam, total, o, outOff);
    }
  }

  /** Fewest outputs for which {@link #columnSums} replaces the per-output strided runs. */
  static final int COLUMN_SUM_MIN_COLUMNS = 8;

  /**
   * A float sum whose outputs are the columns of a row-major block ({@code runLength} rows of
   * {@code cols} contiguous elements, {@code runStride} apart), such as a bias gradient (an (N, T,
   * C) gradient summed over N and T): adds the block row after row into one double accumulator per
   * column, a loop C2 vectorizes, instead of gathering every column element by element with a
   * stride of C. The columns split over threads; each column still adds its rows in order, so the
   * thread count does not change the result.
   */
  private static void columnSums(
      Family fam,
      Operand in,
      long runStride,
      long runLength,
      int cols,
      Operand out,
      long outStride) {
    Parallel.range(
        cols,
        cols * runLength,
        ElementwiseLoop.PARALLEL_MIN_ELEMENTS,
        (from, to) -> {
          int width = (int) (to - from);
          double[] acc = new double[width];
          Workspace w = Workspace.get();
          for (int c0 = 0; c0 < width; c0 += Workspace.TILE) {
            int n = Math.min(Workspace.TILE, width - c0);
            long first = from + c0;
            for (long r = 0; r < runLength; r++) {
              TileIO.load(fam, in, r * runStride + first, 1, n, w, 0, 0);
              if (fam == Family.F) {
                float[] x = w.f[0];
                for (int j = 0; j < n; j++) {
                  acc[c0 + j] += x[j];
                }
              } else {
                double[] x = w.d[0];
                for (int j = 0; j < n; j++) {
                  acc[c0 + j] += x[j];
                }
              }
            }
          }
          long size = out.dtype.byteSize();
          for (int j = 0; j < width; j++) {
            TileIO.writeDouble(out.dtype, out.address + (from + j) * outStride * size, acc[j]);
          }
        });
  }

  /** Reduces {@code len} elements at element offset {@code off} into {@code acc}. */
  private static void run(
      ReduceOp op,
      Family fam,
      Operand in,
      long off,
      long stride,
      long firstIndex,
      long len,
      Workspace w,
      Acc acc) {
    for (long s = 0; s < len; s += Workspace.TILE) {
      int n = (int) Math.min(Workspace.TILE, len - s);
      TileIO.load(fam, in, off + s * stride, stride, n, w, 0, 0);
      long index0 = firstIndex + s;
      switch (fam) {
        case F -> tileF(op, w.f[0], n, index0, acc);
        case D -> tileD(op, w.d[0], n, index0, acc);
        case L -> tileL(op, w.l[0], n, index0, acc);
      }
    }
  }

  private static void tileF(ReduceOp op, float[] x, int n, long index0, Acc acc) {
    switch (op) {
      case SUM -> {
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int i = 0;
        for (; i + 3 < n; i += 4) {
          s0 += x[i];
          s1 += x[i + 1];
          s2 += x[i + 2];
          s3 += x[i + 3];
        }
        for (; i < n; i++) {
          s0 += x[i];
        }
        acc.dv += (s0 + s1) + (s2 + s3);
      }
      default -> {
        double[] tmp = Workspace.get().d[1];
        for (int i = 0; i < n; i++) {
          tmp[i] = x[i];
        }
        tileD(op, tmp, n, index0, acc);
      }
    }
  }

  private static void tileD(ReduceOp op, double[] x, int n, long index0, Acc acc) {
    switch (op) {
      case SUM -> {
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int i = 0;
        for (; i + 3 < n; i += 4) {
          s0 += x[i];
          s1 += x[i + 1];
          s2 += x[i + 2];
          s3 += x[i + 3];
        }
        for (; i < n; i++) {
          s0 += x[i];
        }
        acc.dv += (s0 + s1) + (s2 + s3);
      }
      case PROD -> {
        double p = acc.dv;
        for (int i = 0; i < n; i++) {
          p *= x[i];
        }
        acc.dv = p;
      }
      case MAX, MIN, ARGMAX, ARGMIN -> {
        boolean max = op == ReduceOp.MAX || op == ReduceOp.ARGMAX;
        double best = acc.dv;
        long idx = acc.idx;
        if (Double.isNaN(best)) {
          return;
        }
        for (int i = 0; i < n; i++) {
          double v = x[i];
          if (Double.isNaN(v)) {
            best = v;
            idx = index0 + i;
            break;
          }
          if (idx < 0 || (max ? v > best : v < best)) {
            best = v;
            idx = index0 + i;
          }
        }
        acc.dv = best;
        acc.idx = idx;
      }
      case ALL -> {
        for (int i = 0; i < n && acc.lv != 0; i++) {
          if (x[i] == 0.0) {
            acc.lv = 0;
          }
        }
      }
      case ANY -> {
        for (int i = 0; i < n && acc.lv == 0; i++) {
          if (x[i] != 0.0) {
            acc.lv = 1;
          }
        }
      }
    }
  }

  private static void tileL(ReduceOp op, long[] x, int n, long index0, Acc acc) {
    switch (op) {
      case SUM -> {
        long s = acc.lv;
        for (int i = 0; i < n; i++) {
          s += x[i];
        }
        acc.lv = s;
      }
      case PROD -> {
        long p = acc.lv;
        for (int i = 0; i < n; i++) {
          p *= x[i];
        }
        acc.lv = p;
      }
      case MAX, MIN, ARGMAX, ARGMIN -> {
        boolean max = op == ReduceOp.MAX || op == ReduceOp.ARGMAX;
        long best = acc.lv;
        long idx = acc.idx;
        for (int i = 0; i < n; i++) {
          long v = x[i];
          if (idx < 0 || (max ? v > best : v < best)) {
            best = v;
            idx = index0 + i;
          }
        }
        acc.lv = best;
        acc.idx = idx;
      }
      case ALL -> {
        for (int i = 0; i < n && acc.lv != 0; i++) {
          if (x[i] == 0L) {
            acc.lv = 0;
          }
        }
      }
      case ANY -> {
        for (int i = 0; i < n && acc.lv == 0; i++) {
          if (x[i] != 0L) {
            acc.lv = 1;
          }
        }
      }
    }
  }

  /** Folds {@code next} (a later part of the same run) into {@code acc}. */
  private static void combine(ReduceOp op, Family fam, Acc acc, Acc next) {
    boolean longs = fam == Family.L;
    switch (op) {
      case SUM -> {
        acc.dv += next.dv;
        acc.lv += next.lv;
      }
      case PROD -> {
        acc.dv *= next.dv;
        acc.lv *= next.lv;
      }
      case MAX, MIN, ARGMAX, ARGMIN -> {
        boolean max = op == ReduceOp.MAX || op == ReduceOp.ARGMAX;
        if (next.idx < 0) {
          return;
        }
        boolean take;
        if (longs) {
          take = acc.idx < 0 || (max ? next.lv > acc.lv : next.lv < acc.lv);
        } else {
          take =
              acc.idx < 0
                  || (!Double.isNaN(acc.dv)
                      && (Double.isNaN(next.dv) || (max ? next.dv > acc.dv : next.dv < acc.dv)));
        }
        if (take) {
          acc.dv = next.dv;
          acc.lv = next.lv;
          acc.idx = next.idx;
        }
      }
      case ALL -> acc.lv = (acc.lv != 0 && next.lv != 0) ? 1 : 0;
      case ANY -> acc.lv = (acc.lv != 0 || next.lv != 0) ? 1 : 0;
    }
  }

  private static void write(ReduceOp op, Family fam, Acc acc, Operand out, long outOff) {
    long a = out.address + outOff * out.dtype.byteSize();
    switch (op) {
      case ARGMAX, ARGMIN -> TileIO.writeLong(out.dtype, a, Math.max(acc.idx, 0));
      case ALL, ANY -> TileIO.writeLong(DType.BOOL, a, acc.lv);
      case SUM, PROD, MAX, MIN -> {
        if (fam == Family.L) {
          TileIO.writeLong(out.dtype, a, acc.lv);
        } else {
          TileIO.writeDouble(out.dtype, a, acc.dv);
        }
      }
    }
  }
}
