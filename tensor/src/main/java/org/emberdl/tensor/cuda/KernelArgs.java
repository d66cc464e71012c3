package org.emberdl.tensor.cuda;

import org.bytedeco.cuda.cudart.CUfunc_st;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerPointer;
import org.emberdl.tensor.Layout;
import org.emberdl.tensor.NDArray;

/**
 * Packs one kernel's argument struct: every Ember kernel takes one struct of 8-byte fields (see
 * {@code ember_common.cuh}), so the struct is a sequence of longs and doubles in declaration order,
 * and launches it.
 */
final class KernelArgs {
  /** The dims a kernel's Shape and Operand structs hold ({@code EMBER_MAX_DIMS}). */
  static final int MAX_DIMS = 8;

  static final int BLOCK = 256;

  /** Blocks of a grid-stride launch at most: enough to fill any current GPU several times. */
  private static final long MAX_BLOCKS = 1 << 16;

  private final long[] words = new long[512];
  private int n;

  KernelArgs i64(long v) {
    words[n++] = v;
    return this;
  }

  KernelArgs f64(double v) {
    words[n++] = Double.doubleToRawLongBits(v);
    return this;
  }

  /** A device address: the storage's, at element 0 of its view (offset included). */
  static long address(NDArray a) {
    return a.storage().address() + a.layout().offset() * a.dtype().byteSize();
  }

  /** The Shape struct for the iteration space {@code l}'s shape; {@code dense} as computed. */
  KernelArgs shape(Layout l, boolean dense) {
    checkDims(l);
    i64(l.ndim()).i64(l.numel()).i64(dense ? 1 : 0);
    for (int d = 0; d < MAX_DIMS; d++) {
      i64(d < l.ndim() ? l.shape()[d] : 1);
    }
    return this;
  }

  /** The Operand struct of {@code a}, with strides {@code strides} (a's, or expanded). */
  KernelArgs operand(NDArray a) {
    Layout l = a.layout();
    checkDims(l);
    i64(a.storage().address()).i64(l.offset()).i64(a.dtype().ordinal());
    for (int d = 0; d < MAX_DIMS; d++) {
      i64(d < l.ndim() ? l.strides()[d] : 0);
    }
    return this;
  }

  /** The Operand struct of {@code a} with its stride on {@code dim} zeroed (gather, scatter). */
  KernelArgs operandWithoutDim(NDArray a, int dim) {
    Layout l = a.layout();
    checkDims(l);
    i64(a.storage().address()).i64(l.offset()).i64(a.dtype().ordinal());
    for (int d = 0; d < MAX_DIMS; d++) {
      i64(d < l.ndim() && d != dim ? l.strides()[d] : 0);
    }
    return this;
  }

  /** The Operand struct of a 0-d or 1-d array: its one stride in slot 0. */
  KernelArgs operand1d(NDArray a) {
    Layout l = a.layout();
    i64(a.storage().address()).i64(l.offset()).i64(a.dtype().ordinal());
    i64(l.ndim() == 0 ? 0 : l.strides()[0]);
    for (int d = 1; d < MAX_DIMS; d++) {
      i64(0);
    }
    return this;
  }

  private static void checkDims(Layout l) {
    if (l.ndim() > MAX_DIMS) {
      throw new UnsupportedOperationException(
          "CUDA kernels take arrays of at most " + MAX_DIMS + " dims, got " + l.ndim());
    }
  }

  /** Launches {@code f} on {@code ctx}'s stream over {@code elements} (grid-stride). */
  void launch(CudaContext ctx, CUfunc_st f, String name, long elements) {
    long blocks = Math.max(1, Math.min(MAX_BLOCKS, (elements + BLOCK - 1) / BLOCK));
    launch(ctx, f, name, (int) blocks, 1, 1, BLOCK);
  }

  /** Launches {@code f} with a {@code gx * gy * gz} grid of {@code block}-thread blocks. */
  void launch(CudaContext ctx, CUfunc_st f, String name, int gx, int gy, int gz, int block) {
    try (BytePointer struct = new BytePointer(8L * Math.max(n, 1));
        PointerPointer<BytePointer> params = new PointerPointer<>(1)) {
      for (int i = 0; i < n; i++) {
        struct.putLong(8L * i, words[i]);
      }
      params.put(0, struct);
      ctx.makeCurrent();
      Cuda.check(
          cudart.cuLaunchKernel(
              f, gx, gy, gz, block, 1, 1, 0, ctx.stream(), params, (PointerPointer<?>) null),
          "cuLaunchKernel(" + name + ") on " + ctx.name());
    }
  }
}
