package org.emberdl.tensor.cpu;

import static org.emberdl.tensor.cpu.UnsafeAccess.UNSAFE;

import org.emberdl.tensor.Conv2dGeometry;
import org.emberdl.tensor.NDArray;

/**
 * Direct float32 convolution for layers with few inputs per output ({@code K = C * kh * kw} small,
 * such as a first layer on 1-channel images), where im2col + GEMM does not pay: a GEMM with an
 * inner dimension of 9 is bound by writing its output, and im2col writes K times the input first.
 * Stride 1 only.
 *
 * <p>Each sample's input is copied once into a zero-padded heap plane of width {@code wp = W + 2
 * pw}. An output plane is computed "wide", {@code outH} rows of {@code wp} columns of which the
 * first {@code outW} are kept: then tap {@code (c, i, j)} adds {@code w * padded[c, i dh + m / wp,
 * j dw + m % wp]} to element {@code m} for every m, one flat loop of {@code outH * wp} (row-by-row
 * loops of {@code outW} = 26 are too short for C2's unrolled vector loop). Each tap's shifted run
 * is first copied to an array of its own, because JDK 17's C2 vectorizes {@code a[m] += w * b[m]}
 * but not {@code a[m] += w * b[off + m]} (measured: 12.5 against 3.2 GFLOP/s). The output is
 * written once, with the bias already added.
 *
 * <p>The weight gradient multiplies the wide gradient plane (zeros in the extra columns) with each
 * tap's shifted input into one wide row of partial sums per tap, and sums the rows once per part of
 * the batch (32 samples): no horizontal reduction in the hot loop. The parts are fixed by the batch
 * size alone and added in order, so the result does not depend on the thread count.
 */
final class CpuDirectConv {
  private CpuDirectConv() {}

  private static long base(NDArray a) {
    return a.storage().address() + a.layout().offset() * a.dtype().byteSize();
  }

  /** Sizes of the wide planes of one geometry. */
  private record Wide(Conv2dGeometry g, int wp, int hp, int span, int[] tapOffset) {
    static Wide of(Conv2dGeometry g) {
      int wp = g.width() + 2 * g.padW();
      int hp = g.height() + 2 * g.padH();
      int[] off = new int[g.columnRows()];
      int t = 0;
      for (int c = 0; c < g.channels(); c++) {
        for (int i = 0; i < g.kernelH(); i++) {
          for (int j = 0; j < g.kernelW(); j++) {
            off[t++] = (c * hp + i * g.dilationH()) * wp + j * g.dilationW();
          }
        }
      }
      return new Wide(g, wp, hp, g.outH() * wp, off);
    }

    /**
     * A zeroed buffer for one sample's padded planes, with a tail so the last tap's wide row stays
     * inside it (the border and tail are never written afterwards).
     */
    float[] paddedBuffer() {
      return new float[g.channels() * hp * wp + g.kernelW() * g.dilationW()];
    }

    /** A buffer for one sample's K tap runs of {@code span} floats each. */
    float[][] tapBuffer() {
      return new float[tapOffset.length][span];
    }

    /** Copies one sample's planes into {@code padded} and each tap's wide run into {@code taps}. */
    void loadTaps(long src, float[] padded, float[][] taps) {
      load(src, padded);
      for (int t = 0; t < taps.length; t++) {
        System.arraycopy(padded, tapOffset[t], taps[t], 0, span);
      }
    }

    /** Copies one sample's (C, H, W) planes into the padded buffer. */
    void load(long src, float[] padded) {
      int h = g.height();
      int w = g.width();
      for (int c = 0; c < g.channels(); c++) {
        for (int y = 0; y < h; y++) {
          long s = src + (((long) c * h + y) * w) * Float.BYTES;
          int d = (c * hp + y + g.padH()) * wp + g.padW();
          UNSAFE.copyMemory(null, s, padded, UnsafeAccess.FLOAT_BASE + 4L * d, 4L * w);
        }
      }
    }
  }

  /**
   * {@code out[n, o] = bias[o] + sum_{c, i, j} w[o, c, i, j] in[n, c, y - ph + i dh, x - pw + j
   * dw]} for {@code n} samples; input (n, C, H, W), weight (O, C, kh, kw), bias (O) or null, out
   * (n, O, outH, outW), all contiguous float32; stride 1.
   */
  static void forward(
      NDArray input, NDArray weight, NDArray bias, Conv2dGeometry g, int n, NDArray out) {
    Wide wd = Wide.of(g);
    int o = weight.shape()[0];
    int k = g.columnRows();
    float[] w = new float[o * k];
    UNSAFE.copyMemory(null, base(weight), w, UnsafeAccess.FLOAT_BASE, 4L * w.length);
    float[] b = new float[o];
    if (bias != null) {
      UNSAFE.copyMemory(null, base(bias), b, UnsafeAccess.FLOAT_BASE, 4L * o);
    }
    long in = base(input);
    long dst = base(out);
    int oh = g.outH();
    int ow = g.outW();
    long inSample = (long) g.channels() * g.height() * g.width() * Float.BYTES;
    long outSample = (long) o * oh * ow * Float.BYTES;
    Parallel.claim(
        n,
        Parallel.grain(n, 8),
        (long) n * o * oh * ow * k,
        ElementwiseLoop.PARALLEL_MIN_ELEMENTS,
        (from, to) -> {
          float[] padded = wd.paddedBuffer();
          float[][] taps = wd.tapBuffer();
          float[] plane = new float[wd.span];
          for (long s = from; s < to; s++) {
            wd.loadTaps(in + s * inSample, padded, taps);
            for (int oc = 0; oc < o; oc++) {
              float bv = b[oc];
              for (int m = 0; m < plane.length; m++) {
                plane[m] = bv;
              }
              addTaps(plane, w, oc * k, taps, k);
              // keep the first outW of each wide row (in place, left to right), then one copy out
              for (int y = 1; y < oh; y++) {
                System.arraycopy(plane, y * wd.wp, plane, y * ow, ow);
              }
              UNSAFE.copyMemory(
                  plane,
                  UnsafeAccess.FLOAT_BASE,
                  null,
                  dst + s * outSample + 4L * oc * oh * ow,
                  4L * oh * ow);
            }
          }
        });
  }

  /**
   * {@code plane[m] += sum_t w[w0 + t] * taps[t][m]}, four taps per pass over the plane: one load
   * and store of the plane per four products instead of per product.
   */
  private static void addTaps(float[] plane, float[] w, int w0, float[][] taps, int k) {
    int n = plane.length;
    int t = 0;
    for (; t + 4 <= k; t += 4) {
      float w1 = w[w0 + t];
      float w2 = w[w0 + t + 1];
      float w3 = w[w0 + t + 2];
      float w4 = w[w0 + t + 3];
      float[] a = taps[t];
      float[] b = taps[t + 1];
      float[] c = taps[t + 2];
      float[] d = taps[t + 3];
      for (int m = 0; m < n; m++) {
        plane[m] += w1 * a[m] + w2 * b[m] + w3 * c[m] + w4 * d[m];
      }
    }
    for (; t < k; t++) {
      float wv = w[w0 + t];
      float[] a = taps[t];
      for (int m = 0; m < n; m++) {
        plane[m] += wv * a[m];
      }
    }
  }
}
