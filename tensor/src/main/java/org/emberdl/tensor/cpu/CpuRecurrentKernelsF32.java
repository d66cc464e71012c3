package org.emberdl.tensor.cpu;

import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.cpu.CpuRecurrentKernels.Rows;

/**
 * The float32 path of {@link CpuRecurrentKernels}: the same gate math in float arithmetic (as
 * PyTorch's float32 cell), on heap rows in plain counted loops without calls, which C2
 * auto-vectorizes. The activations are {@link #tanh}'s rational approximation, not {@code
 * Math.exp}: a scalar exp per gate was most of an LSTM step.
 */
final class CpuRecurrentKernelsF32 {
  private CpuRecurrentKernelsF32() {}

  private static final ThreadLocal<float[][]> SCRATCH =
      ThreadLocal.withInitial(() -> new float[10][0]);

  private static float[][] scratch(int width) {
    float[][] s = SCRATCH.get();
    if (s[0].length < width) {
      for (int i = 0; i < s.length; i++) {
        s[i] = new float[width];
      }
    }
    return s;
  }

  // Eigen's generic_fast_tanh_float (also TensorFlow's): a 13/6 rational function on [-9, 9],
  // within 5e-7 of tanh (a few float ulps); outside, tanh is +-1 in float anyway.
  private static final float A1 = 4.89352455891786e-03f;
  private static final float A3 = 6.37261928875436e-04f;
  private static final float A5 = 1.48572235717979e-05f;
  private static final float A7 = 5.12229709037114e-08f;
  private static final float A9 = -8.60467152213735e-11f;
  private static final float A11 = 2.00018790482477e-13f;
  private static final float A13 = -2.76076847742355e-16f;
  private static final float B0 = 4.89352518554385e-03f;
  private static final float B2 = 2.26843463243900e-03f;
  private static final float B4 = 1.18534705686654e-04f;
  private static final float B6 = 1.19825839466702e-06f;

  /** tanh(x) within 5e-7, branch-free (so that loops calling it vectorize). */
  static float tanh(float v) {
    float x = Math.max(-9f, Math.min(9f, v));
    float x2 = x * x;
    float p = x2 * A13 + A11;
    p = p * x2 + A9;
    p = p * x2 + A7;
    p = p * x2 + A5;
    p = p * x2 + A3;
    p = p * x2 + A1;
    p = p * x;
    float q = x2 * B6 + B4;
    q = q * x2 + B2;
    q = q * x2 + B0;
    return p / q;
  }

  /** sigmoid(x) = (1 + tanh(x / 2)) / 2, absolute error below 3e-7. */
  static float sigmoid(float x) {
    return 0.5f * tanh(0.5f * x) + 0.5f;
  }

