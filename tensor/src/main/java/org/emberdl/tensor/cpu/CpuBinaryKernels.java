package org.emberdl.tensor.cpu;

import org.emberdl.tensor.cpu.ElementwiseLoop.TileKernel;
import org.emberdl.tensor.ops.BinaryOp;

/**
 * One loop per binary op and compute family (see {@link CpuUnaryKernels}). Comparisons and logical
 * ops write 1/0 in the compute family; the store converts to bool.
 */
final class CpuBinaryKernels {
  private CpuBinaryKernels() {}

  static TileKernel kernel(BinaryOp op, Family family) {
    return switch (family) {
      case F -> floatKernel(op);
      case D -> doubleKernel(op);
      case L -> longKernel(op);
    };
  }

  /** {@code out = cond != 0 ? a : b}; slots 0, 1, 2 hold cond, a, b. */
  static TileKernel where(Family family) {
    return switch (family) {
      case F ->
          (w, n) -> {
            float[] c = w.f[0], a = w.f[1], b = w.f[2], o = w.f[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = c[i] != 0f ? a[i] : b[i];
            }
          };
      case D ->
          (w, n) -> {
            double[] c = w.d[0], a = w.d[1], b = w.d[2], o = w.d[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = c[i] != 0.0 ? a[i] : b[i];
            }
          };
      case L ->
          (w, n) -> {
            long[] c = w.l[0], a = w.l[1], b = w.l[2], o = w.l[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = c[i] != 0L ? a[i] : b[i];
            }
          };
    };
  }

  /** Integer power by squaring; negative exponents are an error, as in PyTorch. */
  static long intPow(long base, long exp) {
    if (exp < 0) {
      throw new ArithmeticException("integers to negative integer powers are not allowed");
    }
    long result = 1;
    while (exp > 0) {
      if ((exp & 1) != 0) {
        result *= base;
      }
      base *= base;
      exp >>= 1;
    }
    return result;
  }

  private static TileKernel floatKernel(BinaryOp op) {
    return switch (op) {
      case ADD ->
          (w, n) -> {
            float[] a = w.f[0], b = w.f[1], o = w.f[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = a[i] + b[i];
            }
          };
      case SUB ->
          (w, n) -> {
            float[] a = w.f[0], b = w.f[1], o = w.f[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = a[i] - b[i];
            }
          };
      case MUL ->
          (w, n) -> {
            float[] a = w.f[0], b = w.f[1], o = w.f[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = a[i] * b[i];
            }
          };
      case DIV ->
          (w, n) -> {
            float[] a = w.f[0], b = w.f[1], o = w.f[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = a[i] / b[i];
            }
          };
      case POW ->
          (w, n) -> {
            float[] a = w.f[0], b = w.f[1], o = w.f[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = (float) Math.pow(a[i], b[i]);
            }
          };
      case MAXIMUM ->
          (w, n) -> {
            float[] a = w.f[0], b = w.f[1], o = w.f[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = Math.max(a[i], b[i]);
            }
          };
      case MINIMUM ->
          (w, n) -> {
            float[] a = w.f[0], b = w.f[1], o = w.f[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = Math.min(a[i], b[i]);
            }
          };
      case EQ ->
          (w, n) -> {
            float[] a = w.f[0], b = w.f[1], o = w.f[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = a[i] == b[i] ? 1f : 0f;
            }
          };
      case NE ->
          (w, n) -> {
            float[] a = w.f[0], b = w.f[1], o = w.f[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = a[i] != b[i] ? 1f : 0f;
            }
          };
      case LT ->
          (w, n) -> {
            float[] a = w.f[0], b = w.f[1], o = w.f[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = a[i] < b[i] ? 1f : 0f;
            }
          };
      case LE ->
          (w, n) -> {
            float[] a = w.f[0], b = w.f[1], o = w.f[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = a[i] <= b[i] ? 1f : 0f;
            }
          };
      case GT ->
          (w, n) -> {
            float[] a = w.f[0], b = w.f[1], o = w.f[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = a[i] > b[i] ? 1f : 0f;
            }
          };
      case GE ->
          (w, n) -> {
            float[] a = w.f[0], b = w.f[1], o = w.f[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = a[i] >= b[i] ? 1f : 0f;
            }
          };
      case LOGICAL_AND ->
          (w, n) -> {
            float[] a = w.f[0], b = w.f[1], o = w.f[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = a[i] != 0f && b[i] != 0f ? 1f : 0f;
            }
          };
      case LOGICAL_OR ->
          (w, n) -> {
            float[] a = w.f[0], b = w.f[1], o = w.f[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = a[i] != 0f || b[i] != 0f ? 1f : 0f;
            }
          };
    };
  }

