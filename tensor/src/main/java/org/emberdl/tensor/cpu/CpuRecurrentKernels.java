package org.emberdl.tensor.cpu;

import static org.emberdl.tensor.cpu.UnsafeAccess.DOUBLE_BASE;
import static org.emberdl.tensor.cpu.UnsafeAccess.FLOAT_BASE;
import static org.emberdl.tensor.cpu.UnsafeAccess.UNSAFE;

import org.emberdl.tensor.DType;
import org.emberdl.tensor.NDArray;

/**
 * The fused gate math of one LSTM or GRU time step (see {@link org.emberdl.tensor.Backend#lstmCell}
 * and its siblings): one pass over a batch row's gates instead of a dozen elementwise ops, each a
 * full pass over memory with its own output array. Rows are split over Ember's pool. Arrays are
 * contiguous. This class is the float64 path, exact to a few ulps (PyTorch's float64 agrees to
 * 1e-12); float32 goes to {@link CpuRecurrentKernelsF32}, which C2 vectorizes.
 */
final class CpuRecurrentKernels {
  private CpuRecurrentKernels() {}

  /** Per-thread scratch rows, grown to the largest gate width seen. */
  private static final ThreadLocal<double[][]> SCRATCH =
      ThreadLocal.withInitial(() -> new double[8][0]);

  private static final ThreadLocal<float[][]> FLOATS =
      ThreadLocal.withInitial(() -> new float[1][0]);

  private static float[] floats(int width) {
    float[][] f = FLOATS.get();
    if (f[0].length < width) {
      f[0] = new float[width];
    }
    return f[0];
  }

  private static double[][] scratch(int width) {
    double[][] s = SCRATCH.get();
    if (s[0].length < width) {
      for (int i = 0; i < s.length; i++) {
        s[i] = new double[width];
      }
    }
    return s;
  }

  /** One contiguous array seen as rows of {@code width} elements. */
  record Rows(long base, boolean f32, int width) {
    static Rows of(NDArray a, int width) {
      if (a == null) {
        return null;
      }
      int size = a.dtype().byteSize();
      return new Rows(
          a.storage().address() + a.layout().offset() * size, a.dtype() == DType.FLOAT32, width);
    }

    long at(long row) {
      return base + row * width * (f32 ? 4L : 8L);
    }

    // bulk copies through heap arrays: C2 vectorizes the widening loop, not per-element Unsafe
    void load(long row, double[] dst, int off) {
      long p = at(row);
      if (f32) {
        float[] f = floats(width);
        UNSAFE.copyMemory(null, p, f, FLOAT_BASE, 4L * width);
        for (int i = 0; i < width; i++) {
          dst[off + i] = f[i];
        }
      } else {
        UNSAFE.copyMemory(null, p, dst, DOUBLE_BASE + 8L * off, 8L * width);
      }
    }

    void store(long row, double[] src, int off) {
      long p = at(row);
      if (f32) {
        float[] f = floats(width);
        for (int i = 0; i < width; i++) {
          f[i] = (float) src[off + i];
        }
        UNSAFE.copyMemory(f, FLOAT_BASE, null, p, 4L * width);
      } else {
        UNSAFE.copyMemory(src, DOUBLE_BASE + 8L * off, null, p, 8L * width);
      }
    }

    void loadF(long row, float[] dst) {
      UNSAFE.copyMemory(null, at(row), dst, FLOAT_BASE, 4L * width);
    }

    void storeF(long row, float[] src) {
      UNSAFE.copyMemory(src, FLOAT_BASE, null, at(row), 4L * width);
    }

    void fill(long row, double v) {
      long p = at(row);
      for (int i = 0; i < width; i++) {
        if (f32) {
          UNSAFE.putFloat(p + 4L * i, (float) v);
        } else {
          UNSAFE.putDouble(p + 8L * i, v);
        }
      }
    }

    /** Copies row {@code row} of this into row {@code row} of {@code dst} (same dtype). */
    void copyRow(long row, Rows dst) {
      UNSAFE.copyMemory(at(row), dst.at(row), width * (f32 ? 4L : 8L));
    }
  }

