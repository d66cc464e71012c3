package org.emberdl.tensor.cpu;

import static org.emberdl.tensor.cpu.UnsafeAccess.UNSAFE;

import org.emberdl.tensor.Conv2dGeometry;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.Pool2dGeometry;

/**
 * im2col/col2im for convolution-as-GEMM, and 2-D max/avg pooling with their backward kernels. All
 * arrays are contiguous; float32 and float64.
 */
final class CpuConvKernels {
  private CpuConvKernels() {}

  private static long base(NDArray a) {
    return a.storage().address() + a.layout().offset() * a.dtype().byteSize();
  }

  /** columns[(c, i, j), (oh, ow)] = input[c, oh*sh - ph + i*dh, ow*sw - pw + j*dw] or 0. */
  static void im2col(NDArray input, Conv2dGeometry g, NDArray columns) {
    int es = input.dtype().byteSize();
    boolean f32 = input.dtype() == DType.FLOAT32;
    long in = base(input);
    long col = base(columns);
    int kk = g.kernelH() * g.kernelW();
    long l = g.columnCols();
    Parallel.range(
        (long) g.channels() * kk,
        (long) g.columnRows() * g.columnCols(),
        ElementwiseLoop.PARALLEL_MIN_ELEMENTS,
        (from, to) -> {
          for (long row = from; row < to; row++) {
            int c = (int) (row / kk);
            long plane = in + (long) c * g.height() * g.width() * es;
            im2colRow(plane, g, (int) (row % kk), col + row * l * es, f32, es);
          }
        });
  }

  /**
   * im2col of {@code n} samples into one (C * kh * kw, n * L) matrix ({@code L = outH * outW}): row
   * {@code (c, i, j)} holds sample 0's L values, then sample 1's, and so on, so one GEMM of the
   * weight (O, K) with it convolves the whole batch and its transpose gives the weight gradient.
   * {@code g} is one sample's geometry; input is (n, C, H, W) contiguous.
   */
  static void im2colBatch(NDArray input, Conv2dGeometry g, int n, NDArray columns) {
    int es = input.dtype().byteSize();
    boolean f32 = input.dtype() == DType.FLOAT32;
    long in = base(input);
    long col = base(columns);
    int kk = g.kernelH() * g.kernelW();
    int rows = g.columnRows();
    long l = g.columnCols();
    long ld = n * l;
    long planeBytes = (long) g.height() * g.width() * es;
    if (f32) {
      // Units (sample, channel): the channel's plane copied to the heap once, each of its kh * kw
      // rows formed there by array loops and copied out whole (C2 vectorizes the array loops; an
      // Unsafe get/put per element, the general path, costs several times more on short rows).
      int planeLen = g.height() * g.width();
      Parallel.claim(
          (long) n * g.channels(),
          Parallel.grain((long) n * g.channels(), 8),
          (long) n * rows * l,
          ElementwiseLoop.PARALLEL_MIN_ELEMENTS,
          (from, to) -> {
            float[] plane = new float[planeLen];
            float[] row = new float[(int) l];
            for (long u = from; u < to; u++) {
              long s = u / g.channels();
              int c = (int) (u % g.channels());
              UNSAFE.copyMemory(
                  null, in + u * planeBytes, plane, UnsafeAccess.FLOAT_BASE, 4L * planeLen);
              for (int tap = 0; tap < kk; tap++) {
                im2colRowF(plane, g, tap, row);
                long dst = col + (((long) c * kk + tap) * ld + s * l) * 4;
                UNSAFE.copyMemory(row, UnsafeAccess.FLOAT_BASE, null, dst, 4L * l);
              }
            }
          });
      return;
    }
    // Units in (sample, row) order: the kh * kw rows of one channel read one input plane in turn.
    Parallel.range(
        (long) n * rows,
        (long) n * rows * l,
        ElementwiseLoop.PARALLEL_MIN_ELEMENTS,
        (from, to) -> {
          for (long u = from; u < to; u++) {
            long s = u / rows;
            int row = (int) (u % rows);
            long plane = in + (s * g.channels() + row / kk) * planeBytes;
            im2colRow(plane, g, row % kk, col + (row * ld + s * l) * es, f32, es);
          }
        });
  }

