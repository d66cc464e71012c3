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

  /** A row-loop body: rows [from, to) with per-thread scratch blocks. */
  @FunctionalInterface
  private interface RowBody {
    void run(long from, long to, Rows io);
  }

  /**
   * Per-range scratch for blocks of whole rows: three double blocks and one float block. Rows move
   * between off-heap memory and these arrays a block at a time (one {@code copyMemory} of up to
   * {@link Workspace#TILE} elements): a copy per row would cost more than the row's arithmetic, as
   * the attention softmax's rows are only T = 17 elements long.
   */
  private static final class Rows {
    final int cols;
    final int block;
    final boolean f32;
    final float[] f;
    final double[] a;
    final double[] b;
    final double[] c;

    Rows(int cols, boolean f32) {
      this.cols = cols;
      this.f32 = f32;
      this.block = Math.max(1, Workspace.TILE / Math.max(1, cols));
      int n = block * cols;
      this.f = new float[n];
      this.a = new double[n];
      this.b = new double[n];
      this.c = new double[n];
    }

    /** Rows {@code [r, r + n)} of the array at {@code base} into {@code dst}. */
    void load(long base, long r, int n, double[] dst) {
      int len = n * cols;
      if (f32) {
        UNSAFE.copyMemory(null, base + r * cols * 4L, f, FLOAT_BASE, len * 4L);
        for (int i = 0; i < len; i++) {
          dst[i] = f[i];
        }
      } else {
        UNSAFE.copyMemory(null, base + r * cols * 8L, dst, DOUBLE_BASE, len * 8L);
      }
    }

    /** {@code src} into rows {@code [r, r + n)} of the array at {@code base}, in its dtype. */
    void store(double[] src, long base, long r, int n) {
      int len = n * cols;
      if (f32) {
        for (int i = 0; i < len; i++) {
          f[i] = (float) src[i];
        }
        UNSAFE.copyMemory(f, FLOAT_BASE, null, base + r * cols * 4L, len * 4L);
      } else {
        UNSAFE.copyMemory(src, DOUBLE_BASE, null, base + r * cols * 8L, len * 8L);
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
          double[] v = io.a;
          for (long r0 = from; r0 < to; r0 += io.block) {
            int n = (int) Math.min(io.block, to - r0);
            io.load(x0, r0, n, v);
            for (int j = 0; j < n; j++) {
              int o = j * cols;
              double mu = sum4(v, o, cols) / cols;
              // two passes over the row in L1: the centred sum of squares has no cancellation
              for (int i = 0; i < cols; i++) {
                v[o + i] -= mu;
              }
              double inv = 1 / Math.sqrt(sumSquares4(v, o, cols) / cols + eps);
              if (w == null) {
                for (int i = 0; i < cols; i++) {
                  v[o + i] *= inv;
                }
              } else {
                for (int i = 0; i < cols; i++) {
                  v[o + i] = v[o + i] * inv * w[i];
                }
              }
              if (b != null) {
                for (int i = 0; i < cols; i++) {
                  v[o + i] += b[i];
                }
              }
              putScalar(m0, r0 + j, f32, mu);
              putScalar(s0, r0 + j, f32, inv);
            }
            io.store(v, y0, r0, n);
          }
        });
  }

  /**
   * {@code v[o] + ... + v[o + n - 1]} in four interleaved partial sums, added pairwise at the end:
   * a single running sum is one long chain of dependent adds (4 cycles each), four chains run in
   * parallel.
   */
  private static double sum4(double[] v, int o, int n) {
    double s0 = 0;
    double s1 = 0;
    double s2 = 0;
    double s3 = 0;
    int i = 0;
    for (; i + 3 < n; i += 4) {
      s0 += v[o + i];
      s1 += v[o + i + 1];
      s2 += v[o + i + 2];
      s3 += v[o + i + 3];
    }
    for (; i < n; i++) {
      s0 += v[o + i];
    }
    return (s0 + s1) + (s2 + s3);
  }

  /** {@code a[o .. o + n) . b[o .. o + n)}, in four partial sums as {@link #sum4}. */
  private static double dot4(double[] a, double[] b, int o, int n) {
    double s0 = 0;
    double s1 = 0;
    double s2 = 0;
    double s3 = 0;
    int i = 0;
    for (; i + 3 < n; i += 4) {
      s0 += a[o + i] * b[o + i];
      s1 += a[o + i + 1] * b[o + i + 1];
      s2 += a[o + i + 2] * b[o + i + 2];
      s3 += a[o + i + 3] * b[o + i + 3];
    }
    for (; i < n; i++) {
      s0 += a[o + i] * b[o + i];
    }
    return (s0 + s1) + (s2 + s3);
  }

  /** The sum of the squares of {@code v[o .. o + n)}, in four partial sums as {@link #sum4}. */
  private static double sumSquares4(double[] v, int o, int n) {
    double s0 = 0;
    double s1 = 0;
    double s2 = 0;
    double s3 = 0;
    int i = 0;
    for (; i + 3 < n; i += 4) {
      s0 += v[o + i] * v[o + i];
      s1 += v[o + i + 1] * v[o + i + 1];
      s2 += v[o + i + 2] * v[o + i + 2];
      s3 += v[o + i + 3] * v[o + i + 3];
    }
    for (; i < n; i++) {
      s0 += v[o + i] * v[o + i];
    }
    return (s0 + s1) + (s2 + s3);
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
    int parts = Math.max(1, (int) Math.min(rows, 64));
    // the parameter gradients are sums over rows: each fixed part of the rows sums into its own
    // partial row, and the parts are added in order, so the result does not depend on threads
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
            for (long r0 = p * perPart; r0 < end; r0 += io.block) {
              int n = (int) Math.min(io.block, end - r0);
              io.load(g0, r0, n, g);
              io.load(x0, r0, n, xh);
              for (int j = 0; j < n; j++) {
                int o = j * cols;
                double mu = getScalar(m0, r0 + j, f32);
                double inv = getScalar(s0, r0 + j, f32);
                for (int i = 0; i < cols; i++) {
                  xh[o + i] = (xh[o + i] - mu) * inv;
                }
                if (w == null) {
                  System.arraycopy(g, o, out, o, cols);
                } else {
                  for (int i = 0; i < cols; i++) {
                    out[o + i] = g[o + i] * w[i];
                  }
                }
                double sumGh = sum4(out, o, cols);
                double sumGhXh = dot4(out, xh, o, cols);
                if (params) {
                  double[] pw = dw[(int) p];
                  double[] pb = db[(int) p];
                  for (int i = 0; i < cols; i++) {
                    pw[i] += g[o + i] * xh[o + i];
                    pb[i] += g[o + i];
                  }
                }
                double meanGh = sumGh / cols;
                double meanGhXh = sumGhXh / cols;
                for (int i = 0; i < cols; i++) {
                  out[o + i] = inv * (out[o + i] - meanGh - xh[o + i] * meanGhXh);
                }
              }
              io.store(out, dx0, r0, n);
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
   * {@code y = softmax(scale * x)} along each row: the max, then exp of the shifted values with
   * their sum, then the division. A row whose max is {@code -inf} (every entry masked) gives NaN,
   * as PyTorch's; {@code -inf} entries give exactly 0.
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
            float[] v = io.f;
            double[] arg = io.a;
            double[] e = io.b;
            for (long r0 = from; r0 < to; r0 += io.block) {
              int n = (int) Math.min(io.block, to - r0);
              UNSAFE.copyMemory(null, x0 + r0 * cols * 4L, v, FLOAT_BASE, n * cols * 4L);
              // the shifted arguments of the whole block, then one FastExp call over them (the
              // rows are short: 17 in the patch transformer's attention)
              for (int j = 0; j < n; j++) {
                int o = j * cols;
                float max = Float.NEGATIVE_INFINITY;
                for (int i = 0; i < cols; i++) {
                  max = Math.max(max, v[o + i] * s);
                }
                for (int i = 0; i < cols; i++) {
                  arg[o + i] = v[o + i] * s - max;
                }
              }
              FastExp.exp(arg, e, n * cols);
              for (int j = 0; j < n; j++) {
                int o = j * cols;
                double sum = 0;
                for (int i = 0; i < cols; i++) {
                  float ef = (float) e[o + i];
                  v[o + i] = ef;
                  sum += ef;
                }
                float inv = (float) (1 / sum);
                for (int i = 0; i < cols; i++) {
                  v[o + i] *= inv;
                }
              }
              UNSAFE.copyMemory(v, FLOAT_BASE, null, y0 + r0 * cols * 4L, n * cols * 4L);
            }
          });
      return;
    }
    forRows(
        rows,
        cols,
        false,
        (from, to, io) -> {
          double[] v = io.a;
          for (long r0 = from; r0 < to; r0 += io.block) {
            int n = (int) Math.min(io.block, to - r0);
            io.load(x0, r0, n, v);
            for (int j = 0; j < n; j++) {
              int o = j * cols;
              double max = Double.NEGATIVE_INFINITY;
              for (int i = 0; i < cols; i++) {
                v[o + i] *= scale;
                max = Math.max(max, v[o + i]);
              }
              double sum = 0;
              for (int i = 0; i < cols; i++) {
                double e = Math.exp(v[o + i] - max);
                v[o + i] = e;
                sum += e;
              }
              double inv = 1 / sum;
              for (int i = 0; i < cols; i++) {
                v[o + i] *= inv;
              }
            }
            io.store(v, y0, r0, n);
          }
        });
  }

  /** Softmax's backward along each row: {@code dx = scale * y * (g - sum(g * y))}. */
  static void softmaxBackward(NDArray grad, NDArray y, double scale, NDArray dx, int cols) {
    long rows = y.numel() / cols;
    boolean f32 = y.dtype() == DType.FLOAT32;
    long g0 = address(grad);
    long y0 = address(y);
    long d0 = address(dx);
    forRows(
        rows,
        cols,
        f32,
        (from, to, io) -> {
          double[] g = io.a;
          double[] yy = io.b;
          for (long r0 = from; r0 < to; r0 += io.block) {
            int n = (int) Math.min(io.block, to - r0);
            io.load(g0, r0, n, g);
            io.load(y0, r0, n, yy);
            for (int j = 0; j < n; j++) {
              int o = j * cols;
              double dot = 0;
              for (int i = 0; i < cols; i++) {
                dot += g[o + i] * yy[o + i];
              }
              for (int i = 0; i < cols; i++) {
                g[o + i] = scale * yy[o + i] * (g[o + i] - dot);
              }
            }
            io.store(g, d0, r0, n);
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
