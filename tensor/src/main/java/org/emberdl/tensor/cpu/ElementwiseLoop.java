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

  /** Inner runs shorter than this are iterated in another order (see {@link #run}). */
  static final int SHORT_RUN = 32;

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
    // A short innermost run (a (N, 10) array plus a (10) bias) would cost one row of bookkeeping
    // per 10 elements; iterate the longest dim innermost instead (strided, but far fewer rows).
    if (cn > 1 && sizes[0] < SHORT_RUN) {
      int longest = 0;
      for (int j = 1; j < cn; j++) {
        if (sizes[j] > sizes[longest]) {
          longest = j;
        }
      }
      if (longest != 0) {
        int sz = sizes[0];
        sizes[0] = sizes[longest];
        sizes[longest] = sz;
        for (int k = 0; k < m; k++) {
          long st = strides[k][0];
          strides[k][0] = strides[k][longest];
          strides[k][longest] = st;
        }
      }
    }
    final int dims = cn;
    final int inner = sizes[0];
    final long tiles = (numel + Workspace.TILE - 1) / Workspace.TILE;

    // A tile is TILE consecutive elements of the iteration order; it may span many short rows
    // (a (256, 10) + (10) bias add is one tile, not 256), so per-tile costs (dispatch, index
    // arithmetic) are paid once per TILE elements and only the copies run per row.
    Parallel.range(
        tiles,
        numel,
        PARALLEL_MIN_ELEMENTS,
        (from, to) -> {
          Workspace w = Workspace.get();
          long[] off = new long[m];
          int[] idx = new int[dims];
          for (long t = from; t < to; t++) {
            long start = t * Workspace.TILE;
            int n = (int) Math.min(Workspace.TILE, numel - start);
            // position of `start`: column in the inner run, then an odometer over outer dims
            java.util.Arrays.fill(off, 0);
            long r = start / inner;
            int col = (int) (start % inner);
            for (int j = 1; j < dims; j++) {
              idx[j] = (int) (r % sizes[j]);
              r /= sizes[j];
              for (int k = 0; k < m; k++) {
                off[k] += idx[j] * strides[k][j];
              }
            }
            int pos = 0;
            w.segments = 0; // also clears what a kernel that threw (int pow) left behind
            while (pos < n) {
              int len = Math.min(inner - col, n - pos);
              for (int k = 1; k < m; k++) {
                long s = strides[k][0];
                TileIO.load(family, ops[k], off[k] + col * s, s, len, w, k - 1, pos);
              }
              // the output is stored after the kernel; remember where this segment goes
              w.segOffset[w.segments] = off[0] + col * strides[0][0];
              w.segLength[w.segments++] = len;
              pos += len;
              col = 0;
              // advance the odometer to the next row
              for (int j = 1; j < dims; j++) {
                for (int k = 0; k < m; k++) {
                  off[k] += strides[k][j];
                }
                if (++idx[j] < sizes[j]) {
                  break;
                }
                for (int k = 0; k < m; k++) {
                  off[k] -= strides[k][j] * sizes[j];
                }
                idx[j] = 0;
              }
            }
            kernel.run(w, n);
            long so = strides[0][0];
            int at = 0;
            for (int sg = 0; sg < w.segments; sg++) {
              int len = w.segLength[sg];
              TileIO.store(family, w, Workspace.OUT, at, out, w.segOffset[sg], so, len);
              at += len;
            }
          }
        });
  }
}