  /**
   * One float32 im2col row, tap {@code tap = i * kw + j} of a heap (H, W) plane, into {@code row}.
   */
  private static void im2colRowF(float[] plane, Conv2dGeometry g, int tap, float[] row) {
    int oh = g.outH();
    int ow = g.outW();
    int sw = g.strideW();
    int width = g.width();
    int i = tap / g.kernelW();
    int j = tap % g.kernelW();
    int w0 = -g.padW() + j * g.dilationW();
    int lo = firstInside(w0, sw, ow);
    int hi = endInside(w0, sw, width, ow, lo);
    for (int y = 0; y < oh; y++) {
      int h = y * g.strideH() - g.padH() + i * g.dilationH();
      int d = y * ow;
      if (h < 0 || h >= g.height()) {
        java.util.Arrays.fill(row, d, d + ow, 0f);
        continue;
      }
      for (int x = 0; x < lo; x++) {
        row[d + x] = 0f;
      }
      int src = h * width + w0;
      if (sw == 1) {
        System.arraycopy(plane, src + lo, row, d + lo, hi - lo);
      } else {
        for (int x = lo; x < hi; x++) {
          row[d + x] = plane[src + x * sw];
        }
      }
      for (int x = hi; x < ow; x++) {
        row[d + x] = 0f;
      }
    }
  }

  /** One im2col row: tap {@code tap = i * kw + j} of the (H, W) plane at {@code plane}. */
  private static void im2colRow(
      long plane, Conv2dGeometry g, int tap, long dstRow, boolean f32, int es) {
    int oh = g.outH();
    int ow = g.outW();
    int sw = g.strideW();
    int i = tap / g.kernelW();
    int j = tap % g.kernelW();
    // The output columns whose input column lies inside the image depend only on j:
    // [lo, hi) is copied, the rest is padding.
    int w0 = -g.padW() + j * g.dilationW();
    int lo = firstInside(w0, sw, ow);
    int hi = endInside(w0, sw, g.width(), ow, lo);
    for (int y = 0; y < oh; y++) {
      int h = y * g.strideH() - g.padH() + i * g.dilationH();
      long dst = dstRow + (long) y * ow * es;
      if (h < 0 || h >= g.height()) {
        UNSAFE.setMemory(dst, (long) ow * es, (byte) 0);
        continue;
      }
      if (lo > 0) {
        UNSAFE.setMemory(dst, (long) lo * es, (byte) 0);
      }
      if (hi < ow) {
        UNSAFE.setMemory(dst + (long) hi * es, (long) (ow - hi) * es, (byte) 0);
      }
      long src = plane + ((long) h * g.width() + lo * sw + w0) * es;
      long d = dst + (long) lo * es;
      if (sw == 1 && hi - lo >= 64) {
        UNSAFE.copyMemory(src, d, (long) (hi - lo) * es);
      } else if (f32) {
        for (int x = lo; x < hi; x++, d += 4, src += 4L * sw) {
          UNSAFE.putFloat(d, UNSAFE.getFloat(src));
        }
      } else {
        for (int x = lo; x < hi; x++, d += 8, src += 8L * sw) {
          UNSAFE.putDouble(d, UNSAFE.getDouble(src));
        }
      }
    }
  }

  /** image[c, h, w] += columns[(c, i, j), (oh, ow)] over every position that im2col read. */
  static void col2im(NDArray columns, Conv2dGeometry g, NDArray image) {
    int es = image.dtype().byteSize();
    boolean f32 = image.dtype() == DType.FLOAT32;
    long img = base(image);
    long col = base(columns);
    int kk = g.kernelH() * g.kernelW();
    long l = g.columnCols();
    long planeBytes = (long) g.height() * g.width() * es;
    // Parallel over channels: two channels never write the same image element.
    Parallel.claim(
        g.channels(),
        Parallel.grain(g.channels(), 8),
        (long) g.columnRows() * g.columnCols(),
        ElementwiseLoop.PARALLEL_MIN_ELEMENTS,
        (from, to) -> {
          if (f32) {
            // heap copies of one channel's rows and plane: array loops, not an Unsafe get/put
            // per element (4x faster on the examples' conv2, whose rows are 11 long)
            float[] rows = new float[(int) (kk * l)];
            float[] plane = new float[g.height() * g.width()];
            for (long c = from; c < to; c++) {
              col2imPlaneF(col + c * kk * l * es, l * es, g, img + c * planeBytes, rows, plane);
            }
            return;
          }
          for (long c = from; c < to; c++) {
            col2imPlane(col + c * kk * l * es, l * es, g, img + c * planeBytes, false, es);
          }
        });
  }

