package org.emberdl.tensor.cpu;

import static org.emberdl.tensor.cpu.UnsafeAccess.DOUBLE_BASE;
import static org.emberdl.tensor.cpu.UnsafeAccess.FLOAT_BASE;
import static org.emberdl.tensor.cpu.UnsafeAccess.UNSAFE;

import org.emberdl.tensor.DType;
import org.emberdl.tensor.NDArray;

/**
 * Fused kernels over the rows of a contiguous (rows, cols) array: layer norm and the last-dim
 * softmax, forward and backward, each one pass (or two) over a row while it sits in L1, instead of
 * the chain of reductions, broadcasts and elementwise ops (each a full pass over memory plus an
 * allocation) they are built from otherwise. A row is loaded into a double scratch row and computed
 * in double whatever the dtype, then rounded once on the way out, so float32 results are at least
 * as accurate as PyTorch's float-accumulated kernels.
 */
final class CpuRowKernels {
  /** Rows per parallel work unit are sized so that a unit has at least this many elements. */
  private static final long MIN_PARALLEL_ELEMENTS = 1 << 14;

  private CpuRowKernels() {}

  /** A row-loop body: rows [from, to) with per-thread scratch rows. */
  @FunctionalInterface
  private interface RowBody {
    void run(long from, long to, Rows io);
  }

  /** Per-range scratch: double rows and one float row for converting float32 data. */
  private static final class Rows {
    final int cols;
    final boolean f32;
    final float[] f;
    final double[] a;
    final double[] b;
    final double[] c;

    Rows(int cols, boolean f32) {
      this.cols = cols;
      this.f32 = f32;
      this.f = new float[cols];
      this.a = new double[cols];
      this.b = new double[cols];
      this.c = new double[cols];
    }

    /** Row {@code r} of the array at {@code base} into {@code dst}. */
    void load(long base, long r, double[] dst) {
      if (f32) {
        UNSAFE.copyMemory(null, base + r * cols * 4L, f, FLOAT_BASE, cols * 4L);
        for (int i = 0; i < cols; i++) {
          dst[i] = f[i];
        }
      } else {
        UNSAFE.copyMemory(null, base + r * cols * 8L, dst, DOUBLE_BASE, cols * 8L);
      }
    }

    /** {@code src} into row {@code r} of the array at {@code base}, rounded to its dtype. */
    void store(double[] src, long base, long r) {
      if (f32) {
        for (int i = 0; i < cols; i++) {
          f[i] = (float) src[i];
        }
        UNSAFE.copyMemory(f, FLOAT_BASE, null, base + r * cols * 4L, cols * 4L);
      } else {
        UNSAFE.copyMemory(src, DOUBLE_BASE, null, base + r * cols * 8L, cols * 8L);
      }
    }
  }

  static long address(NDArray a) {
    return a.storage().address() + a.layout().offset() * a.dtype().byteSize();
  }

  private static void forRows(long rows, int cols, boolean f32, RowBody body) {
    Parallel.range(
        rows,
        rows * cols,
        MIN_PARALLEL_ELEMENTS,
        (from, to) -> body.run(from, to, new Rows(cols, f32)));
  }

  /**
   * Layer norm of each row: {@code y = (x - mean) * rstd * weight + bias} with {@code rstd = 1 /
   * sqrt(var + eps)} (biased variance); writes {@code mean} and {@code rstd} per row for the
   * backward. {@code weight} and {@code bias} are (cols) or null.
   */
  static void layerNorm(
      NDArray x, NDArray weight, NDArray bias, double eps, NDArray y, NDArray mean, NDArray rstd) {
    int cols = (int) (x.numel() / mean.numel());
    long rows = mean.numel();
    boolean f32 = x.dtype() == DType.FLOAT32;
    double[] w = weight == null ? null : toDouble(weight);
    double[] b = bias == null ? null : toDouble(bias);
    long x0 = address(x);
    long y0 = address(y);
    long m0 = address(mean);
    long s0 = address(rstd);
    forRows(
        rows,
        cols,
        f32,
        (from, to, io) -> {
          double[] row = io.a;
          for (long r = from; r < to; r++) {
            io.load(x0, r, row);
            double sum = 0;
            for (int i = 0; i < cols; i++) {
              sum += row[i];
            }
            double mu = sum / cols;
            // two passes over the row in L1: the centred sum of squares has no cancellation
            double ss = 0;
            for (int i = 0; i < cols; i++) {
              double c = row[i] - mu;
              row[i] = c;
              ss += c * c;
            }
            double inv = 1 / Math.sqrt(ss / cols + eps);
            for (int i = 0; i < cols; i++) {
              row[i] *= inv;
            }
            if (w != null) {
              for (int i = 0; i < cols; i++) {
                row[i] *= w[i];
              }
            }
            if (b != null) {
              for (int i = 0; i < cols; i++) {
                row[i] += b[i];
              }
            }
            io.store(row, y0, r);
            putScalar(m0, r, f32, mu);
            putScalar(s0, r, f32, inv);
          }
        });
  }

