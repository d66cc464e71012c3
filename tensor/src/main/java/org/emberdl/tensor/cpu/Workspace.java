package org.emberdl.tensor.cpu;

/**
 * Per-thread tile buffers. Slots 0-2 hold inputs, slot 3 the output. A tile is small enough that
 * four of them stay in L1/L2 while a kernel runs.
 */
final class Workspace {
  static final int TILE = 2048;
  static final int SLOTS = 4;
  static final int OUT = 3;

  private static final ThreadLocal<Workspace> LOCAL = ThreadLocal.withInitial(Workspace::new);

  final float[][] f = new float[SLOTS][TILE];
  final double[][] d = new double[SLOTS][TILE];
  final long[][] l = new long[SLOTS][TILE];

  // Output segments of the current tile (one per row it spans), stored after the kernel ran.
  final long[] segOffset = new long[TILE];
  final int[] segLength = new int[TILE];
  int segments;

  static Workspace get() {
    return LOCAL.get();
  }
}