  private static float[] bias(NDArray a, int width) {
    float[] out = new float[width];
    if (a != null) {
      Rows.of(a, width).loadF(0, out);
    }
    return out;
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
    int batch = hPrev.shape(0);
    int h = hPrev.shape(1);
    int g = 4 * h;
    boolean[] ok = CpuRecurrentKernels.validRows(valid, batch);
    float[] bi = bias(bIh, g);
    float[] bh = bias(bHh, g);
    Rows xg = Rows.of(xGates, g);
    Rows hg = Rows.of(hGates, g);
    Rows hp = Rows.of(hPrev, h);
    Rows cp = Rows.of(cPrev, h);
    Rows ga = Rows.of(gates, g);
    Rows hn = Rows.of(hNext, h);
    Rows cn = Rows.of(cNext, h);
    Rows out = Rows.of(output, h);
    CpuRecurrentKernels.forRows(
        batch,
        (long) batch * g * 2,
        (from, to) -> {
          float[][] s = scratch(g);
          float[] a = s[0];
          float[] r = s[1];
          float[] c = s[2];
          float[] hv = s[3];
          for (long b = from; b < to; b++) {
            xg.loadF(b, a);
            hg.loadF(b, r);
            for (int j = 0; j < g; j++) {
              a[j] = (a[j] + bi[j]) + (r[j] + bh[j]);
            }
            for (int j = 0; j < 2 * h; j++) {
              a[j] = sigmoid(a[j]);
            }
            for (int j = 2 * h; j < 3 * h; j++) {
              a[j] = tanh(a[j]);
            }
            for (int j = 3 * h; j < g; j++) {
              a[j] = sigmoid(a[j]);
            }
            ga.storeF(b, a);
            if (!ok[(int) b]) {
              hp.copyRow(b, hn);
              cp.copyRow(b, cn);
              out.fill(b, 0);
              continue;
            }
            cp.loadF(b, c);
            for (int k = 0; k < h; k++) {
              float cy = a[h + k] * c[k] + a[k] * a[2 * h + k];
              c[k] = cy;
              hv[k] = a[3 * h + k] * tanh(cy);
            }
            cn.storeF(b, c);
            hn.storeF(b, hv);
            out.storeF(b, hv);
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
    int batch = cPrev.shape(0);
    int h = cPrev.shape(1);
    int g = 4 * h;
    boolean[] ok = CpuRecurrentKernels.validRows(valid, batch);
    Rows ga = Rows.of(gates, g);
    Rows cp = Rows.of(cPrev, h);
    Rows dOut = Rows.of(gradOutput, h);
    Rows dRec = Rows.of(gradHRec, h);
    Rows dCarry = Rows.of(gradHCarry, h);
    Rows dC = Rows.of(gradC, h);
    Rows dG = Rows.of(gradGates, g);
    CpuRecurrentKernels.forRows(
        batch,
        (long) batch * g * 2,
        (from, to) -> {
          float[][] s = scratch(g);
          float[] a = s[0];
          float[] d = s[1];
          float[] c = s[2];
          float[] dh = s[3];
          float[] tmp = s[4];
          float[] dc = s[5];
          for (long b = from; b < to; b++) {
            dCarry.loadF(b, dh);
            if (dRec != null) {
              dRec.loadF(b, tmp);
              for (int k = 0; k < h; k++) {
                dh[k] += tmp[k];
              }
            }
            if (!ok[(int) b]) {
              dCarry.storeF(b, dh);
              dG.fill(b, 0);
              continue;
            }
            if (dOut != null) {
              dOut.loadF(b, tmp);
              for (int k = 0; k < h; k++) {
                dh[k] += tmp[k];
              }
            }
            ga.loadF(b, a);
            cp.loadF(b, c);
            dC.loadF(b, dc);
            for (int k = 0; k < h; k++) {
              float i = a[k];
              float f = a[h + k];
              float gg = a[2 * h + k];
              float o = a[3 * h + k];
              float tc = tanh(f * c[k] + i * gg);
              float dct = dc[k] + dh[k] * o * (1 - tc * tc);
              d[k] = dct * gg * i * (1 - i);
              d[h + k] = dct * c[k] * f * (1 - f);
              d[2 * h + k] = dct * i * (1 - gg * gg);
              d[3 * h + k] = dh[k] * tc * o * (1 - o);
              dc[k] = dct * f;
              dh[k] = 0;
            }
            dG.storeF(b, d);
            dC.storeF(b, dc);
            dCarry.storeF(b, dh);
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
    int batch = hPrev.shape(0);
    int h = hPrev.shape(1);
    int g = 3 * h;
    boolean[] ok = CpuRecurrentKernels.validRows(valid, batch);
    float[] bi = bias(bIh, g);
    float[] bh = bias(bHh, g);
    Rows xg = Rows.of(xGates, g);
    Rows hg = Rows.of(hGates, g);
    Rows hp = Rows.of(hPrev, h);
    Rows ga = Rows.of(gates, g);
    Rows nb = Rows.of(hnb, h);
    Rows hn = Rows.of(hNext, h);
    Rows out = Rows.of(output, h);
    CpuRecurrentKernels.forRows(
        batch,
        (long) batch * g * 2,
        (from, to) -> {
          float[][] s = scratch(g);
          float[] a = s[0];
          float[] r = s[1];
          float[] hv = s[2];
          float[] hb = s[3];
          float[] nv = s[4];
          for (long b = from; b < to; b++) {
            xg.loadF(b, a);
            hg.loadF(b, r);
            hp.loadF(b, hv);
            for (int j = 0; j < 2 * h; j++) {
              a[j] = sigmoid((r[j] + bh[j]) + (a[j] + bi[j]));
            }
            for (int k = 0; k < h; k++) {
              float nh = r[2 * h + k] + bh[2 * h + k];
              hb[k] = nh;
              float n = tanh((a[2 * h + k] + bi[2 * h + k]) + a[k] * nh);
              a[2 * h + k] = n;
              nv[k] = (hv[k] - n) * a[h + k] + n;
            }
            ga.storeF(b, a);
            nb.storeF(b, hb);
            if (!ok[(int) b]) {
              hp.copyRow(b, hn);
              out.fill(b, 0);
              continue;
            }
            hn.storeF(b, nv);
            out.storeF(b, nv);
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
    int batch = hPrev.shape(0);
    int h = hPrev.shape(1);
    int g = 3 * h;
    boolean[] ok = CpuRecurrentKernels.validRows(valid, batch);
    Rows ga = Rows.of(gates, g);
    Rows nb = Rows.of(hnb, h);
    Rows hp = Rows.of(hPrev, h);
    Rows dOut = Rows.of(gradOutput, h);
    Rows dRec = Rows.of(gradHRec, h);
    Rows dCarry = Rows.of(gradHCarry, h);
    Rows dX = Rows.of(gradXGates, g);
    Rows dH = Rows.of(gradHGates, g);
    CpuRecurrentKernels.forRows(
        batch,
        (long) batch * g * 2,
        (from, to) -> {
          float[][] s = scratch(g);
          float[] a = s[0];
          float[] dx = s[1];
          float[] dhg = s[2];
          float[] dh = s[3];
          float[] tmp = s[4];
          float[] hb = s[5];
          float[] hv = s[6];
          for (long b = from; b < to; b++) {
            dCarry.loadF(b, dh);
            if (dRec != null) {
              dRec.loadF(b, tmp);
              for (int k = 0; k < h; k++) {
                dh[k] += tmp[k];
              }
            }
            if (!ok[(int) b]) {
              dCarry.storeF(b, dh);
              dX.fill(b, 0);
              dH.fill(b, 0);
              continue;
            }
            if (dOut != null) {
              dOut.loadF(b, tmp);
              for (int k = 0; k < h; k++) {
                dh[k] += tmp[k];
              }
            }
            ga.loadF(b, a);
            nb.loadF(b, hb);
            hp.loadF(b, hv);
            for (int k = 0; k < h; k++) {
              float r = a[k];
              float z = a[h + k];
              float n = a[2 * h + k];
              float dn = dh[k] * (1 - z);
              float dz = dh[k] * (hv[k] - n);
              float dnPre = dn * (1 - n * n);
              float drPre = dnPre * hb[k] * r * (1 - r);
              float dzPre = dz * z * (1 - z);
              dx[k] = drPre;
              dx[h + k] = dzPre;
              dx[2 * h + k] = dnPre;
              dhg[k] = drPre;
              dhg[h + k] = dzPre;
              dhg[2 * h + k] = dnPre * r;
              dh[k] = dh[k] * z;
            }
            dX.storeF(b, dx);
            dH.storeF(b, dhg);
            dCarry.storeF(b, dh);
          }
        });
  }
}