  /**
   * {@link #col2imPlane} in float32 on heap copies of the rows (the first at {@code src}, one every
   * {@code rowBytes}) and the plane.
   */
  private static void col2imPlaneF(
      long src, long rowBytes, Conv2dGeometry g, long dst, float[] rows, float[] plane) {
    int oh = g.outH();
    int ow = g.outW();
    int rowLen = oh * ow;
    if (rowBytes == 4L * rowLen) {
      UNSAFE.copyMemory(null, src, rows, UnsafeAccess.FLOAT_BASE, 4L * rows.length);
    } else {
      for (int r = 0; r < rows.length / rowLen; r++) {
        UNSAFE.copyMemory(
            null, src + r * rowBytes, rows, UnsafeAccess.FLOAT_BASE + 4L * r * rowLen, 4L * rowLen);
      }
    }
    UNSAFE.copyMemory(null, dst, plane, UnsafeAccess.FLOAT_BASE, 4L * plane.length);
    int sw = g.strideW();
    int width = g.width();
    int kk = g.kernelH() * g.kernelW();
    for (int r = 0; r < kk; r++) {
      int i = r / g.kernelW();
      int j = r % g.kernelW();
      int w0 = -g.padW() + j * g.dilationW();
      int lo = firstInside(w0, sw, ow);
      int hi = endInside(w0, sw, width, ow, lo);
      int row = r * oh * ow;
      for (int y = 0; y < oh; y++) {
        int h = y * g.strideH() - g.padH() + i * g.dilationH();
        if (h < 0 || h >= g.height()) {
          continue;
        }
        int s = row + y * ow;
        int d = h * width + w0;
        for (int x = lo; x < hi; x++) {
          plane[d + x * sw] += rows[s + x];
        }
      }
    }
    UNSAFE.copyMemory(plane, UnsafeAccess.FLOAT_BASE, null, dst, 4L * plane.length);
  }

  /**
   * Accumulates the kh * kw rows of one channel (the first at {@code src}, one every {@code
   * rowBytes}) into its (H, W) plane.
   */
  private static void col2imPlane(
      long src, long rowBytes, Conv2dGeometry g, long plane, boolean f32, int es) {
    int oh = g.outH();
    int ow = g.outW();
    int sw = g.strideW();
    int kk = g.kernelH() * g.kernelW();
    for (int r = 0; r < kk; r++) {
      int i = r / g.kernelW();
      int j = r % g.kernelW();
      int w0 = -g.padW() + j * g.dilationW();
      int lo = firstInside(w0, sw, ow);
      int hi = endInside(w0, sw, g.width(), ow, lo);
      long srcRow = src + r * rowBytes;
      for (int y = 0; y < oh; y++) {
        int h = y * g.strideH() - g.padH() + i * g.dilationH();
        if (h < 0 || h >= g.height()) {
          continue;
        }
        long s = srcRow + ((long) y * ow + lo) * es;
        long d = plane + ((long) h * g.width() + lo * sw + w0) * es;
        if (f32) {
          for (int x = lo; x < hi; x++, s += 4, d += 4L * sw) {
            UNSAFE.putFloat(d, UNSAFE.getFloat(d) + UNSAFE.getFloat(s));
          }
        } else {
          for (int x = lo; x < hi; x++, s += 8, d += 8L * sw) {
            UNSAFE.putDouble(d, UNSAFE.getDouble(d) + UNSAFE.getDouble(s));
          }
        }
      }
    }
  }

  /** Bytes of columns one thread forms and accumulates at a time: about a core's L2. */
  private static final long INPUT_GRAD_CHUNK_BYTES = 512L << 10;

