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

  /**
   * A fully connected layer's forward {@code out = epilogue(x @ weight^T + bias)} (float32/float64)
   * in one pass over {@code out}: x {@code (m, k)} with unit column stride, weight {@code (n, k)}
   * with unit column stride, bias {@code (n)} contiguous or null, epilogue an elementwise op or
   * null, out {@code (m, n)} contiguous.
   */
  void linear(NDArray x, NDArray weight, NDArray bias, UnaryOp epilogue, NDArray out);

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
   * im2col of a batch into one matrix: {@code input} is (n, C, H, W) contiguous, {@code g} one
   * sample's geometry, {@code columns} (C * kh * kw, n * outH * outW) contiguous, row {@code (c, i,
   * j)} holding each sample's outH * outW values in turn. The default runs {@link #im2col} per
   * sample into a scratch (K, L) matrix and copies it into the sample's columns; a backend may do
   * it in one pass.
   */
  default void im2colBatch(NDArray input, Conv2dGeometry g, int n, NDArray columns) {
    int k = g.columnRows();
    int l = g.columnCols();
    long ld = (long) n * l;
    int[] plane = {g.channels(), g.height(), g.width()};
    long sampleSize = (long) g.channels() * g.height() * g.width();
    try (NDArray scratch = NDArray.empty(columns.dtype(), columns.device(), k, l)) {
      for (int s = 0; s < n; s++) {
        try (NDArray image =
                input.borrow(
                    new Layout(
                        plane,
                        Shape.contiguousStrides(plane),
                        input.layout().offset() + s * sampleSize));
            NDArray dst =
                columns.borrow(
                    new Layout(
                        new int[] {k, l},
                        new long[] {ld, 1},
                        columns.layout().offset() + (long) s * l))) {
          im2col(image, g, scratch);
          copy(scratch, dst);
        }
      }
    }
  }

  /**
   * The input gradient of an ungrouped convolution of {@code n} samples from its output gradient in
   * batch-columns layout: {@code gradRows} is (O, n * L) contiguous, row {@code o} holding each
   * sample's {@code L = outH * outW} values in turn (the layout of {@link #im2colBatch}'s columns),
   * {@code weight} (O, K) contiguous with {@code K = C * kh * kw}, {@code g} one sample's geometry,
   * and {@code image} (n, C, H, W) contiguous and zeroed: {@code image += col2im(weight^T @
   * gradRows)}, sample by sample. The default forms the whole (K, n * L) product with one GEMM and
   * accumulates each sample's (K, L) block with {@link #col2im}; a backend may interleave the two
   * in cache-sized runs of samples.
   */
  default void conv2dInputGradBatch(
      NDArray gradRows, NDArray weight, Conv2dGeometry g, int n, NDArray image) {
    int k = g.columnRows();
    int l = g.columnCols();
    int o = weight.shape(0);
    long ld = (long) n * l;
    int[] plane = {g.channels(), g.height(), g.width()};
    long sampleSize = (long) g.channels() * g.height() * g.width();
    try (NDArray columns = NDArray.empty(weight.dtype(), weight.device(), k, (int) ld);
        NDArray wT =
            weight.borrow(
                new Layout(new int[] {k, o}, new long[] {1, k}, weight.layout().offset()));
        NDArray scratch = NDArray.empty(weight.dtype(), weight.device(), k, l)) {
      matmul(wT, gradRows, columns);
      for (int s = 0; s < n; s++) {
        try (NDArray src =
                columns.borrow(new Layout(new int[] {k, l}, new long[] {ld, 1}, (long) s * l));
            NDArray dst =
                image.borrow(
                    new Layout(
                        plane,
                        Shape.contiguousStrides(plane),
                        image.layout().offset() + s * sampleSize))) {
          copy(src, scratch);
          col2im(scratch, g, dst);
        }
      }
    }
  }

  /**
   * Whether {@link #conv2dDirect} runs for {@code dtype} convolutions of geometry {@code g} (one
   * sample's): true where the backend has a direct kernel that beats im2col + GEMM there.
   */
  default boolean hasDirectConv2d(DType dtype, Conv2dGeometry g) {
    return false;
  }

  /**
   * Direct (no im2col) ungrouped convolution of {@code n} samples: input (n, C, H, W), weight (O,
   * C, kh, kw), bias (O) or null, out (n, O, outH, outW), all contiguous; {@code g} is one sample's
   * geometry. Only called where {@link #hasDirectConv2d} is true.
   */
  default void conv2dDirect(
      NDArray input, NDArray weight, NDArray bias, Conv2dGeometry g, int n, NDArray out) {
    throw new UnsupportedOperationException("conv2dDirect on " + device());
  }

  /**
   * Max pooling over (N, C, H, W) contiguous input into (N, C, outH, outW) values and int64 flat
   * indices into each input plane ({@code h * W + w}).
   */
  void maxPool2d(NDArray input, Pool2dGeometry g, NDArray out, NDArray indices);

  /** Scatters {@code gradOut} to {@code gradInput} (zeroed) at the saved indices. */
  void maxPool2dBackward(NDArray gradOut, NDArray indices, Pool2dGeometry g, NDArray gradInput);

  /**
   * The gradient of {@code relu(maxPool2d(x))} with the pooling's indices taken on {@code x}:
   * {@code gradInput = maxPool2dBackward(gradOut) * step(x)}, every element written (gradInput need
   * not be zeroed); all arrays contiguous, {@code x} and {@code gradInput} (N, C, H, W). The
   * default runs the three ops; a backend may fuse them (same values).
   */
  default void reluMaxPool2dBackward(
      NDArray gradOut, NDArray indices, NDArray x, Pool2dGeometry g, NDArray gradInput) {
    fill(gradInput, 0);
    maxPool2dBackward(gradOut, indices, g, gradInput);
    try (NDArray mask = NDArray.empty(x.dtype(), x.device(), x.shape())) {
      unary(org.emberdl.tensor.ops.UnaryOp.STEP, x, mask);
      binary(org.emberdl.tensor.ops.BinaryOp.MUL, gradInput, mask, gradInput);
    }
  }

  /** Average pooling (padding counted in the divisor, PyTorch's count_include_pad=true). */
  void avgPool2d(NDArray input, Pool2dGeometry g, NDArray out);

  void avgPool2dBackward(NDArray gradOut, Pool2dGeometry g, NDArray gradInput);

  /**
   * One fused Adam/AdamW update in place of {@code param}, {@code expAvg}, {@code expAvgSq}; all
   * four arrays are contiguous, same shape and floating dtype.
   */
  void adamUpdate(NDArray param, NDArray grad, NDArray expAvg, NDArray expAvgSq, AdamStep step);

  /**
   * Exact GELU's backward, {@code out = grad * (Phi(x) + x phi(x))}; all three arrays contiguous,
   * same shape and floating dtype.
   */
  void geluBackward(NDArray grad, NDArray x, NDArray out);

  /**
   * Layer norm over the last {@code x.numel() / mean.numel()} elements of each row of contiguous
   * {@code x}, into {@code y} (x's shape) with the per-row {@code mean} and {@code rstd} (1 / sqrt(
   * var + eps)) written for the backward; {@code weight} and {@code bias} (one row) may be null.
   */
  void layerNorm(
      NDArray x, NDArray weight, NDArray bias, double eps, NDArray y, NDArray mean, NDArray rstd);

  /**
   * Layer norm's backward into {@code dx}, and the zeroed {@code dweight}/{@code dbias} (one row
   * each) when non-null; the arrays as {@link #layerNorm}'s.
   */
  void layerNormBackward(
      NDArray grad,
      NDArray x,
      NDArray mean,
      NDArray rstd,
      NDArray weight,
      NDArray dx,
      NDArray dweight,
      NDArray dbias);

  /** {@code y = softmax(scale * x)} over rows of {@code cols} contiguous elements. */
  void softmaxRows(NDArray x, double scale, NDArray y, int cols);

  /** Softmax's backward over rows: {@code dx = scale * y * (grad - sum(grad * y))}. */
  void softmaxRowsBackward(NDArray grad, NDArray y, double scale, NDArray dx, int cols);

  /**
   * One LSTM time step's gate math for a batch of B rows, fused into one pass (PyTorch's gate order
   * i, f, g, o): {@code pre = (xGates + bIh) + (hGates + bHh)}, {@code i, f, o = sigmoid}, {@code g
   * = tanh}, {@code cNext = f * cPrev + i * g}, {@code hNext = o * tanh(cNext)}. A row whose {@code
   * valid} entry is false (its sequence has ended) keeps its state ({@code hNext = hPrev}, {@code
   * cNext = cPrev}) and gets a zero output. All arrays are contiguous.
   *
   * @param xGates (B, 4H) the input projection {@code x W_ih^T} of this step
   * @param hGates (B, 4H) the recurrent projection {@code hPrev W_hh^T}
   * @param bIh (4H), or null
   * @param bHh (4H), or null
   * @param hPrev (B, H)
   * @param cPrev (B, H)
   * @param valid (B) bool, or null when every row is valid
   * @param gates (B, 4H) out: the activated gates, kept for {@link #lstmCellBackward}
   * @param hNext (B, H) out
   * @param cNext (B, H) out
   * @param output (B, H) out: {@code hNext} on valid rows, 0 elsewhere
   */
  void lstmCell(
      NDArray xGates,
      NDArray hGates,
      NDArray bIh,
      NDArray bHh,
      NDArray hPrev,
      NDArray cPrev,
      NDArray valid,
      NDArray gates,
      NDArray hNext,
      NDArray cNext,
      NDArray output);

  /**
   * The adjoint of {@link #lstmCell} for one step. On a valid row, with {@code dh = gradHCarry +
   * gradHRec + gradOutput} and {@code dc = gradC}, it writes the gradient of the gates'
   * pre-activations into {@code gradGates}, the gradient of {@code cPrev} into {@code gradC} and 0
   * into {@code gradHCarry} (an LSTM's {@code hPrev} reaches the output only through {@code W_hh},
   * whose product the caller forms from {@code gradGates}). On a row past its sequence's end the
   * state was carried: {@code gradHCarry += gradHRec}, {@code gradC} unchanged, zero gate
   * gradients, and {@code gradOutput} is ignored (that output was the constant 0).
   *
   * @param gates (B, 4H) as saved by {@link #lstmCell}
   * @param cPrev (B, H)
   * @param valid (B) bool, or null
   * @param gradOutput (B, H), or null for none
   * @param gradHRec (B, H) the gradient reaching hNext through the next step's {@code W_hh}, or
   *     null for none
   * @param gradHCarry (B, H) in/out
   * @param gradC (B, H) in/out
   * @param gradGates (B, 4H) out
   */
  void lstmCellBackward(
      NDArray gates,
      NDArray cPrev,
      NDArray valid,
      NDArray gradOutput,
      NDArray gradHRec,
      NDArray gradHCarry,
      NDArray gradC,
      NDArray gradGates);

  /**
   * One GRU time step, fused (PyTorch's gate order r, z, n): {@code r = sigmoid(x_r + b_ir + h_r +
   * b_hr)}, {@code z} likewise, {@code n = tanh(x_n + b_in + r * (h_n + b_hn))}, {@code hNext =
   * (hPrev - n) * z + n}. Rows past their sequence's end keep their state and output 0, as in
   * {@link #lstmCell}.
   *
   * @param xGates (B, 3H)
   * @param hGates (B, 3H) {@code hPrev W_hh^T} without bias
   * @param bIh (3H), or null
   * @param bHh (3H), or null
   * @param hPrev (B, H)
   * @param valid (B) bool, or null
   * @param gates (B, 3H) out: r, z, n activated
   * @param hnb (B, H) out: {@code h_n + b_hn}, kept for the backward pass
   * @param hNext (B, H) out
   * @param output (B, H) out
   */
  void gruCell(
      NDArray xGates,
      NDArray hGates,
      NDArray bIh,
      NDArray bHh,
      NDArray hPrev,
      NDArray valid,
      NDArray gates,
      NDArray hnb,
      NDArray hNext,
      NDArray output);

  /**
   * The adjoint of {@link #gruCell}. On a valid row, with {@code dh = gradHCarry + gradHRec +
   * gradOutput}: the input-side pre-activation gradients go to {@code gradXGates} (r, z, n), the
   * hidden-side ones to {@code gradHGates} (r, z, and {@code r * dn} for n, whose hidden part sits
   * inside the reset gate), and the direct path {@code dh * z} to {@code gradHCarry}. Rows past
   * their end carry {@code gradHCarry += gradHRec} with zero gate gradients.
   *
   * @param gates (B, 3H) as saved
   * @param hnb (B, H) as saved
   * @param hPrev (B, H)
   * @param valid (B) bool, or null
   * @param gradOutput (B, H), or null
   * @param gradHRec (B, H), or null
   * @param gradHCarry (B, H) in/out
   * @param gradXGates (B, 3H) out
   * @param gradHGates (B, 3H) out
   */
  void gruCellBackward(
      NDArray gates,
      NDArray hnb,
      NDArray hPrev,
      NDArray valid,
      NDArray gradOutput,
      NDArray gradHRec,
      NDArray gradHCarry,
      NDArray gradXGates,
      NDArray gradHGates);

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
