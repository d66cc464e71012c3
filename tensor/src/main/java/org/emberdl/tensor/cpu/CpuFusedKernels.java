package org.emberdl.tensor.cpu;

import static org.emberdl.tensor.cpu.UnsafeAccess.DOUBLE_BASE;
import static org.emberdl.tensor.cpu.UnsafeAccess.FLOAT_BASE;
import static org.emberdl.tensor.cpu.UnsafeAccess.UNSAFE;

import org.emberdl.tensor.DType;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.ops.AdamStep;

/**
 * Fused optimizer updates: one pass over the parameters, gradient and state instead of a dozen
 * elementwise ops (each a full pass over memory), as PyTorch's fused Adam. Arrays are contiguous
 * and of one floating dtype; float32 state is updated in float32 arithmetic, as torch does.
 */
final class CpuFusedKernels {
  private CpuFusedKernels() {}

  private static long address(NDArray a) {
    return a.storage().address() + a.layout().offset() * a.dtype().byteSize();
  }

  static void adam(NDArray param, NDArray grad, NDArray m, NDArray v, AdamStep s) {
    long n = param.numel();
    long p0 = address(param);
    long g0 = address(grad);
    long m0 = address(m);
    long v0 = address(v);
    boolean f32 = param.dtype() == DType.FLOAT32;
    long size = param.dtype().byteSize();
    long base = f32 ? FLOAT_BASE : DOUBLE_BASE;
    double bc1 = 1 - Math.pow(s.beta1(), s.step());
    double bc2Sqrt = Math.sqrt(1 - Math.pow(s.beta2(), s.step()));
    double stepSize = s.lr() / bc1;
    double decay = s.decoupled() ? 1 - s.lr() * s.weightDecay() : 1;
    double l2 = s.decoupled() ? 0 : s.weightDecay();
    long tiles = (n + Workspace.TILE - 1) / Workspace.TILE;
    Parallel.range(
        tiles,
        n,
        ElementwiseLoop.PARALLEL_MIN_ELEMENTS,
        (from, to) -> {
          Workspace w = Workspace.get();
          for (long t = from; t < to; t++) {
            long start = t * Workspace.TILE;
            int len = (int) Math.min(Workspace.TILE, n - start);
            long off = start * size;
            long bytes = len * size;
            Object p = f32 ? w.f[0] : w.d[0];
            Object g = f32 ? w.f[1] : w.d[1];
            Object mm = f32 ? w.f[2] : w.d[2];
            Object vv = f32 ? w.f[3] : w.d[3];
            UNSAFE.copyMemory(null, p0 + off, p, base, bytes);
            UNSAFE.copyMemory(null, g0 + off, g, base, bytes);
            UNSAFE.copyMemory(null, m0 + off, mm, base, bytes);
            UNSAFE.copyMemory(null, v0 + off, vv, base, bytes);
            if (f32) {
              adamTile(
                  w.f[0],
                  w.f[1],
                  w.f[2],
                  w.f[3],
                  len,
                  s,
                  (float) stepSize,
                  (float) bc2Sqrt,
                  (float) decay,
                  (float) l2);
            } else {
              adamTile(w.d[0], w.d[1], w.d[2], w.d[3], len, s, stepSize, bc2Sqrt, decay, l2);
            }
            UNSAFE.copyMemory(p, base, null, p0 + off, bytes);
            UNSAFE.copyMemory(mm, base, null, m0 + off, bytes);
            UNSAFE.copyMemory(vv, base, null, v0 + off, bytes);
          }
        });
  }

  private static void adamTile(
      float[] p,
      float[] g,
      float[] m,
      float[] v,
      int n,
      AdamStep s,
      float stepSize,
      float bc2Sqrt,
      float decay,
      float l2) {
    float oneMinusB1 = (float) (1 - s.beta1());
    float b2 = (float) s.beta2();
    float oneMinusB2 = (float) (1 - s.beta2());
    float eps = (float) s.eps();
    for (int i = 0; i < n; i++) {
      float gi = g[i] + l2 * p[i];
      float pi = p[i] * decay;
      float mi = m[i] + oneMinusB1 * (gi - m[i]);
      float vi = b2 * v[i] + oneMinusB2 * gi * gi;
      m[i] = mi;
      v[i] = vi;
      p[i] = pi - stepSize * mi / ((float) Math.sqrt(vi) / bc2Sqrt + eps);
    }
  }

  private static void adamTile(
      double[] p,
      double[] g,
      double[] m,
      double[] v,
      int n,
      AdamStep s,
      double stepSize,
      double bc2Sqrt,
      double decay,
      double l2) {
    double oneMinusB1 = 1 - s.beta1();
    double b2 = s.beta2();
    double oneMinusB2 = 1 - s.beta2();
    double eps = s.eps();
    for (int i = 0; i < n; i++) {
      double gi = g[i] + l2 * p[i];
      double pi = p[i] * decay;
      double mi = m[i] + oneMinusB1 * (gi - m[i]);
      double vi = b2 * v[i] + oneMinusB2 * gi * gi;
      m[i] = mi;
      v[i] = vi;
      p[i] = pi - stepSize * mi / (Math.sqrt(vi) / bc2Sqrt + eps);
    }
  }
}