  /**
   * Layer norm's backward: with {@code xhat = (x - mean) * rstd} and {@code gh = grad * weight},
   * {@code dx = rstd * (gh - mean(gh) - xhat * mean(gh * xhat))}; {@code dweight = sum over rows of
   * grad * xhat} and {@code dbias = sum of grad} when those outputs are non-null (then zeroed
   * (cols) arrays of x's dtype).
   */
  static void layerNormBackward(
      NDArray grad,
      NDArray x,
      NDArray mean,
      NDArray rstd,
      NDArray weight,
      NDArray dx,
      NDArray dweight,
      NDArray dbias) {
    int cols = (int) (x.numel() / mean.numel());
    long rows = mean.numel();
    boolean f32 = x.dtype() == DType.FLOAT32;
    double[] w = weight == null ? null : toDouble(weight);
    long g0 = address(grad);
    long x0 = address(x);
    long m0 = address(mean);
    long s0 = address(rstd);
    long dx0 = address(dx);
    boolean params = dweight != null || dbias != null;
    int parts = params ? Math.max(1, (int) Math.min(rows, 64)) : 1;
    // the parameter gradients are sums over rows: each fixed block of rows sums into its own
    // partial row, and the blocks are added in order, so the result does not depend on threads
    double[][] dw = params ? new double[parts][cols] : null;
    double[][] db = params ? new double[parts][cols] : null;
    long perPart = (rows + parts - 1) / parts;
    Parallel.range(
        parts,
        rows * cols,
        MIN_PARALLEL_ELEMENTS,
        (pFrom, pTo) -> {
          Rows io = new Rows(cols, f32);
          double[] g = io.a;
          double[] xh = io.b;
          double[] out = io.c;
          for (long p = pFrom; p < pTo; p++) {
            long end = Math.min(rows, (p + 1) * perPart);
            for (long r = p * perPart; r < end; r++) {
              io.load(g0, r, g);
              io.load(x0, r, xh);
              double mu = getScalar(m0, r, f32);
              double inv = getScalar(s0, r, f32);
              double sumGh = 0;
              double sumGhXh = 0;
              for (int i = 0; i < cols; i++) {
                double xhat = (xh[i] - mu) * inv;
                xh[i] = xhat;
                double gh = w == null ? g[i] : g[i] * w[i];
                out[i] = gh;
                sumGh += gh;
                sumGhXh += gh * xhat;
              }
              if (params) {
                double[] pw = dw[(int) p];
                double[] pb = db[(int) p];
                for (int i = 0; i < cols; i++) {
                  pw[i] += g[i] * xh[i];
                  pb[i] += g[i];
                }
              }
              double meanGh = sumGh / cols;
              double meanGhXh = sumGhXh / cols;
              for (int i = 0; i < cols; i++) {
                out[i] = inv * (out[i] - meanGh - xh[i] * meanGhXh);
              }
              io.store(out, dx0, r);
            }
          }
        });
    if (params) {
      for (int p = 1; p < parts; p++) {
        for (int i = 0; i < cols; i++) {
          dw[0][i] += dw[p][i];
          db[0][i] += db[p][i];
        }
      }
      if (dweight != null) {
        fromDouble(dw[0], dweight);
      }
      if (dbias != null) {
        fromDouble(db[0], dbias);
      }
    }
  }

