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
    DType t = input.dtype();
    int es = t.byteSize();
    long in = base(input);
    long col = base(columns);
    int oh = g.outH();
    int ow = g.outW();
    int kk = g.kernelH() * g.kernelW();
    Parallel.range(
        (long) g.channels() * kk,
        (long) g.columnRows() * g.columnCols(),
        ElementwiseLoop.PARALLEL_MIN_ELEMENTS,
        (from, to) -> {
          for (long row = from; row < to; row++) {
            int c = (int) (row / kk);
            int i = (int) (row % kk) / g.kernelW();
            int j = (int) (row % kk) % g.kernelW();
            long dstRow = col + row * oh * ow * es;
            for (int y = 0; y < oh; y++) {
              int h = y * g.strideH() - g.padH() + i * g.dilationH();
              long dst = dstRow + (long) y * ow * es;
              if (h < 0 || h >= g.height()) {
                UNSAFE.setMemory(dst, (long) ow * es, (byte) 0);
                continue;
              }
              long srcRow = in + ((long) c * g.height() + h) * g.width() * es;
              int w0 = -g.padW() + j * g.dilationW();
              if (g.strideW() == 1 && w0 >= 0 && w0 + ow <= g.width()) {
                UNSAFE.copyMemory(srcRow + (long) w0 * es, dst, (long) ow * es);
                continue;
              }
              for (int x = 0; x < ow; x++) {
                int w = x * g.strideW() + w0;
                long d = dst + (long) x * es;
                if (w < 0 || w >= g.width()) {
                  TileIO.writeDouble(t, d, 0);
                } else {
                  copy(t, srcRow + (long) w * es, d);
                }
              }
            }
          }
        });
  }

  /** image[c, h, w] += columns[(c, i, j), (oh, ow)] over every position that im2col read. */
  static void col2im(NDArray columns, Conv2dGeometry g, NDArray image) {
    DType t = image.dtype();
    int es = t.byteSize();
    long img = base(image);
    long col = base(columns);
    int oh = g.outH();
    int ow = g.outW();
    int kk = g.kernelH() * g.kernelW();
    // Parallel over channels: two channels never write the same image element.
    Parallel.range(
        g.channels(),
        (long) g.columnRows() * g.columnCols(),
        ElementwiseLoop.PARALLEL_MIN_ELEMENTS,
        (from, to) -> {
          for (long c = from; c < to; c++) {
            for (int r = 0; r < kk; r++) {
              int i = r / g.kernelW();
              int j = r % g.kernelW();
              long srcRow = col + ((c * kk + r) * oh * ow) * es;
              for (int y = 0; y < oh; y++) {
                int h = y * g.strideH() - g.padH() + i * g.dilationH();
                if (h < 0 || h >= g.height()) {
                  continue;
                }
                long dstRow = img + ((c * g.height() + h) * g.width()) * es;
                for (int x = 0; x < ow; x++) {
                  int w = x * g.strideW() - g.padW() + j * g.dilationW();
                  if (w >= 0 && w < g.width()) {
                    long d = dstRow + (long) w * es;
                    long s = srcRow + ((long) y * ow + x) * es;
                    add(t, d, s, 1.0);
                  }
                }
              }
            }
          }
        });
  }

  static void maxPool2d(NDArray input, Pool2dGeometry g, NDArray out, NDArray indices) {
    DType t = input.dtype();
    int es = t.byteSize();
    long in = base(input);
    long o = base(out);
    long idx = base(indices);
    int h = g.height();
    int w = g.width();
    int oh = g.outH();
    int ow = g.outW();
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
                double best = Double.NEGATIVE_INFINITY;
                long bestIdx = -1;
                for (int yy = Math.max(hs, 0); yy < Math.min(hs + g.kernelH(), h); yy++) {
                  for (int xx = Math.max(ws, 0); xx < Math.min(ws + g.kernelW(), w); xx++) {
                    long k = (long) yy * w + xx;
                    double v = TileIO.readDouble(t, src + k * es);
                    // NaN wins and sticks, as in PyTorch
                    if (bestIdx < 0 || v > best || Double.isNaN(v) && !Double.isNaN(best)) {
                      best = v;
                      bestIdx = k;
                    }
                  }
                }
                long oi = (p * oh + y) * ow + x;
                TileIO.writeDouble(t, o + oi * es, best);
                UNSAFE.putLong(idx + oi * 8, bestIdx);
              }
            }
          }
        });
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
              add(t, gi + (p * planeIn + target) * es, go + oi * es, 1.0);
            }
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

  private static void copy(DType t, long from, long to) {
    if (t.byteSize() == 8) {
      UNSAFE.putLong(to, UNSAFE.getLong(from));
    } else {
      UNSAFE.putInt(to, UNSAFE.getInt(from));
    }
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
