package org.emberdl.tensor.cpu;

import org.emberdl.tensor.cpu.ElementwiseLoop.TileKernel;
import org.emberdl.tensor.ops.UnaryOp;

/**
 * One loop per unary op and compute family. Each arm owns its loop (one call per tile, not per
 * element) so that C2 compiles and vectorizes each loop on its own.
 */
final class CpuUnaryKernels {
  private static final double INV_SQRT2 = 0.7071067811865476;

  private CpuUnaryKernels() {}

  static TileKernel kernel(UnaryOp op, Family family) {
    return switch (family) {
      case F -> floatKernel(op);
      case D -> doubleKernel(op);
      case L -> longKernel(op);
    };
  }

  private static TileKernel floatKernel(UnaryOp op) {
    return switch (op) {
      case IDENTITY -> (w, n) -> System.arraycopy(w.f[0], 0, w.f[Workspace.OUT], 0, n);
      case NEG ->
          (w, n) -> {
            float[] x = w.f[0], o = w.f[Workspace.OUT];
            for (int i = 0; i < n; i++) o[i] = -x[i];
          };
      case ABS ->
          (w, n) -> {
            float[] x = w.f[0], o = w.f[Workspace.OUT];
            for (int i = 0; i < n; i++) o[i] = Math.abs(x[i]);
          };
      case SIGN ->
          (w, n) -> {
            float[] x = w.f[0], o = w.f[Workspace.OUT];
            for (int i = 0; i < n; i++) o[i] = Math.signum(x[i]);
          };
      case EXP ->
          (w, n) -> {
            float[] x = w.f[0], o = w.f[Workspace.OUT];
            for (int i = 0; i < n; i++) o[i] = (float) Math.exp(x[i]);
          };
      case LOG ->
          (w, n) -> {
            float[] x = w.f[0], o = w.f[Workspace.OUT];
            for (int i = 0; i < n; i++) o[i] = (float) Math.log(x[i]);
          };
      case LOG1P ->
          (w, n) -> {
            float[] x = w.f[0], o = w.f[Workspace.OUT];
            for (int i = 0; i < n; i++) o[i] = (float) Math.log1p(x[i]);
          };
      case SQRT ->
          (w, n) -> {
            float[] x = w.f[0], o = w.f[Workspace.OUT];
            for (int i = 0; i < n; i++) o[i] = (float) Math.sqrt(x[i]);
          };
      case RSQRT ->
          (w, n) -> {
            float[] x = w.f[0], o = w.f[Workspace.OUT];
            for (int i = 0; i < n; i++) o[i] = (float) (1.0 / Math.sqrt(x[i]));
          };
      case TANH ->
          (w, n) -> {
            float[] x = w.f[0], o = w.f[Workspace.OUT];
            for (int i = 0; i < n; i++) o[i] = (float) Math.tanh(x[i]);
          };
      case SIGMOID ->
          (w, n) -> {
            float[] x = w.f[0], o = w.f[Workspace.OUT];
            for (int i = 0; i < n; i++) o[i] = (float) (1.0 / (1.0 + Math.exp(-x[i])));
          };
      // Math.max, not a ternary: it vectorizes and propagates NaN as torch.relu does.
      case RELU ->
          (w, n) -> {
            float[] x = w.f[0], o = w.f[Workspace.OUT];
            for (int i = 0; i < n; i++) o[i] = Math.max(x[i], 0f);
          };
      // branch-free erf, vectorized (CpuGeluKernels); float64 keeps fdlibm's exact erf
      case GELU -> (w, n) -> CpuGeluKernels.forward(w.f[0], w.f[Workspace.OUT], n);
      // Branch-free so that C2 vectorizes it (a ternary runs ~7x slower on random signs):
      // scaling by 2^252 in two steps takes every positive float, subnormals included, to >= 1.
      case STEP ->
          (w, n) -> {
            float[] x = w.f[0], o = w.f[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = Math.min(Math.max(x[i] * 0x1p126f * 0x1p126f, 0f), 1f);
            }
          };
      case ERF ->
          (w, n) -> {
            float[] x = w.f[0], o = w.f[Workspace.OUT];
            for (int i = 0; i < n; i++) o[i] = SpecialFunctions.erf(x[i]);
          };
      case LOGICAL_NOT ->
          (w, n) -> {
            float[] x = w.f[0], o = w.f[Workspace.OUT];
            for (int i = 0; i < n; i++) o[i] = x[i] == 0f ? 1f : 0f;
          };
    };
  }