  /**
   * {@code image += col2im(weight^T @ gradRows)} per sample ({@link
   * org.emberdl.tensor.Backend#conv2dInputGradBatch}) in one parallel region: each thread claims a
   * run of samples whose (K, run * L) columns fit in {@link #INPUT_GRAD_CHUNK_BYTES}, forms them
   * with one GEMM (depth O) into its own buffer and accumulates them into the run's image planes
   * while they are in cache. Claiming runs from a counter keeps both threads busy to the end where
   * fixed halves leave one waiting; the per-sample path instead writes the whole batch's columns
   * (17.8 MB for the examples' conv2 at batch 128) and reads them back. Each image element is
   * summed by one thread in a fixed tap order and each column element is one GEMM dot product over
   * O, so the result does not depend on the thread count.
   */
  static void conv2dInputGradBatch(
      NDArray gradRows, NDArray weight, Conv2dGeometry g, int n, NDArray image) {
    DType t = image.dtype();
    int es = t.byteSize();
    boolean f32 = t == DType.FLOAT32;
    int k = g.columnRows();
    int l = g.columnCols();
    int o = weight.shape(0);
    int kk = g.kernelH() * g.kernelW();
    long nl = (long) n * l;
    int run = (int) Math.max(1, Math.min(n, INPUT_GRAD_CHUNK_BYTES / ((long) k * l * es)));
    int runs = (n + run - 1) / run;
    int threads = Math.max(1, Math.min(org.emberdl.tensor.EmberConfig.threads(), runs));
    long g0 = base(gradRows);
    long w0 = base(weight);
    long img = base(image);
    long planeBytes = (long) g.height() * g.width() * es;
    try (NDArray buffers = NDArray.empty(t, threads, k, run * l)) {
      long buf0 = base(buffers);
      long bufBytes = (long) k * run * l * es;
      java.util.concurrent.atomic.AtomicInteger next =
          new java.util.concurrent.atomic.AtomicInteger();
      Parallel.range(
          threads,
          (long) k * nl,
          ElementwiseLoop.PARALLEL_MIN_ELEMENTS,
          (from, to) -> {
            long cols = buf0 + from * bufBytes; // this thread's buffer
            float[] rows = f32 ? new float[kk * l] : null;
            float[] plane = f32 ? new float[g.height() * g.width()] : null;
            int r;
            while ((r = next.getAndIncrement()) < runs) {
              int s0 = r * run;
              int nb = Math.min(run, n - s0);
              int width = nb * l;
              // (K, O) = weight^T, (O, nb L) = the run's columns of gradRows (leading dim n L)
              CpuGemm.gemmOnThisThread(
                  f32,
                  true,
                  k,
                  false,
                  (int) nl,
                  k,
                  width,
                  o,
                  w0,
                  g0 + (long) s0 * l * es,
                  cols,
                  width);
              long rowBytes = (long) width * es;
              for (int s = 0; s < nb; s++) {
                for (int c = 0; c < g.channels(); c++) {
                  long src = cols + ((long) c * kk * width + (long) s * l) * es;
                  long dst = img + ((long) (s0 + s) * g.channels() + c) * planeBytes;
                  if (f32) {
                    col2imPlaneF(src, rowBytes, g, dst, rows, plane);
                  } else {
                    col2imPlane(src, rowBytes, g, dst, false, es);
                  }
                }
              }
            }
          });
    }
  }

  /** The first output column x in [0, ow] with {@code x * stride + w0 >= 0}. */
  private static int firstInside(int w0, int stride, int ow) {
    return w0 >= 0 ? 0 : Math.min(ow, (-w0 + stride - 1) / stride);
  }

  /** One past the last output column x in [lo, ow] with {@code x * stride + w0 < width}. */
  private static int endInside(int w0, int stride, int width, int ow, int lo) {
    int end = w0 >= width ? 0 : (width - 1 - w0) / stride + 1;
    return Math.max(lo, Math.min(ow, end));
  }