  /**
   * {@code y = softmax(scale * x)} along each row: max, exp of the shifted values and their sum in
   * one pass, the division in a second. A row whose max is {@code -inf} (every entry masked) gives
   * NaN, as PyTorch's.
   */
  static void softmax(NDArray x, double scale, NDArray y, int cols) {
    long rows = x.numel() / cols;
    boolean f32 = x.dtype() == DType.FLOAT32;
    long x0 = address(x);
    long y0 = address(y);
    if (f32) {
      float s = (float) scale;
      forRows(
          rows,
          cols,
          true,
          (from, to, io) -> {
            float[] row = io.f;
            for (long r = from; r < to; r++) {
              UNSAFE.copyMemory(null, x0 + r * cols * 4L, row, FLOAT_BASE, cols * 4L);
              float max = Float.NEGATIVE_INFINITY;
              for (int i = 0; i < cols; i++) {
                max = Math.max(max, row[i]);
              }
              // max(s x) = s max(x) for s > 0; for other scales take the max of the products
              float shift = s > 0 ? s * max : scaledMax(row, cols, s);
              double sum = 0;
              for (int i = 0; i < cols; i++) {
                float e = FastExp.exp(row[i] * s - shift);
                row[i] = e;
                sum += e;
              }
              float inv = (float) (1 / sum);
              for (int i = 0; i < cols; i++) {
                row[i] *= inv;
              }
              UNSAFE.copyMemory(row, FLOAT_BASE, null, y0 + r * cols * 4L, cols * 4L);
            }
          });
      return;
    }
    forRows(
        rows,
        cols,
        false,
        (from, to, io) -> {
          double[] row = io.a;
          for (long r = from; r < to; r++) {
            io.load(x0, r, row);
            double max = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < cols; i++) {
              row[i] *= scale;
              max = Math.max(max, row[i]);
            }
            double sum = 0;
            for (int i = 0; i < cols; i++) {
              double e = Math.exp(row[i] - max);
              row[i] = e;
              sum += e;
            }
            double inv = 1 / sum;
            for (int i = 0; i < cols; i++) {
              row[i] *= inv;
            }
            io.store(row, y0, r);
          }
        });
  }

  private static float scaledMax(float[] row, int cols, float s) {
    float max = Float.NEGATIVE_INFINITY;
    for (int i = 0; i < cols; i++) {
      max = Math.max(max, row[i] * s);
    }
    return max;
  }

  /** Softmax's backward along each row: {@code dx = scale * y * (g - sum(g * y))}. */
  static void softmaxBackward(NDArray grad, NDArray y, double scale, NDArray dx, int cols) {
    long rows = y.numel() / cols;
    boolean f32 = y.dtype() == DType.FLOAT32;
    long g0 = address(grad);
    long y0 = address(y);
    long d0 = address(dx);
    if (f32) {
      float s = (float) scale;
      Parallel.range(
          rows,
          rows * cols,
          MIN_PARALLEL_ELEMENTS,
          (from, to) -> {
            float[] g = new float[cols];
            float[] yy = new float[cols];
            for (long r = from; r < to; r++) {
              UNSAFE.copyMemory(null, g0 + r * cols * 4L, g, FLOAT_BASE, cols * 4L);
              UNSAFE.copyMemory(null, y0 + r * cols * 4L, yy, FLOAT_BASE, cols * 4L);
              double dot = 0;
              for (int i = 0; i < cols; i++) {
                dot += g[i] * yy[i];
              }
              float d = (float) dot;
              for (int i = 0; i < cols; i++) {
                g[i] = s * yy[i] * (g[i] - d);
              }
              UNSAFE.copyMemory(g, FLOAT_BASE, null, d0 + r * cols * 4L, cols * 4L);
            }
          });
      return;
    }
    forRows(
        rows,
        cols,
        false,
        (from, to, io) -> {
          double[] g = io.a;
          double[] yy = io.b;
          for (long r = from; r < to; r++) {
            io.load(g0, r, g);
            io.load(y0, r, yy);
            double dot = 0;
            for (int i = 0; i < cols; i++) {
              dot += g[i] * yy[i];
            }
            for (int i = 0; i < cols; i++) {
              g[i] = scale * yy[i] * (g[i] - dot);
            }
            io.store(g, d0, r);
          }
        });
  }

  private static double getScalar(long base, long i, boolean f32) {
    return f32 ? UNSAFE.getFloat(base + i * 4) : UNSAFE.getDouble(base + i * 8);
  }

  private static void putScalar(long base, long i, boolean f32, double v) {
    if (f32) {
      UNSAFE.putFloat(base + i * 4, (float) v);
    } else {
      UNSAFE.putDouble(base + i * 8, v);
    }
  }

  private static double[] toDouble(NDArray a) {
    int n = (int) a.numel();
    boolean f32 = a.dtype() == DType.FLOAT32;
    long base = address(a);
    double[] out = new double[n];
    for (int i = 0; i < n; i++) {
      out[i] = getScalar(base, i, f32);
    }
    return out;
  }

  private static void fromDouble(double[] v, NDArray a) {
    boolean f32 = a.dtype() == DType.FLOAT32;
    long base = address(a);
    for (int i = 0; i < v.length; i++) {
      putScalar(base, i, f32, v[i]);
    }
  }
}