  private static TileKernel doubleKernel(UnaryOp op) {
    return switch (op) {
      case IDENTITY -> (w, n) -> System.arraycopy(w.d[0], 0, w.d[Workspace.OUT], 0, n);
      case NEG ->
          (w, n) -> {
            double[] x = w.d[0], o = w.d[Workspace.OUT];
            for (int i = 0; i < n; i++) o[i] = -x[i];
          };
      case ABS ->
          (w, n) -> {
            double[] x = w.d[0], o = w.d[Workspace.OUT];
            for (int i = 0; i < n; i++) o[i] = Math.abs(x[i]);
          };
      case SIGN ->
          (w, n) -> {
            double[] x = w.d[0], o = w.d[Workspace.OUT];
            for (int i = 0; i < n; i++) o[i] = Math.signum(x[i]);
          };
      case EXP ->
          (w, n) -> {
            double[] x = w.d[0], o = w.d[Workspace.OUT];
            for (int i = 0; i < n; i++) o[i] = Math.exp(x[i]);
          };
      case LOG ->
          (w, n) -> {
            double[] x = w.d[0], o = w.d[Workspace.OUT];
            for (int i = 0; i < n; i++) o[i] = Math.log(x[i]);
          };
      case LOG1P ->
          (w, n) -> {
            double[] x = w.d[0], o = w.d[Workspace.OUT];
            for (int i = 0; i < n; i++) o[i] = Math.log1p(x[i]);
          };
      case SQRT ->
          (w, n) -> {
            double[] x = w.d[0], o = w.d[Workspace.OUT];
            for (int i = 0; i < n; i++) o[i] = Math.sqrt(x[i]);
          };
      case RSQRT ->
          (w, n) -> {
            double[] x = w.d[0], o = w.d[Workspace.OUT];
            for (int i = 0; i < n; i++) o[i] = 1.0 / Math.sqrt(x[i]);
          };
      case TANH ->
          (w, n) -> {
            double[] x = w.d[0], o = w.d[Workspace.OUT];
            for (int i = 0; i < n; i++) o[i] = Math.tanh(x[i]);
          };
      case SIGMOID ->
          (w, n) -> {
            double[] x = w.d[0], o = w.d[Workspace.OUT];
            for (int i = 0; i < n; i++) o[i] = 1.0 / (1.0 + Math.exp(-x[i]));
          };
      case RELU ->
          (w, n) -> {
            double[] x = w.d[0], o = w.d[Workspace.OUT];
            for (int i = 0; i < n; i++) o[i] = Math.max(x[i], 0.0);
          };
      case GELU ->
          (w, n) -> {
            double[] x = w.d[0], o = w.d[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = 0.5 * x[i] * (1.0 + SpecialFunctions.erf(x[i] * INV_SQRT2));
            }
          };
      case STEP ->
          (w, n) -> {
            double[] x = w.d[0], o = w.d[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = Math.min(Math.max(x[i] * 0x1p1022 * 0x1p1022, 0.0), 1.0);
            }
          };
      case ERF ->
          (w, n) -> {
            double[] x = w.d[0], o = w.d[Workspace.OUT];
            for (int i = 0; i < n; i++) o[i] = SpecialFunctions.erf(x[i]);
          };
      case LOGICAL_NOT ->
          (w, n) -> {
            double[] x = w.d[0], o = w.d[Workspace.OUT];
            for (int i = 0; i < n; i++) o[i] = x[i] == 0.0 ? 1.0 : 0.0;
          };
    };
  }

  private static TileKernel longKernel(UnaryOp op) {
    return switch (op) {
      case IDENTITY -> (w, n) -> System.arraycopy(w.l[0], 0, w.l[Workspace.OUT], 0, n);
      case NEG ->
          (w, n) -> {
            long[] x = w.l[0], o = w.l[Workspace.OUT];
            for (int i = 0; i < n; i++) o[i] = -x[i];
          };
      case ABS ->
          (w, n) -> {
            long[] x = w.l[0], o = w.l[Workspace.OUT];
            for (int i = 0; i < n; i++) o[i] = Math.abs(x[i]);
          };
      case SIGN ->
          (w, n) -> {
            long[] x = w.l[0], o = w.l[Workspace.OUT];
            for (int i = 0; i < n; i++) o[i] = Long.signum(x[i]);
          };
      case RELU ->
          (w, n) -> {
            long[] x = w.l[0], o = w.l[Workspace.OUT];
            for (int i = 0; i < n; i++) o[i] = Math.max(x[i], 0L);
          };
      case STEP ->
          (w, n) -> {
            long[] x = w.l[0], o = w.l[Workspace.OUT];
            for (int i = 0; i < n; i++) o[i] = x[i] > 0 ? 1L : 0L;
          };
      case LOGICAL_NOT ->
          (w, n) -> {
            long[] x = w.l[0], o = w.l[Workspace.OUT];
            for (int i = 0; i < n; i++) o[i] = x[i] == 0L ? 1L : 0L;
          };
      // NDArray promotes integer inputs of real-valued ops to a floating dtype first.
      case EXP, LOG, LOG1P, SQRT, RSQRT, TANH, SIGMOID, GELU, ERF ->
          throw new IllegalStateException(
              op + " has no integer kernel; the caller must promote to a floating dtype");
    };
  }
}