  static void maxPool2d(NDArray input, Pool2dGeometry g, NDArray out, NDArray indices) {
    boolean f32 = input.dtype() == DType.FLOAT32;
    int es = input.dtype().byteSize();
    long in = base(input);
    long o = base(out);
    long idx = base(indices);
    int h = g.height();
    int w = g.width();
    int planeIn = h * w;
    int planeOut = g.outH() * g.outW();
    long planes = input.numel() / planeIn;
    boolean twoByTwo = isTwoByTwo(g);
    // Each plane is copied to a heap array once, pooled there (JIT-friendly loops, no per-element
    // dtype dispatch) and written back with one copy per output array.
    Parallel.claim(
        planes,
        Parallel.grain(planes, 8),
        input.numel(),
        ElementwiseLoop.PARALLEL_MIN_ELEMENTS,
        (from, to) -> {
          double[] plane = new double[planeIn];
          float[] planeF = f32 ? new float[planeIn] : null;
          double[] values = new double[planeOut];
          float[] valuesF = f32 ? new float[planeOut] : null;
          long[] winners = new long[planeOut];
          for (long p = from; p < to; p++) {
            long src = in + p * planeIn * es;
            if (f32 && twoByTwo) {
              UNSAFE.copyMemory(null, src, planeF, UnsafeAccess.FLOAT_BASE, 4L * planeIn);
              maxPool2x2(planeF, w, g.outH(), g.outW(), valuesF, winners);
              UNSAFE.copyMemory(
                  valuesF, UnsafeAccess.FLOAT_BASE, null, o + p * planeOut * es, 4L * planeOut);
              UNSAFE.copyMemory(
                  winners, UnsafeAccess.LONG_BASE, null, idx + p * planeOut * 8L, 8L * planeOut);
              continue;
            }
            if (f32) {
              UNSAFE.copyMemory(null, src, planeF, UnsafeAccess.FLOAT_BASE, 4L * planeIn);
              for (int i = 0; i < planeIn; i++) {
                plane[i] = planeF[i];
              }
            } else {
              UNSAFE.copyMemory(null, src, plane, UnsafeAccess.DOUBLE_BASE, 8L * planeIn);
            }
            maxPoolPlane(plane, g, values, winners);
            long dst = o + p * planeOut * es;
            if (f32) {
              for (int i = 0; i < planeOut; i++) {
                valuesF[i] = (float) values[i];
              }
              UNSAFE.copyMemory(valuesF, UnsafeAccess.FLOAT_BASE, null, dst, 4L * planeOut);
            } else {
              UNSAFE.copyMemory(values, UnsafeAccess.DOUBLE_BASE, null, dst, 8L * planeOut);
            }
            UNSAFE.copyMemory(
                winners, UnsafeAccess.LONG_BASE, null, idx + p * planeOut * 8L, 8L * planeOut);
          }
        });
  }

  private static boolean isTwoByTwo(Pool2dGeometry g) {
    return g.kernelH() == 2
        && g.kernelW() == 2
        && g.strideH() == 2
        && g.strideW() == 2
        && g.padH() == 0
        && g.padW() == 0;
  }

  /** Max pooling of one (H, W) plane: values and flat argmax indices per output cell. */
  private static void maxPoolPlane(
      double[] plane, Pool2dGeometry g, double[] values, long[] winners) {
    int h = g.height();
    int w = g.width();
    int ow = g.outW();
    if (isTwoByTwo(g)) {
      maxPool2x2(plane, w, g.outH(), ow, values, winners);
      return;
    }
    for (int y = 0; y < g.outH(); y++) {
      int hs = y * g.strideH() - g.padH();
      int y0 = Math.max(hs, 0);
      int y1 = Math.min(hs + g.kernelH(), h);
      for (int x = 0; x < ow; x++) {
        int ws = x * g.strideW() - g.padW();
        int x0 = Math.max(ws, 0);
        int x1 = Math.min(ws + g.kernelW(), w);
        int bestIdx = y0 * w + x0;
        double best = plane[bestIdx];
        for (int yy = y0; yy < y1; yy++) {
          for (int xx = x0; xx < x1; xx++) {
            int k = yy * w + xx;
            double v = plane[k];
            // Every NaN wins, so the index is the window's last NaN: PyTorch's rule
            // (val > maxval || isnan(val)); v != v is the NaN test.
            // written as selects, not a branch: on real data the outcome is a coin flip, and
            // C2 turns these into conditional moves (3x faster than a mispredicted branch)
            boolean take = v > best | v != v;
            best = take ? v : best;
            bestIdx = take ? k : bestIdx;
          }
        }
        values[y * ow + x] = best;
        winners[y * ow + x] = bestIdx;
      }
    }
  }

