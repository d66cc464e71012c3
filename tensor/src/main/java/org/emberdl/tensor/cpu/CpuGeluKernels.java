package org.emberdl.tensor.cpu;

import static org.emberdl.tensor.cpu.UnsafeAccess.DOUBLE_BASE;
import static org.emberdl.tensor.cpu.UnsafeAccess.FLOAT_BASE;
import static org.emberdl.tensor.cpu.UnsafeAccess.UNSAFE;

import org.emberdl.tensor.DType;
import org.emberdl.tensor.NDArray;

/**
 * Exact GELU's kernels. The float32 forward tile ({@link #forward(float[], float[], int)}) and the
 * fused backward use {@link FastErf}, branch-free so that C2 vectorizes them; float64 keeps
 * fdlibm's erf so that gradchecks see the exact function.
 */
final class CpuGeluKernels {
  private static final float INV_SQRT2_F = 0.70710678f;
  private static final float INV_SQRT_2PI_F = 0.39894228f;
  private static final double INV_SQRT2 = 0.7071067811865476;
  private static final double INV_SQRT_2PI = 0.3989422804014327;

  private CpuGeluKernels() {}

  /** {@code o = x Phi(x)} for a float tile. */
  static void forward(float[] x, float[] o, int n) {
    for (int i = 0; i < n; i++) {
      float v = x[i];
      o[i] = 0.5f * v * (1f + FastErf.erf(v * INV_SQRT2_F));
    }
  }

  /** {@code out = grad * (Phi(x) + x phi(x))}, contiguous arrays of one floating dtype. */
  static void backward(NDArray grad, NDArray x, NDArray out) {
    long n = x.numel();
    long g0 = CpuRowKernels.address(grad);
    long x0 = CpuRowKernels.address(x);
    long o0 = CpuRowKernels.address(out);
    boolean f32 = x.dtype() == DType.FLOAT32;
    long size = x.dtype().byteSize();
    long base = f32 ? FLOAT_BASE : DOUBLE_BASE;
    long tiles = (n + Workspace.TILE - 1) / Workspace.TILE;
    Parallel.range(
        tiles,
        n,
        ElementwiseLoop.PARALLEL_MIN_ELEMENTS,
        (from, to) -> {
          Workspace w = Workspace.get();
          Object g = f32 ? w.f[0] : w.d[0];
          Object xx = f32 ? w.f[1] : w.d[1];
          Object o = f32 ? w.f[Workspace.OUT] : w.d[Workspace.OUT];
          for (long t = from; t < to; t++) {
            long start = t * Workspace.TILE;
            int len = (int) Math.min(Workspace.TILE, n - start);
            long off = start * size;
            long bytes = len * size;
            UNSAFE.copyMemory(null, g0 + off, g, base, bytes);
            UNSAFE.copyMemory(null, x0 + off, xx, base, bytes);
            if (f32) {
              backwardTile(w.f[0], w.f[1], w.f[Workspace.OUT], w.d[0], w.d[1], len);
            } else {
              backwardTile(w.d[0], w.d[1], w.d[Workspace.OUT], len);
            }
            UNSAFE.copyMemory(o, base, null, o0 + off, bytes);
          }
        });
  }

  private static void backwardTile(
      float[] g, float[] x, float[] o, double[] arg, double[] e, int n) {
    // The exp gets loops of its own (FastExp's, vectorized; Math.exp is a scalar call), and the
    // erf part one more: in one loop with the exp, C2 would keep it scalar too.
    for (int i = 0; i < n; i++) {
      arg[i] = -0.5 * x[i] * x[i];
    }
    FastExp.exp(arg, e, n);
    for (int i = 0; i < n; i++) {
      o[i] = (float) e[i];
    }
    for (int i = 0; i < n; i++) {
      float v = x[i];
      float cdf = 0.5f * (1f + FastErf.erf(v * INV_SQRT2_F));
      o[i] = g[i] * (cdf + v * INV_SQRT_2PI_F * o[i]);
    }
  }

  private static void backwardTile(double[] g, double[] x, double[] o, int n) {
    for (int i = 0; i < n; i++) {
      double v = x[i];
      double cdf = 0.5 * (1 + SpecialFunctions.erf(v * INV_SQRT2));
      o[i] = g[i] * (cdf + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v));
    }
  }
}