  static boolean[] validRows(NDArray valid, int rows) {
    boolean[] v = new boolean[rows];
    if (valid == null) {
      java.util.Arrays.fill(v, true);
      return v;
    }
    long p = valid.storage().address() + valid.layout().offset();
    for (int b = 0; b < rows; b++) {
      v[b] = UNSAFE.getByte(p + b) != 0;
    }
    return v;
  }

  /** An optional bias vector's values, or zeros. */
  private static double[] bias(NDArray a, int width) {
    double[] out = new double[width];
    if (a != null) {
      Rows.of(a, width).load(0, out, 0);
    }
    return out;
  }

  private static double sigmoid(double x) {
    return 1.0 / (1.0 + Math.exp(-x));
  }

  /**
   * tanh through the {@code Math.exp} intrinsic: Java 17's {@code Math.tanh} is the software fdlibm
   * routine and cost a third of an LSTM step. The absolute error stays within a few ulps of 1
   * (relative error grows only for |x| below ~1e-8, where the value itself is tiny); 2x past the
   * exp overflow gives exactly +-1.
   */
  private static double tanh(double x) {
    return 1.0 - 2.0 / (Math.exp(2 * x) + 1.0);
  }

  static void forRows(int rows, long work, Parallel.RangeBody body) {
    Parallel.range(rows, work, ElementwiseLoop.PARALLEL_MIN_ELEMENTS, body);
  }

  static void lstmCell(
      NDArray xGates,
      NDArray hGates,
      NDArray bIh,
      NDArray bHh,
      NDArray hPrev,
      NDArray cPrev,
      NDArray valid,
      NDArray gates,
      NDArray hNext,
      NDArray cNext,
      NDArray output) {
    if (hPrev.dtype() == DType.FLOAT32) {
      CpuRecurrentKernelsF32.lstmCell(
          xGates, hGates, bIh, bHh, hPrev, cPrev, valid, gates, hNext, cNext, output);
      return;
    }
    int batch = hPrev.shape(0);
    int h = hPrev.shape(1);
    int g = 4 * h;
    boolean[] ok = validRows(valid, batch);
    double[] bi = bias(bIh, g);
    double[] bh = bias(bHh, g);
    Rows xg = Rows.of(xGates, g);
    Rows hg = Rows.of(hGates, g);
    Rows hp = Rows.of(hPrev, h);
    Rows cp = Rows.of(cPrev, h);
    Rows ga = Rows.of(gates, g);
    Rows hn = Rows.of(hNext, h);
    Rows cn = Rows.of(cNext, h);
    Rows out = Rows.of(output, h);
    forRows(
        batch,
        (long) batch * g * 8,
        (from, to) -> {
          double[][] s = scratch(g);
          double[] a = s[0];
          double[] r = s[1];
          double[] c = s[2];
          double[] hv = s[3];
          for (long b = from; b < to; b++) {
            xg.load(b, a, 0);
            hg.load(b, r, 0);
            for (int j = 0; j < g; j++) {
              double pre = (a[j] + bi[j]) + (r[j] + bh[j]);
              a[j] = j >= 2 * h && j < 3 * h ? tanh(pre) : sigmoid(pre);
            }
            ga.store(b, a, 0);
            if (!ok[(int) b]) {
              hp.copyRow(b, hn);
              cp.copyRow(b, cn);
              out.fill(b, 0);
              continue;
            }
            cp.load(b, c, 0);
            for (int k = 0; k < h; k++) {
              // PyTorch's order: cy = f * cx + i * g; hy = o * tanh(cy)
              double cy = a[h + k] * c[k] + a[k] * a[2 * h + k];
              c[k] = cy;
              hv[k] = a[3 * h + k] * tanh(cy);
            }
            cn.store(b, c, 0);
            hn.store(b, hv, 0);
            out.store(b, hv, 0);
          }
        });
  }