  /**
   * The common 2x2, stride 2 case, unrolled and branch-free: the max comes from Math.max (no
   * branch), the index from integer selects, so random data costs no mispredictions. Ties go to the
   * first element in window order and NaN to the last NaN, as in PyTorch.
   */
  private static void maxPool2x2(
      double[] plane, int w, int oh, int ow, double[] values, long[] winners) {
    for (int y = 0; y < oh; y++) {
      int row = 2 * y * w;
      for (int x = 0; x < ow; x++) {
        int k = row + 2 * x;
        double a = plane[k];
        double b = plane[k + 1];
        double c = plane[k + w];
        double d = plane[k + w + 1];
        double m = Math.max(Math.max(a, b), Math.max(c, d));
        int idx = k + w + 1;
        idx = c == m ? k + w : idx;
        idx = b == m ? k + 1 : idx;
        idx = a == m ? k : idx;
        if (m != m) {
          idx = d != d ? k + w + 1 : c != c ? k + w : b != b ? k + 1 : k;
        }
        values[y * ow + x] = m;
        winners[y * ow + x] = idx;
      }
    }
  }

  /** {@link #maxPool2x2(double[], int, int, int, double[], long[])} in float. */
  private static void maxPool2x2(
      float[] plane, int w, int oh, int ow, float[] values, long[] winners) {
    for (int y = 0; y < oh; y++) {
      int row = 2 * y * w;
      for (int x = 0; x < ow; x++) {
        int k = row + 2 * x;
        float a = plane[k];
        float b = plane[k + 1];
        float c = plane[k + w];
        float d = plane[k + w + 1];
        float m = Math.max(Math.max(a, b), Math.max(c, d));
        int idx = k + w + 1;
        idx = c == m ? k + w : idx;
        idx = b == m ? k + 1 : idx;
        idx = a == m ? k : idx;
        if (m != m) {
          idx = d != d ? k + w + 1 : c != c ? k + w : b != b ? k + 1 : k;
        }
        values[y * ow + x] = m;
        winners[y * ow + x] = idx;
      }
    }
  }

  static void maxPool2dBackward(
      NDArray gradOut, NDArray indices, Pool2dGeometry g, NDArray gradInput) {
    DType t = gradInput.dtype();
    int es = t.byteSize();
    long go = base(gradOut);
    long idx = base(indices);
    long gi = base(gradInput);
    long planeIn = (long) g.height() * g.width();
    long planeOut = (long) g.outH() * g.outW();
    long planes = gradOut.numel() / planeOut;
    Parallel.range(
        planes,
        gradOut.numel(),
        ElementwiseLoop.PARALLEL_MIN_ELEMENTS,
        (from, to) -> {
          for (long p = from; p < to; p++) {
            for (long k = 0; k < planeOut; k++) {
              long oi = p * planeOut + k;
              long target = UNSAFE.getLong(idx + oi * 8);
              // Indices may come from the caller; an unchecked one would write outside the array.
              if (target < 0 || target >= planeIn) {
                throw new IllegalArgumentException(
                    "maxPool2dBackward: index "
                        + target
                        + " at output element "
                        + oi
                        + " is outside the "
                        + g.height()
                        + "x"
                        + g.width()
                        + " input plane");
              }
              add(t, gi + (p * planeIn + target) * es, go + oi * es, 1.0);
            }
          }
        });
  }

  /**
   * {@link org.emberdl.tensor.Backend#reluMaxPool2dBackward} in float32, one pass per plane on the
   * heap: the gradient scattered into a zeroed plane in output order (the float sums of {@link
   * #maxPool2dBackward}), then multiplied by {@code step(x)} with the STEP kernel's formula, so the
   * bits are those of the three ops (NaN inputs and signed zeros included), written once, with no
   * zeroed array, mask or product allocated.
   */
  static void reluMaxPool2dBackwardF(
      NDArray gradOut, NDArray indices, NDArray x, Pool2dGeometry g, NDArray gradInput) {
    long go = base(gradOut);
    long idx = base(indices);
    long xs = base(x);
    long gi = base(gradInput);
    int planeIn = g.height() * g.width();
    int planeOut = g.outH() * g.outW();
    long planes = gradOut.numel() / planeOut;
    Parallel.claim(
        planes,
        Parallel.grain(planes, 8),
        planes * planeIn,
        ElementwiseLoop.PARALLEL_MIN_ELEMENTS,
        (from, to) -> {
          float[] acc = new float[planeIn];
          float[] xp = new float[planeIn];
          float[] grad = new float[planeOut];
          long[] win = new long[planeOut];
          for (long p = from; p < to; p++) {
            java.util.Arrays.fill(acc, 0f);
            UNSAFE.copyMemory(
                null, go + p * planeOut * 4, grad, UnsafeAccess.FLOAT_BASE, 4L * planeOut);
            UNSAFE.copyMemory(
                null, idx + p * planeOut * 8, win, UnsafeAccess.LONG_BASE, 8L * planeOut);
            for (int k = 0; k < planeOut; k++) {
              long target = win[k];
              if (target < 0 || target >= planeIn) {
                throw new IllegalArgumentException(
                    "maxPool2dBackward: index "
                        + target
                        + " at output element "
                        + (p * planeOut + k)
                        + " is outside the "
                        + g.height()
                        + "x"
                        + g.width()
                        + " input plane");
              }
              acc[(int) target] += grad[k];
            }
            UNSAFE.copyMemory(
                null, xs + p * planeIn * 4, xp, UnsafeAccess.FLOAT_BASE, 4L * planeIn);
            for (int i = 0; i < planeIn; i++) {
              // step(x) exactly as the STEP kernel computes it (NaN stays NaN)
              float step = Math.min(Math.max(xp[i] * 0x1p126f * 0x1p126f, 0f), 1f);
              acc[i] = acc[i] * step;
            }
            UNSAFE.copyMemory(
                acc, UnsafeAccess.FLOAT_BASE, null, gi + p * planeIn * 4, 4L * planeIn);
          }
        });
  }

