package org.emberdl.tensor.cpu;

import org.emberdl.tensor.Shape;

/**
 * The one loop behind every elementwise kernel. It merges dims that are contiguous for all operands
 * (a dense array of any rank becomes one run), cuts the runs into tiles, loads each input tile into
 * a heap array, lets the kernel compute one tile, and stores the output tile. Tiles are split
 * across {@link Parallel} threads; each tile's result depends only on its own elements, so results
 * do not depend on the thread count.
 */
final class ElementwiseLoop {
  /** Computes one tile: reads input slots {@code 0..k-1}, writes slot {@link Workspace#OUT}. */
  @FunctionalInterface
  interface TileKernel {
    void run(Workspace w, int n);
  }

  /** Below this many elements a loop runs on the calling thread. */
  static final long PARALLEL_MIN_ELEMENTS = 1 << 15;

  private ElementwiseLoop() {}

  /**
   * Runs {@code kernel} over {@code shape}: inputs are loaded into {@code family}'s tile arrays,
   * converted from their dtypes, and the output tile is converted to {@code out}'s dtype.
   */
  static void run(int[] shape, Family family, Operand out, Operand[] ins, TileKernel kernel) {
    long numel = Shape.numel(shape);
    if (numel == 0) {
      return;
    }
    int m = ins.length + 1;
    Operand[] ops = new Operand[m];
    ops[0] = out;
    System.arraycopy(ins, 0, ops, 1, ins.length);

    // Coalesce dims, innermost first: a dim merges into the previous (inner) one when its stride
    // equals the inner stride times the inner size for every operand.
    int nd = shape.length;
    int[] sizes = new int[Math.max(nd, 1)];
    long[][] strides = new long[m][Math.max(nd, 1)];
    int cn = 0;
    for (int d = nd - 1; d >= 0; d--) {
      if (shape[d] == 1) {
        continue;
      }
      boolean merge = cn > 0;
      for (int k = 0; k < m && merge; k++) {
        merge = ops[k].strides[d] == strides[k][cn - 1] * sizes[cn - 1];
      }
      if (merge) {
        sizes[cn - 1] *= shape[d];
      } else {
        sizes[cn] = shape[d];
        for (int k = 0; k < m; k++) {
          strides[k][cn] = ops[k].strides[d];
        }
        cn++;
      }
    }
    if (cn == 0) {
      sizes[0] = 1;
      cn = 1;
    }
    final int dims = cn;
    final int inner = sizes[0];
    final long chunks = (inner + Workspace.TILE - 1) / Workspace.TILE;
    final long units = (numel / inner) * chunks;

    Parallel.range(
        units,
        numel,
        PARALLEL_MIN_ELEMENTS,
        (from, to) -> {
          Workspace w = Workspace.get();
          long[] off = new long[m];
          for (long u = from; u < to; u++) {
            long row = u / chunks;
            int start = (int) ((u % chunks) * Workspace.TILE);
            int n = Math.min(Workspace.TILE, inner - start);
            java.util.Arrays.fill(off, 0);
            long r = row;
            for (int j = 1; j < dims; j++) {
              long idx = r % sizes[j];
              r /= sizes[j];
              for (int k = 0; k < m; k++) {
                off[k] += idx * strides[k][j];
              }
            }
            for (int k = 1; k < m; k++) {
              long s = strides[k][0];
              TileIO.load(family, ops[k], off[k] + start * s, s, n, w, k - 1);
            }
            kernel.run(w, n);
            long so = strides[0][0];
            TileIO.store(family, w, Workspace.OUT, out, off[0] + start * so, so, n);
          }
        });
  }
}