  private static TileKernel doubleKernel(BinaryOp op) {
    return switch (op) {
      case ADD ->
          (w, n) -> {
            double[] a = w.d[0], b = w.d[1], o = w.d[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = a[i] + b[i];
            }
          };
      case SUB ->
          (w, n) -> {
            double[] a = w.d[0], b = w.d[1], o = w.d[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = a[i] - b[i];
            }
          };
      case MUL ->
          (w, n) -> {
            double[] a = w.d[0], b = w.d[1], o = w.d[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = a[i] * b[i];
            }
          };
      case DIV ->
          (w, n) -> {
            double[] a = w.d[0], b = w.d[1], o = w.d[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = a[i] / b[i];
            }
          };
      case POW ->
          (w, n) -> {
            double[] a = w.d[0], b = w.d[1], o = w.d[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = Math.pow(a[i], b[i]);
            }
          };
      case MAXIMUM ->
          (w, n) -> {
            double[] a = w.d[0], b = w.d[1], o = w.d[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = Math.max(a[i], b[i]);
            }
          };
      case MINIMUM ->
          (w, n) -> {
            double[] a = w.d[0], b = w.d[1], o = w.d[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = Math.min(a[i], b[i]);
            }
          };
      case EQ ->
          (w, n) -> {
            double[] a = w.d[0], b = w.d[1], o = w.d[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = a[i] == b[i] ? 1.0 : 0.0;
            }
          };
      case NE ->
          (w, n) -> {
            double[] a = w.d[0], b = w.d[1], o = w.d[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = a[i] != b[i] ? 1.0 : 0.0;
            }
          };
      case LT ->
          (w, n) -> {
            double[] a = w.d[0], b = w.d[1], o = w.d[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = a[i] < b[i] ? 1.0 : 0.0;
            }
          };
      case LE ->
          (w, n) -> {
            double[] a = w.d[0], b = w.d[1], o = w.d[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = a[i] <= b[i] ? 1.0 : 0.0;
            }
          };
      case GT ->
          (w, n) -> {
            double[] a = w.d[0], b = w.d[1], o = w.d[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = a[i] > b[i] ? 1.0 : 0.0;
            }
          };
      case GE ->
          (w, n) -> {
            double[] a = w.d[0], b = w.d[1], o = w.d[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = a[i] >= b[i] ? 1.0 : 0.0;
            }
          };
      case LOGICAL_AND ->
          (w, n) -> {
            double[] a = w.d[0], b = w.d[1], o = w.d[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = a[i] != 0.0 && b[i] != 0.0 ? 1.0 : 0.0;
            }
          };
      case LOGICAL_OR ->
          (w, n) -> {
            double[] a = w.d[0], b = w.d[1], o = w.d[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = a[i] != 0.0 || b[i] != 0.0 ? 1.0 : 0.0;
            }
          };
    };
  }

  private static TileKernel longKernel(BinaryOp op) {
    return switch (op) {
      case ADD ->
          (w, n) -> {
            long[] a = w.l[0], b = w.l[1], o = w.l[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = a[i] + b[i];
            }
          };
      case SUB ->
          (w, n) -> {
            long[] a = w.l[0], b = w.l[1], o = w.l[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = a[i] - b[i];
            }
          };
      case MUL ->
          (w, n) -> {
            long[] a = w.l[0], b = w.l[1], o = w.l[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = a[i] * b[i];
            }
          };
      // DIV is real-valued: NDArray computes integer division in a floating dtype.
      case DIV -> throw new IllegalStateException("DIV has no integer kernel");
      case POW ->
          (w, n) -> {
            long[] a = w.l[0], b = w.l[1], o = w.l[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = intPow(a[i], b[i]);
            }
          };
      case MAXIMUM ->
          (w, n) -> {
            long[] a = w.l[0], b = w.l[1], o = w.l[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = Math.max(a[i], b[i]);
            }
          };
      case MINIMUM ->
          (w, n) -> {
            long[] a = w.l[0], b = w.l[1], o = w.l[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = Math.min(a[i], b[i]);
            }
          };
      case EQ ->
          (w, n) -> {
            long[] a = w.l[0], b = w.l[1], o = w.l[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = a[i] == b[i] ? 1L : 0L;
            }
          };
      case NE ->
          (w, n) -> {
            long[] a = w.l[0], b = w.l[1], o = w.l[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = a[i] != b[i] ? 1L : 0L;
            }
          };
      case LT ->
          (w, n) -> {
            long[] a = w.l[0], b = w.l[1], o = w.l[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = a[i] < b[i] ? 1L : 0L;
            }
          };
      case LE ->
          (w, n) -> {
            long[] a = w.l[0], b = w.l[1], o = w.l[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = a[i] <= b[i] ? 1L : 0L;
            }
          };
      case GT ->
          (w, n) -> {
            long[] a = w.l[0], b = w.l[1], o = w.l[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = a[i] > b[i] ? 1L : 0L;
            }
          };
      case GE ->
          (w, n) -> {
            long[] a = w.l[0], b = w.l[1], o = w.l[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = a[i] >= b[i] ? 1L : 0L;
            }
          };
      case LOGICAL_AND ->
          (w, n) -> {
            long[] a = w.l[0], b = w.l[1], o = w.l[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = a[i] != 0L && b[i] != 0L ? 1L : 0L;
            }
          };
      case LOGICAL_OR ->
          (w, n) -> {
            long[] a = w.l[0], b = w.l[1], o = w.l[Workspace.OUT];
            for (int i = 0; i < n; i++) {
              o[i] = a[i] != 0L || b[i] != 0L ? 1L : 0L;
            }
          };
    };
  }
}