  static void avgPool2d(NDArray input, Pool2dGeometry g, NDArray out) {
    DType t = input.dtype();
    int es = t.byteSize();
    long in = base(input);
    long o = base(out);
    int h = g.height();
    int w = g.width();
    int oh = g.outH();
    int ow = g.outW();
    double scale = 1.0 / (g.kernelH() * g.kernelW());
    long planes = input.numel() / ((long) h * w);
    Parallel.range(
        planes,
        input.numel(),
        ElementwiseLoop.PARALLEL_MIN_ELEMENTS,
        (from, to) -> {
          for (long p = from; p < to; p++) {
            long src = in + p * h * w * es;
            for (int y = 0; y < oh; y++) {
              for (int x = 0; x < ow; x++) {
                int hs = y * g.strideH() - g.padH();
                int ws = x * g.strideW() - g.padW();
                double sum = 0;
                for (int yy = Math.max(hs, 0); yy < Math.min(hs + g.kernelH(), h); yy++) {
                  for (int xx = Math.max(ws, 0); xx < Math.min(ws + g.kernelW(), w); xx++) {
                    sum += TileIO.readDouble(t, src + ((long) yy * w + xx) * es);
                  }
                }
                TileIO.writeDouble(t, o + ((p * oh + y) * ow + x) * es, sum * scale);
              }
            }
          }
        });
  }

  static void avgPool2dBackward(NDArray gradOut, Pool2dGeometry g, NDArray gradInput) {
    DType t = gradInput.dtype();
    int es = t.byteSize();
    long go = base(gradOut);
    long gi = base(gradInput);
    int h = g.height();
    int w = g.width();
    int oh = g.outH();
    int ow = g.outW();
    double scale = 1.0 / (g.kernelH() * g.kernelW());
    long planes = gradOut.numel() / ((long) oh * ow);
    Parallel.range(
        planes,
        gradOut.numel(),
        ElementwiseLoop.PARALLEL_MIN_ELEMENTS,
        (from, to) -> {
          for (long p = from; p < to; p++) {
            long dst = gi + p * h * w * es;
            for (int y = 0; y < oh; y++) {
              for (int x = 0; x < ow; x++) {
                int hs = y * g.strideH() - g.padH();
                int ws = x * g.strideW() - g.padW();
                long s = go + ((p * oh + y) * ow + x) * es;
                for (int yy = Math.max(hs, 0); yy < Math.min(hs + g.kernelH(), h); yy++) {
                  for (int xx = Math.max(ws, 0); xx < Math.min(ws + g.kernelW(), w); xx++) {
                    add(t, dst + ((long) yy * w + xx) * es, s, scale);
                  }
                }
              }
            }
          }
        });
  }

  /** *dst += scale * *src. */
  private static void add(DType t, long dst, long src, double scale) {
    if (t == DType.FLOAT32) {
      UNSAFE.putFloat(dst, UNSAFE.getFloat(dst) + (float) (scale * UNSAFE.getFloat(src)));
    } else {
      UNSAFE.putDouble(dst, UNSAFE.getDouble(dst) + scale * UNSAFE.getDouble(src));
    }
  }
}
