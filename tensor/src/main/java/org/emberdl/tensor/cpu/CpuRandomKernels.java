package org.emberdl.tensor.cpu;

import org.emberdl.tensor.Backend.RandomKind;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Layout;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.random.Philox;

/**
 * Random fills. Element {@code i} of the output takes generator values at {@code offset + i}, so
 * the result is the same whatever the tiling and thread count (Philox is counter-based).
 */
final class CpuRandomKernels {
  private CpuRandomKernels() {}

  static void fill(RandomKind kind, NDArray out, Philox gen, long offset, double a, double b) {
    long n = out.numel();
    Operand o = Operand.of(out);
    Family fam = kind == RandomKind.INTEGERS ? Family.L : Family.of(out.dtype());
    if (fam == Family.L && kind != RandomKind.INTEGERS) {
      fam = Family.D;
    }
    final Family family = fam;
    long tiles = (n + Workspace.TILE - 1) / Workspace.TILE;
    Layout l = out.layout();
    if (!l.isContiguous()) {
      throw new IllegalArgumentException("random fills need a contiguous output");
    }
    Parallel.range(
        tiles,
        n * 8,
        ElementwiseLoop.PARALLEL_MIN_ELEMENTS,
        (from, to) -> {
          Workspace w = Workspace.get();
          for (long t = from; t < to; t++) {
            long start = t * Workspace.TILE;
            int len = (int) Math.min(Workspace.TILE, n - start);
            long at = offset + start;
            switch (family) {
              case F -> {
                float[] f = w.f[Workspace.OUT];
                switch (kind) {
                  case UNIFORM -> gen.uniform(at, f, 0, len, (float) a, (float) b);
                  case NORMAL -> gen.normal(at, f, 0, len, (float) a, (float) b);
                  case BERNOULLI -> gen.bernoulli(at, f, 0, len, a);
                  case INTEGERS -> throw new IllegalStateException("integers fill in long");
                }
              }
              case D -> {
                double[] d = w.d[Workspace.OUT];
                switch (kind) {
                  case UNIFORM -> gen.uniform(at, d, 0, len, a, b);
                  case NORMAL -> gen.normal(at, d, 0, len, a, b);
                  case BERNOULLI -> {
                    float[] f = w.f[0];
                    gen.bernoulli(at, f, 0, len, a);
                    for (int i = 0; i < len; i++) {
                      d[i] = f[i];
                    }
                  }
                  case INTEGERS -> throw new IllegalStateException("integers fill in long");
                }
              }
              case L -> gen.integers(at, w.l[Workspace.OUT], 0, len, (long) a, (long) b);
            }
            TileIO.store(family, w, Workspace.OUT, 0, o, start, 1, len);
          }
        });
    if (out.dtype() == DType.BOOL && kind != RandomKind.BERNOULLI) {
      throw new IllegalArgumentException("random " + kind + " cannot fill a bool array");
    }
  }
}