  static void lstmCellBackward(
      NDArray gates,
      NDArray cPrev,
      NDArray valid,
      NDArray gradOutput,
      NDArray gradHRec,
      NDArray gradHCarry,
      NDArray gradC,
      NDArray gradGates) {
    if (cPrev.dtype() == DType.FLOAT32) {
      CpuRecurrentKernelsF32.lstmCellBackward(
          gates, cPrev, valid, gradOutput, gradHRec, gradHCarry, gradC, gradGates);
      return;
    }
    int batch = cPrev.shape(0);
    int h = cPrev.shape(1);
    int g = 4 * h;
    boolean[] ok = validRows(valid, batch);
    Rows ga = Rows.of(gates, g);
    Rows cp = Rows.of(cPrev, h);
    Rows dOut = Rows.of(gradOutput, h);
    Rows dRec = Rows.of(gradHRec, h);
    Rows dCarry = Rows.of(gradHCarry, h);
    Rows dC = Rows.of(gradC, h);
    Rows dG = Rows.of(gradGates, g);
    forRows(
        batch,
        (long) batch * g * 4,
        (from, to) -> {
          double[][] s = scratch(g);
          double[] a = s[0];
          double[] d = s[1];
          double[] c = s[2];
          double[] dh = s[3];
          double[] tmp = s[4];
          double[] dc = s[5];
          for (long b = from; b < to; b++) {
            dCarry.load(b, dh, 0);
            if (dRec != null) {
              dRec.load(b, tmp, 0);
              for (int k = 0; k < h; k++) {
                dh[k] += tmp[k];
              }
            }
            if (!ok[(int) b]) {
              dCarry.store(b, dh, 0);
              dG.fill(b, 0);
              continue;
            }
            if (dOut != null) {
              dOut.load(b, tmp, 0);
              for (int k = 0; k < h; k++) {
                dh[k] += tmp[k];
              }
            }
            ga.load(b, a, 0);
            cp.load(b, c, 0);
            dC.load(b, dc, 0);
            for (int k = 0; k < h; k++) {
              double i = a[k];
              double f = a[h + k];
              double gg = a[2 * h + k];
              double o = a[3 * h + k];
              double tc = tanh(f * c[k] + i * gg);
              double dct = dc[k] + dh[k] * o * (1 - tc * tc);
              d[k] = dct * gg * i * (1 - i);
              d[h + k] = dct * c[k] * f * (1 - f);
              d[2 * h + k] = dct * i * (1 - gg * gg);
              d[3 * h + k] = dh[k] * tc * o * (1 - o);
              dc[k] = dct * f;
              dh[k] = 0;
            }
            dG.store(b, d, 0);
            dC.store(b, dc, 0);
            dCarry.store(b, dh, 0);
          }
        });
  }

  static void gruCell(
      NDArray xGates,
      NDArray hGates,
      NDArray bIh,
      NDArray bHh,
      NDArray hPrev,
      NDArray valid,
      NDArray gates,
      NDArray hnb,
      NDArray hNext,
      NDArray output) {
    if (hPrev.dtype() == DType.FLOAT32) {
      CpuRecurrentKernelsF32.gruCell(
          xGates, hGates, bIh, bHh, hPrev, valid, gates, hnb, hNext, output);
      return;
    }
    int batch = hPrev.shape(0);
    int h = hPrev.shape(1);
    int g = 3 * h;
    boolean[] ok = validRows(valid, batch);
    double[] bi = bias(bIh, g);
    double[] bh = bias(bHh, g);
    Rows xg = Rows.of(xGates, g);
    Rows hg = Rows.of(hGates, g);
    Rows hp = Rows.of(hPrev, h);
    Rows ga = Rows.of(gates, g);
    Rows nb = Rows.of(hnb, h);
    Rows hn = Rows.of(hNext, h);
    Rows out = Rows.of(output, h);
    forRows(
        batch,
        (long) batch * g * 8,
        (from, to) -> {
          double[][] s = scratch(g);
          double[] a = s[0];
          double[] r = s[1];
          double[] hv = s[2];
          double[] hb = s[3];
          for (long b = from; b < to; b++) {
            xg.load(b, a, 0);
            hg.load(b, r, 0);
            hp.load(b, hv, 0);
            for (int k = 0; k < h; k++) {
              // PyTorch's GRU cell: r and z from (W_h h + b_h) + (W_i x + b_i);
              // n = tanh((W_in x + b_in) + r * (W_hn h + b_hn)); h' = (h - n) * z + n
              double rr = sigmoid((r[k] + bh[k]) + (a[k] + bi[k]));
              double z = sigmoid((r[h + k] + bh[h + k]) + (a[h + k] + bi[h + k]));
              double nh = r[2 * h + k] + bh[2 * h + k];
              double n = tanh((a[2 * h + k] + bi[2 * h + k]) + rr * nh);
              a[k] = rr;
              a[h + k] = z;
              a[2 * h + k] = n;
              hb[k] = nh;
              r[k] = (hv[k] - n) * z + n;
            }
            ga.store(b, a, 0);
            nb.store(b, hb, 0);
            if (!ok[(int) b]) {
              hp.copyRow(b, hn);
              out.fill(b, 0);
              continue;
            }
            hn.store(b, r, 0);
            out.store(b, r, 0);
          }
        });
  }

