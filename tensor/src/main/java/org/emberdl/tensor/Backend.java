package org.emberdl.tensor;

import org.emberdl.tensor.memory.Storage;
import org.emberdl.tensor.ops.AdamStep;
import org.emberdl.tensor.ops.BinaryOp;
import org.emberdl.tensor.ops.ReduceOp;
import org.emberdl.tensor.ops.UnaryOp;
import org.emberdl.tensor.random.Philox;

/**
 * The kernels of one device. {@link NDArray} validates arguments, computes result shapes and
 * dtypes, allocates outputs and makes views; a backend only runs kernels on arrays that already
 * live on its device. Output arrays passed in are allocated by the caller with the right shape and
 * dtype, and may be strided views (in-place ops); inputs may be any view, including expanded
 * (stride-0) ones.
 *
 * <p>A new device implements this interface in its own package and registers through {@link
 * java.util.ServiceLoader} ({@link BackendProvider}); callers never name a backend class.
 */
public interface Backend {
  /** The device whose memory and kernels this backend owns. */
  Device device();

  /** Allocates {@code bytes} of uninitialized device memory. */
  Storage allocate(long bytes);

  /** {@code dst = src} elementwise with dtype conversion; shapes are equal. */
  void copy(NDArray src, NDArray dst);

  /** Copies {@code bytes} raw bytes of host memory at {@code hostAddress} into {@code dst}. */
  void copyFromHost(long hostAddress, Storage dst, long dstByteOffset, long bytes);

  /** Copies raw bytes of {@code src} into host memory at {@code hostAddress}. */
  void copyToHost(Storage src, long srcByteOffset, long hostAddress, long bytes);

  /** Sets every element of {@code dst} to {@code value} (converted to its dtype). */
  void fill(NDArray dst, double value);

  /** {@code out = op(x)}; same shapes. */
  void unary(UnaryOp op, NDArray x, NDArray out);

  /** {@code out = op(a, b)}; {@code a} and {@code b} are already expanded to out's shape. */
  void binary(BinaryOp op, NDArray a, NDArray b, NDArray out);

  /**
   * {@code out = op(a, scalar)}, or {@code op(scalar, a)} when {@code scalarFirst}; computed in
   * {@code computeType}.
   */
  void binaryScalar(
      BinaryOp op, NDArray a, double scalar, boolean scalarFirst, DType computeType, NDArray out);

  /** {@code out = cond ? a : b}; all expanded to out's shape. */
  void where(NDArray cond, NDArray a, NDArray b, NDArray out);

  /**
   * Reduces the last {@code reducedDims} dims of {@code x} into {@code out}, whose shape is the
   * remaining leading dims. Argmax/argmin give the index within the flattened reduced dims.
   */
  void reduce(ReduceOp op, NDArray x, int reducedDims, NDArray out);

  /** Batched GEMM {@code out[..., m, n] = a[..., m, k] @ b[..., k, n]} (float32/float64). */
  void matmul(NDArray a, NDArray b, NDArray out);

  /** {@code out = x.indexSelect(dim, index)} with a 1-D int32/int64 index. */
  void indexSelect(NDArray x, int dim, NDArray index, NDArray out);

  /** {@code out[i][j] = x[i][index[i][j]]} (for dim 1), index shaped like out. */
  void gather(NDArray x, int dim, NDArray index, NDArray out);

  /** In place: {@code target[i][index[i][j]] += src[i][j]} (for dim 1). */
  void scatterAdd(NDArray target, int dim, NDArray index, NDArray src);

  /**
   * Fills {@code out} (contiguous) from the generator: element {@code i} uses generator values at
   * {@code offset + i} (two values for float64 uniform/normal), so results do not depend on the
   * number of threads.
   */
  void random(RandomKind kind, NDArray out, Philox generator, long offset, double a, double b);

  /**
   * im2col for 2-D convolution. {@code input} is (C, H, W) contiguous; {@code columns} is (C * kh *
   * kw, outH * outW) contiguous.
   */
  void im2col(NDArray input, Conv2dGeometry g, NDArray columns);

  /** The adjoint of {@link #im2col}: accumulates columns back into a zeroed (C, H, W) image. */
  void col2im(NDArray columns, Conv2dGeometry g, NDArray image);

  /**
   * Max pooling over (N, C, H, W) contiguous input into (N, C, outH, outW) values and int64 flat
   * indices into each input plane ({@code h * W + w}).
   */
  void maxPool2d(NDArray input, Pool2dGeometry g, NDArray out, NDArray indices);

  /** Scatters {@code gradOut} to {@code gradInput} (zeroed) at the saved indices. */
  void maxPool2dBackward(NDArray gradOut, NDArray indices, Pool2dGeometry g, NDArray gradInput);

  /** Average pooling (padding counted in the divisor, PyTorch's count_include_pad=true). */
  void avgPool2d(NDArray input, Pool2dGeometry g, NDArray out);

  void avgPool2dBackward(NDArray gradOut, Pool2dGeometry g, NDArray gradInput);

  /**
   * One fused Adam/AdamW update in place of {@code param}, {@code expAvg}, {@code expAvgSq}; all
   * four arrays are contiguous, same shape and floating dtype.
   */
  void adamUpdate(NDArray param, NDArray grad, NDArray expAvg, NDArray expAvgSq, AdamStep step);

  /** Kinds of random fill; parameters {@code a, b} per kind. */
  enum RandomKind {
    /** Uniform in [a, b). */
    UNIFORM,
    /** Normal with mean a, std b. */
    NORMAL,
    /** Integers uniform in [a, b). */
    INTEGERS,
    /** 1 with probability a, else 0. */
    BERNOULLI
  }
}