  static void gruCellBackward(
      NDArray gates,
      NDArray hnb,
      NDArray hPrev,
      NDArray valid,
      NDArray gradOutput,
      NDArray gradHRec,
      NDArray gradHCarry,
      NDArray gradXGates,
      NDArray gradHGates) {
    if (hPrev.dtype() == DType.FLOAT32) {
      CpuRecurrentKernelsF32.gruCellBackward(
          gates, hnb, hPrev, valid, gradOutput, gradHRec, gradHCarry, gradXGates, gradHGates);
      return;
    }
    int batch = hPrev.shape(0);
    int h = hPrev.shape(1);
    int g = 3 * h;
    boolean[] ok = validRows(valid, batch);
    Rows ga = Rows.of(gates, g);
    Rows nb = Rows.of(hnb, h);
    Rows hp = Rows.of(hPrev, h);
    Rows dOut = Rows.of(gradOutput, h);
    Rows dRec = Rows.of(gradHRec, h);
    Rows dCarry = Rows.of(gradHCarry, h);
    Rows dX = Rows.of(gradXGates, g);
    Rows dH = Rows.of(gradHGates, g);
    forRows(
        batch,
        (long) batch * g * 4,
        (from, to) -> {
          double[][] s = scratch(g);
          double[] a = s[0];
          double[] dx = s[1];
          double[] dhg = s[2];
          double[] dh = s[3];
          double[] tmp = s[4];
          double[] hb = s[5];
          double[] hv = s[6];
          for (long b = from; b < to; b++) {
            dCarry.load(b, dh, 0);
            if (dRec != null) {
              dRec.load(b, tmp, 0);
              for (int k = 0; k < h; k++) {
                dh[k] += tmp[k];
              }
            }
            if (!ok[(int) b]) {
              dCarry.store(b, dh, 0);
              dX.fill(b, 0);
              dH.fill(b, 0);
              continue;
            }
            if (dOut != null) {
              dOut.load(b, tmp, 0);
              for (int k = 0; k < h; k++) {
                dh[k] += tmp[k];
              }
            }
            ga.load(b, a, 0);
            nb.load(b, hb, 0);
            hp.load(b, hv, 0);
            for (int k = 0; k < h; k++) {
              double r = a[k];
              double z = a[h + k];
              double n = a[2 * h + k];
              double dn = dh[k] * (1 - z);
              double dz = dh[k] * (hv[k] - n);
              double dnPre = dn * (1 - n * n);
              double drPre = dnPre * hb[k] * r * (1 - r);
              double dzPre = dz * z * (1 - z);
              dx[k] = drPre;
              dx[h + k] = dzPre;
              dx[2 * h + k] = dnPre;
              dhg[k] = drPre;
              dhg[h + k] = dzPre;
              dhg[2 * h + k] = dnPre * r;
              dh[k] = dh[k] * z;
            }
            dX.store(b, dx, 0);
            dH.store(b, dhg, 0);
            dCarry.store(b, dh, 0);
          }
        });
  }
}
