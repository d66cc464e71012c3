package org.emberdl.tensor;

/**
 * 2-D convolution and pooling on {@link NDArray}s, without autograd (the autograd functions call
 * these kernels), with the semantics of PyTorch's {@code torch.nn.functional.conv2d}, {@code
 * max_pool2d(..., return_indices=True)} and {@code avg_pool2d(..., count_include_pad=True,
 * ceil_mode=False)}.
 *
 * <p>Inputs are (N, C, H, W) or unbatched (C, H, W); results have the same rank. Sizes ({@code
 * stride}, {@code padding}, {@code dilation}, {@code kernel}) are {@code {h, w}} pairs or one value
 * for both dims. Any input view is accepted; non-contiguous inputs are copied once.
 *
 * <p>Convolution is im2col + GEMM, chosen by shape:
 *
 * <ul>
 *   <li>ungrouped, with the whole batch's columns within 64 MiB: one (K, N * L) im2col matrix
 *       ({@code K = C * kh * kw}, {@code L = outH * outW}) and one GEMM {@code columns^T @
 *       weight^T}; {@link #conv2dKeepingColumns} hands the matrix to the caller so that {@link
 *       #conv2dBackward} computes the weight gradient as one GEMM over the batch without building
 *       it again;
 *   <li>ungrouped with few inputs per output where the backend has a direct kernel ({@link
 *       Backend#hasDirectConv2d}: on CPU float32, stride 1, K at most 16, such as a first layer on
 *       1-channel images): no im2col at all;
 *   <li>otherwise the columns of a chunk of samples are built by one im2col call (samples and
 *       channels are independent image planes, so a (n, C, H, W) block is one (n * C, H, W) image)
 *       and multiplied by one batched GEMM over (sample, group). Chunks bound the columns' memory.
 * </ul>
 *
 * Every intermediate not handed to the caller is freed before returning.
 */
public final class Convolution {
  /** Upper bound on the im2col buffer of one chunk of samples (at least one sample per chunk). */
  private static final long COLUMN_BUDGET_BYTES = 64L << 20;

  private Convolution() {}

  // ---------------------------------------------------------------------------------------------
  // Convolution

  /**
   * The 2-D convolution {@code out[n, o] = bias[o] + sum_c weight[o, c] (*) input[n, g * C/G + c]}
   * over the group {@code g} of output channel {@code o}, as {@code torch.nn.functional.conv2d}.
   *
   * @param input (N, C, H, W) or (C, H, W), float32 or float64
   * @param weight (O, C / groups, kh, kw), same dtype as input
   * @param bias (O), or null
   * @param stride {@code {sh, sw}} or {@code {s}}, positive
   * @param padding {@code {ph, pw}} or {@code {p}}, zero padding on both sides, non-negative
   * @param dilation {@code {dh, dw}} or {@code {d}}, positive
   * @param groups positive, dividing C and O
   * @return (N, O, outH, outW), or (O, outH, outW) for an unbatched input
   * @throws IllegalArgumentException naming the shapes when ranks, channels, groups, dtypes or
   *     devices do not fit, or when the dilated kernel is larger than the padded input
   */
  public static NDArray conv2d(
      NDArray input,
      NDArray weight,
      NDArray bias,
      int[] stride,
      int[] padding,
      int[] dilation,
      int groups) {
    ConvPlan p =
        ConvPlan.of(
            "conv2d",
            input.shape(),
            weight.shape(),
            stride,
            padding,
            dilation,
            groups,
            input.dtype().byteSize());
    checkForward(p, input, weight, bias);
    if (p.direct(input)) {
      return directForward(p, input, weight, bias);
    }
    if (p.batchedColumns()) {
      try (NDArray columns = columnsOf(p, input)) {
        return batchedForward(p, columns, weight, bias);
      }
    }
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray out = NDArray.empty(input.dtype(), input.device(), p.outShape());
      if (p.n > 0) {
        NDArray x = input.contiguous();
        NDArray w = weight.contiguous();
        NDArray columns = NDArray.empty(input.dtype(), input.device(), p.columnsShape());
        for (int n0 = 0; n0 < p.n; n0 += p.chunk) {
          int nb = Math.min(p.chunk, p.n - n0);
          try (NDArray image = p.imageChunk(x, n0, nb);
              NDArray cols = p.columnsChunk(columns, nb);
              // weight (G, Og, K), shared by all samples of the chunk: (nb, G, Og, K)
              NDArray wb = w.borrow(p.weightAsBatch(w, nb, false));
              NDArray y = p.outputChunk(out, n0, nb)) {
            x.backend().im2col(image, p.geometry(nb), cols);
            // (nb, G, Og, K) @ (nb, G, K, L) -> (nb, G, Og, L), straight into the output
            x.backend().matmul(wb, cols, y);
          }
        }
        if (bias != null) {
          // (O, 1, 1) broadcasts over (N, O, outH, outW) and (O, outH, outW) alike
          out.addInPlace(bias.reshape(p.o, 1, 1));
        }
      }
      return scope.keep(out);
    }
  }

  /** {@link #conv2d}'s output and, where kept, the im2col columns of its input. */
  public record Conv2dResult(NDArray output, NDArray columns) {}

  /** The gradients of {@link #conv2d}; an entry is null where it was not asked for. */
  public record Conv2dGrads(NDArray input, NDArray weight, NDArray bias) {}

  /**
   * {@link #conv2d}, also returning the im2col columns of the input for {@link #conv2dBackward}, so
   * that the weight gradient does not build them again. The columns, (C * kh * kw, N * outH *
   * outW), are kept only for an ungrouped convolution whose columns fit in 64 MiB and that the
   * backend does not convolve directly ({@link Backend#hasDirectConv2d}); otherwise {@code columns}
   * is null and the backward pass takes the per-sample path. The caller owns them and closes them
   * after the backward pass (the autograd node does, or its scope).
   */
  public static Conv2dResult conv2dKeepingColumns(
      NDArray input,
      NDArray weight,
      NDArray bias,
      int[] stride,
      int[] padding,
      int[] dilation,
      int groups) {
    ConvPlan p =
        ConvPlan.of(
            "conv2d",
            input.shape(),
            weight.shape(),
            stride,
            padding,
            dilation,
            groups,
            input.dtype().byteSize());
    if (!p.batchedColumns() || p.direct(input)) {
      return new Conv2dResult(conv2d(input, weight, bias, stride, padding, dilation, groups), null);
    }
    checkForward(p, input, weight, bias);
    NDArray columns = columnsOf(p, input);
    try {
      return new Conv2dResult(batchedForward(p, columns, weight, bias), columns);
    } catch (RuntimeException e) {
      columns.close();
      throw e;
    }
  }

  /**
   * The gradients of {@link #conv2d} with respect to the input, weight and bias, each computed only
   * where asked for. With the forward's columns the weight gradient is one GEMM over the whole
   * batch and the bias gradient comes from the same transposed copy of {@code gradOut}; without
   * them this is {@link #conv2dBackwardInput}, {@link #conv2dBackwardWeight} and {@link
   * #conv2dBackwardBias}.
   *
   * @param columns the forward's columns from {@link #conv2dKeepingColumns}, or null
   * @param input the forward input (read only when columns is null and the weight gradient is asked
   *     for)
   * @param inputShape the forward input's shape
   */
  public static Conv2dGrads conv2dBackward(
      NDArray gradOut,
      NDArray input,
      NDArray columns,
      NDArray weight,
      int[] inputShape,
      int[] stride,
      int[] padding,
      int[] dilation,
      int groups,
      boolean inputGrad,
      boolean weightGrad,
      boolean biasGrad) {
    String op = "conv2dBackward";
    int[] wShape = weight.shape();
    ConvPlan p =
        ConvPlan.of(
            op, inputShape, wShape, stride, padding, dilation, groups, weight.dtype().byteSize());
    checkFloating(op, "weight", weight);
    checkSame(op, "weight", weight, "gradOut", gradOut);
    p.checkGradOut(op, gradOut);
    if (columns != null) {
      checkSame(op, "weight", weight, "columns", columns);
      int[] expected = {p.k, p.n * p.l()};
      if (!p.batchedColumns() || !java.util.Arrays.equals(columns.shape(), expected)) {
        throw new IllegalArgumentException(
            op
                + ": columns must be the forward's im2col matrix "
                + Shape.toString(expected)
                + " of an ungrouped convolution, got "
                + Shape.toString(columns.shape())
                + " for input "
                + Shape.toString(inputShape)
                + ", weight "
                + Shape.toString(wShape));
      }
    }
    if (weightGrad && columns == null && input != null) {
      checkSame(op, "weight", weight, "input", input);
      if (!java.util.Arrays.equals(input.shape(), inputShape)) {
        throw new IllegalArgumentException(
            op
                + ": input "
                + Shape.toString(input.shape())
                + " does not have inputShape "
                + Shape.toString(inputShape));
      }
    }
    if (weightGrad && columns == null && input == null) {
      throw new IllegalArgumentException(
          op + ": the weight gradient needs the forward's input or its columns; both are null");
    }
    if (columns == null) {
      // Without the forward's columns the per-sample path is faster (building the (K, N * L)
      // matrix again costs more than it saves); the direct layers (few inputs per output) never
      // keep columns.
      NDArray gx =
          inputGrad
              ? conv2dBackwardInput(gradOut, weight, inputShape, stride, padding, dilation, groups)
              : null;
      return new Conv2dGrads(
          gx,
          weightGrad
              ? conv2dBackwardWeight(gradOut, input, wShape, stride, padding, dilation, groups)
              : null,
          biasGrad ? conv2dBackwardBias(gradOut) : null);
    }
    return batchedBackward(p, gradOut, columns, weight, inputGrad, weightGrad, biasGrad);
  }

  private static void checkForward(ConvPlan p, NDArray input, NDArray weight, NDArray bias) {
    checkFloating("conv2d", "input", input);
    checkSame("conv2d", "input", input, "weight", weight);
    if (bias != null) {
      checkSame("conv2d", "input", input, "bias", bias);
      if (bias.ndim() != 1 || bias.shape(0) != p.o) {
        throw new IllegalArgumentException(
            "conv2d: bias must have shape ("
                + p.o
                + ") for weight "
                + Shape.toString(weight.shape())
                + ", got "
                + Shape.toString(bias.shape()));
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The batched-columns path: the whole batch's im2col as one (K, N * L) matrix (groups == 1)

  /** The im2col of the whole batch, (K, N * L); the caller owns it. */
  private static NDArray columnsOf(ConvPlan p, NDArray input) {
    NDArray columns = NDArray.empty(input.dtype(), input.device(), p.k, p.n * p.l());
    try (NDArray x = input.contiguous()) {
      input.backend().im2colBatch(x, p.geometry(1), p.n, columns);
    } catch (RuntimeException e) {
      columns.close();
      throw e;
    }
    return columns;
  }

  /**
   * {@code columns^T (N * L, K) @ weight^T (K, O)}, one GEMM whose long M the GEMM splits across
   * threads (each output element is one dot product over K, so the split does not change it), then
   * one pass that transposes each sample's (L, O) block into (O, L) and adds the bias. Of the
   * layouts measured for the examples' conv2 (O = 64, K = 288, L = 121, batch 128, one thread of
   * this machine's OpenBLAS) this one runs fastest: 17.5 ms, against 25.4 ms for {@code weight @
   * columns} and 45.1 ms for per-sample GEMMs.
   */
  private static NDArray batchedForward(ConvPlan p, NDArray columns, NDArray weight, NDArray bias) {
    int l = p.l();
    int nl = p.n * l;
    DType dt = columns.dtype();
    Device dev = columns.device();
    Backend be = columns.backend();
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray out = NDArray.empty(dt, dev, p.outShape());
      NDArray w = weight.contiguous();
      NDArray products = NDArray.empty(dt, dev, nl, p.o);
      try (NDArray colsT =
              columns.borrow(
                  new Layout(new int[] {nl, p.k}, new long[] {1, nl}, columns.layout().offset()));
          NDArray wT =
              w.borrow(
                  new Layout(new int[] {p.k, p.o}, new long[] {1, p.k}, w.layout().offset()))) {
        be.matmul(colsT, wT, products);
      }
      // products (N, L, O) -> out (N, O, L), bias added on the way
      int[] shape = {p.n, p.o, l};
      try (NDArray src =
              products.borrow(
                  new Layout(
                      shape, new long[] {(long) l * p.o, 1, p.o}, products.layout().offset()));
          NDArray dst = out.borrow(Layout.contiguous(shape))) {
        if (bias == null) {
          be.copy(src, dst);
        } else {
          try (NDArray b = bias.contiguous();
              NDArray bb = b.borrow(new Layout(shape, new long[] {0, 1, 0}, b.layout().offset()))) {
            be.binary(org.emberdl.tensor.ops.BinaryOp.ADD, src, bb, dst);
          }
        }
      }
      return scope.keep(out);
    }
  }

  /**
   * The gradients from the forward's kept columns. {@code gradOut} is copied once to (O, N * L)
   * ({@code gT}, the columns' layout; its row sums are the bias gradient), and then:
   *
   * <ul>
   *   <li>the input gradient is {@code col2im(weight^T @ gT)}, formed by the backend in cache-sized
   *       runs of samples ({@link Backend#conv2dInputGradBatch}: on the CPU one parallel region,
   *       each thread claiming runs of samples) instead of the whole (K, N * L) product at once;
   *   <li>the weight gradient is {@code (columns @ gT^T)^T}: one GEMM {@code (K, N L) @ (N L, O)}
   *       (the long inner dimension sliced by shape alone, rows split across threads, so the result
   *       does not depend on the thread count), then a (K, O) transpose. On this machine's OpenBLAS
   *       this layout ran the examples' conv2 (O = 64, K = 288, N L = 15,488) in 15.3 ms on one
   *       thread against 18.8 ms for {@code gT @ columns^T}.
   * </ul>
   */
  private static Conv2dGrads batchedBackward(
      ConvPlan p,
      NDArray gradOut,
      NDArray columns,
      NDArray weight,
      boolean inputGrad,
      boolean weightGrad,
      boolean biasGrad) {
    int l = p.l();
    int nl = p.n * l;
    DType dt = gradOut.dtype();
    Device dev = gradOut.device();
    Backend be = gradOut.backend();
    try (MemoryScope scope = MemoryScope.open()) {
      // gradOut (N, O, L) -> (O, N, L)
      NDArray gT = NDArray.empty(dt, dev, p.o, nl);
      try (NDArray go = gradOut.contiguous();
          NDArray src =
              go.borrow(
                  new Layout(
                      new int[] {p.o, p.n, l},
                      new long[] {l, (long) p.o * l, 1},
                      go.layout().offset()));
          NDArray dst = gT.borrow(Layout.contiguous(new int[] {p.o, p.n, l}))) {
        be.copy(src, dst);
      }
      NDArray gx = null;
      if (inputGrad) {
        gx =
            NDArray.zeros(
                dt, dev, p.batched ? new int[] {p.n, p.c, p.h, p.w} : new int[] {p.c, p.h, p.w});
        NDArray w = weight.contiguous();
        try (NDArray w2 =
            w.borrow(new Layout(new int[] {p.o, p.k}, new long[] {p.k, 1}, w.layout().offset()))) {
          be.conv2dInputGradBatch(gT, w2, p.geometry(1), p.n, gx);
        }
      }
      NDArray gb = biasGrad ? gT.sum(1) : null;
      NDArray gw = null;
      if (weightGrad) {
        gw = NDArray.empty(dt, dev, p.weightShape());
        NDArray gwT = NDArray.empty(dt, dev, p.k, p.o);
        try (NDArray gTT =
                gT.borrow(
                    new Layout(new int[] {nl, p.o}, new long[] {1, nl}, gT.layout().offset()));
            NDArray src =
                gwT.borrow(
                    new Layout(new int[] {p.o, p.k}, new long[] {1, p.o}, gwT.layout().offset()));
            NDArray gw2 = gw.borrow(Layout.contiguous(new int[] {p.o, p.k}))) {
          be.matmul(columns, gTT, gwT);
          be.copy(src, gw2);
        }
      }
      return new Conv2dGrads(
          gx == null ? null : scope.keep(gx),
          gw == null ? null : scope.keep(gw),
          gb == null ? null : scope.keep(gb));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The direct forward: ungrouped convolutions with few inputs per output (Backend#hasDirectConv2d)

  private static NDArray directForward(ConvPlan p, NDArray input, NDArray weight, NDArray bias) {
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray out = NDArray.empty(input.dtype(), input.device(), p.outShape());
      input
          .backend()
          .conv2dDirect(
              input.contiguous(),
              weight.contiguous(),
              bias == null ? null : bias.contiguous(),
              p.geometry(1),
              p.n,
              out);
      return scope.keep(out);
    }
  }

  /**
   * The gradient of {@link #conv2d} with respect to its input: {@code columns = weight_g^T @
   * gradOut_g} per sample and group, accumulated back into image positions by col2im.
   *
   * @param gradOut (N, O, outH, outW) or (O, outH, outW), like conv2d's output
   * @param weight (O, C / groups, kh, kw)
   * @param inputShape (N, C, H, W) or (C, H, W) of the forward input
   * @return the gradient, shaped {@code inputShape}, in weight's dtype
   */
  public static NDArray conv2dBackwardInput(
      NDArray gradOut,
      NDArray weight,
      int[] inputShape,
      int[] stride,
      int[] padding,
      int[] dilation,
      int groups) {
    ConvPlan p =
        ConvPlan.of(
            "conv2dBackwardInput",
            inputShape,
            weight.shape(),
            stride,
            padding,
            dilation,
            groups,
            weight.dtype().byteSize());
    checkFloating("conv2dBackwardInput", "weight", weight);
    checkSame("conv2dBackwardInput", "weight", weight, "gradOut", gradOut);
    p.checkGradOut("conv2dBackwardInput", gradOut);
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray gradIn = NDArray.zeros(weight.dtype(), weight.device(), inputShape);
      if (p.n > 0) {
        NDArray go = gradOut.contiguous();
        NDArray w = weight.contiguous();
        NDArray columns = NDArray.empty(weight.dtype(), weight.device(), p.columnsShape());
        for (int n0 = 0; n0 < p.n; n0 += p.chunk) {
          int nb = Math.min(p.chunk, p.n - n0);
          try (NDArray cols = p.columnsChunk(columns, nb);
              // weight_g^T: (nb, G, K, Og), a transposed view BLAS reads as is
              NDArray wt = w.borrow(p.weightAsBatch(w, nb, true));
              NDArray g = p.outputChunk(go, n0, nb);
              NDArray image = p.imageChunk(gradIn, n0, nb)) {
            // (nb, G, K, Og) @ (nb, G, Og, L) -> (nb, G, K, L)
            w.backend().matmul(wt, g, cols);
            w.backend().col2im(cols, p.geometry(nb), image);
          }
        }
      }
      return scope.keep(gradIn);
    }
  }

  /**
   * The gradient of {@link #conv2d} with respect to its weight: {@code sum_n gradOut_{n,g} @
   * columns_{n,g}^T} per group, where {@code columns} is the im2col of the forward input.
   *
   * @param gradOut (N, O, outH, outW) or (O, outH, outW), like conv2d's output
   * @param input the forward input, (N, C, H, W) or (C, H, W)
   * @param weightShape (O, C / groups, kh, kw)
   * @return the gradient, shaped {@code weightShape}, in input's dtype
   */
  public static NDArray conv2dBackwardWeight(
      NDArray gradOut,
      NDArray input,
      int[] weightShape,
      int[] stride,
      int[] padding,
      int[] dilation,
      int groups) {
    ConvPlan p =
        ConvPlan.of(
            "conv2dBackwardWeight",
            input.shape(),
            weightShape,
            stride,
            padding,
            dilation,
            groups,
            input.dtype().byteSize());
    checkFloating("conv2dBackwardWeight", "input", input);
    checkSame("conv2dBackwardWeight", "input", input, "gradOut", gradOut);
    p.checkGradOut("conv2dBackwardWeight", gradOut);
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray gradW = NDArray.zeros(input.dtype(), input.device(), weightShape);
      if (p.n > 0) {
        NDArray x = input.contiguous();
        NDArray go = gradOut.contiguous();
        NDArray columns = NDArray.empty(input.dtype(), input.device(), p.columnsShape());
        // Per-sample products, summed afterwards: the GEMM has no accumulate (beta) operand.
        int perSample = p.o * p.k;
        NDArray partial = NDArray.empty(input.dtype(), input.device(), p.chunk * perSample);
        // The sample sum is itself a GEMM, ones (1, nb) @ products (nb, O * K): one contiguous
        // pass, where a reduction over dim 0 would gather with a stride of O * K.
        NDArray ones = NDArray.full(input.dtype(), input.device(), 1, 1, p.chunk);
        NDArray sum = NDArray.empty(input.dtype(), input.device(), 1, perSample);
        NDArray acc = gradW.view(1, perSample);
        for (int n0 = 0; n0 < p.n; n0 += p.chunk) {
          int nb = Math.min(p.chunk, p.n - n0);
          try (NDArray image = p.imageChunk(x, n0, nb);
              NDArray cols = p.columnsChunk(columns, nb);
              // columns^T: (nb, G, L, K), a transposed view BLAS reads as is
              NDArray colsT = cols.borrow(cols.layout().transpose(2, 3));
              NDArray g = p.outputChunk(go, n0, nb);
              NDArray prod = partial.borrow(Layout.contiguous(new int[] {nb, p.g, p.og, p.k}));
              NDArray prod2d = partial.borrow(Layout.contiguous(new int[] {nb, perSample}));
              NDArray onesB = ones.borrow(Layout.contiguous(new int[] {1, nb}))) {
            x.backend().im2col(image, p.geometry(nb), cols);
            // (nb, G, Og, L) @ (nb, G, L, K) -> (nb, G, Og, K)
            x.backend().matmul(g, colsT, prod);
            // (1, nb) @ (nb, O * K) -> (1, O * K); straight into the result for the first chunk
            x.backend().matmul(onesB, prod2d, n0 == 0 ? acc : sum);
            if (n0 > 0) {
              acc.addInPlace(sum);
            }
          }
        }
      }
      return scope.keep(gradW);
    }
  }

  /**
   * Each sample's own weight gradient of {@link #conv2d}, {@code G_n = gradOut_{n,g} @
   * columns_{n,g}^T} per group: the per-sample terms that {@link #conv2dBackwardWeight} sums, as
   * per-example gradient clipping (DP-SGD) needs. One batched GEMM per chunk of samples, straight
   * into the result: {@code 2 L Og K} flops per sample and group ({@code L = outH * outW}, {@code K
   * = C/G * kh * kw}).
   *
   * @param gradOut (N, O, outH, outW) or (O, outH, outW), like conv2d's output
   * @param input the forward input, (N, C, H, W) or (C, H, W)
   * @param weightShape (O, C / groups, kh, kw)
   * @return (N, O, C / groups, kh, kw) (N = 1 for an unbatched input), in input's dtype
   */
  public static NDArray conv2dPerSampleWeightGrads(
      NDArray gradOut,
      NDArray input,
      int[] weightShape,
      int[] stride,
      int[] padding,
      int[] dilation,
      int groups) {
    String op = "conv2dPerSampleWeightGrads";
    ConvPlan p =
        ConvPlan.of(
            op,
            input.shape(),
            weightShape,
            stride,
            padding,
            dilation,
            groups,
            input.dtype().byteSize());
    checkFloating(op, "input", input);
    checkSame(op, "input", input, "gradOut", gradOut);
    p.checkGradOut(op, gradOut);
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray grads =
          NDArray.empty(
              input.dtype(),
              input.device(),
              p.n,
              weightShape[0],
              weightShape[1],
              weightShape[2],
              weightShape[3]);
      if (p.n > 0) {
        NDArray x = input.contiguous();
        NDArray go = gradOut.contiguous();
        NDArray columns = NDArray.empty(input.dtype(), input.device(), p.columnsShape());
        long perSample = (long) p.o * p.k;
        for (int n0 = 0; n0 < p.n; n0 += p.chunk) {
          int nb = Math.min(p.chunk, p.n - n0);
          int[] shape = {nb, p.g, p.og, p.k};
          try (NDArray image = p.imageChunk(x, n0, nb);
              NDArray cols = p.columnsChunk(columns, nb);
              NDArray colsT = cols.borrow(cols.layout().transpose(2, 3));
              NDArray g = p.outputChunk(go, n0, nb);
              NDArray prod =
                  grads.borrow(
                      new Layout(
                          shape,
                          Shape.contiguousStrides(shape),
                          grads.layout().offset() + n0 * perSample))) {
            x.backend().im2col(image, p.geometry(nb), cols);
            // (nb, G, Og, L) @ (nb, G, L, K) -> (nb, G, Og, K)
            x.backend().matmul(g, colsT, prod);
          }
        }
      }
      return scope.keep(grads);
    }
  }

  /**
   * Each sample's squared norm of its own weight gradient of {@link #conv2d}: {@code ||G_n||^2}
   * with {@code G_n = gradOut_{n,g} @ columns_{n,g}^T} per group (the per-sample term that {@link
   * #conv2dBackwardWeight} sums over samples), as per-example gradient clipping (DP-SGD) needs. Two
   * ways, equal up to rounding; with {@code A = columns_{n,g}} ({@code K x L}, {@code K = C/G * kh
   * * kw}, {@code L = outH * outW}) and {@code D = gradOut_{n,g}} ({@code Og x L}):
   *
   * <ul>
   *   <li>{@code ghost = false}: materialises {@code D A^T} ({@code Og x K}) by one batched GEMM
   *       per chunk of samples and sums its squares: {@code 2 L Og K} flops per sample and group,
   *       {@code Og K} floats of scratch per sample.
   *   <li>{@code ghost = true}: the ghost norm {@code ||D A^T||_F^2 = <A^T A, D^T D>_F}, two {@code
   *       L x L} Gram matrices by batched GEMMs and their Frobenius inner product: {@code 2 L^2 (K
   *       + Og)} flops, {@code 2 L^2} floats of scratch per sample; cheaper when {@code L (K + Og)
   *       < Og K} (few output positions, many channels).
   * </ul>
   *
   * The inner products are batched GEMMs too ({@code (1, M) @ (M, 1)} per sample); chunks of
   * samples bound the scratch memory as {@link #conv2dBackwardWeight} bounds its columns.
   *
   * @param gradOut (N, O, outH, outW) or (O, outH, outW), like conv2d's output
   * @param input the forward input, (N, C, H, W) or (C, H, W)
   * @param weightShape (O, C / groups, kh, kw)
   * @return (N) (one value for an unbatched input), in input's dtype
   */
  public static NDArray conv2dPerSampleWeightGradSquaredNorms(
      NDArray gradOut,
      NDArray input,
      int[] weightShape,
      int[] stride,
      int[] padding,
      int[] dilation,
      int groups,
      boolean ghost) {
    String op = "conv2dPerSampleWeightGradSquaredNorms";
    int es = input.dtype().byteSize();
    ConvPlan p0 =
        ConvPlan.of(op, input.shape(), weightShape, stride, padding, dilation, groups, es);
    checkFloating(op, "input", input);
    checkSame(op, "input", input, "gradOut", gradOut);
    p0.checkGradOut(op, gradOut);
    int l = p0.l();
    long scratch = ghost ? 2L * p0.g * l * l : (long) p0.o * p0.k;
    ConvPlan p = p0.withScratch(scratch, es);
    DType dt = input.dtype();
    Device dev = input.device();
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray result = NDArray.empty(dt, dev, p.n);
      if (p.n > 0) {
        NDArray x = input.contiguous();
        NDArray go = gradOut.contiguous();
        NDArray columns = NDArray.empty(dt, dev, p.columnsShape());
        // ghost: the two Gram matrices (chunk, G, L, L); else the gradients (chunk, G, Og, K)
        long per = ghost ? (long) p.g * l * l : (long) p.o * p.k;
        NDArray first = NDArray.empty(dt, dev, Math.toIntExact(p.chunk * per));
        NDArray second = ghost ? NDArray.empty(dt, dev, Math.toIntExact(p.chunk * per)) : first;
        int m = Math.toIntExact(per);
        for (int n0 = 0; n0 < p.n; n0 += p.chunk) {
          int nb = Math.min(p.chunk, p.n - n0);
          try (NDArray image = p.imageChunk(x, n0, nb);
              NDArray cols = p.columnsChunk(columns, nb);
              NDArray colsT = cols.borrow(cols.layout().transpose(2, 3));
              NDArray g = p.outputChunk(go, n0, nb);
              NDArray row = first.borrow(Layout.contiguous(new int[] {nb, 1, m}));
              NDArray col = second.borrow(Layout.contiguous(new int[] {nb, m, 1}));
              NDArray dots =
                  result.borrow(
                      new Layout(
                          new int[] {nb, 1, 1},
                          new long[] {1, 1, 1},
                          result.layout().offset() + n0))) {
            x.backend().im2col(image, p.geometry(nb), cols);
            if (ghost) {
              try (NDArray gramA = first.borrow(Layout.contiguous(new int[] {nb, p.g, l, l}));
                  NDArray gramD = second.borrow(Layout.contiguous(new int[] {nb, p.g, l, l}));
                  NDArray gT = g.borrow(g.layout().transpose(2, 3))) {
                // (nb, G, L, K) @ (nb, G, K, L) and (nb, G, L, Og) @ (nb, G, Og, L)
                x.backend().matmul(colsT, cols, gramA);
                x.backend().matmul(gT, g, gramD);
              }
            } else {
              try (NDArray prod = first.borrow(Layout.contiguous(new int[] {nb, p.g, p.og, p.k}))) {
                // (nb, G, Og, L) @ (nb, G, L, K) -> (nb, G, Og, K), each sample's gradient
                x.backend().matmul(g, colsT, prod);
              }
            }
            // per sample: (1, M) @ (M, 1), the Frobenius inner product
            x.backend().matmul(row, col, dots);
          }
        }
      }
      return scope.keep(result);
    }
  }

  /**
   * The gradient of {@link #conv2d} with respect to its bias: {@code gradOut} summed over every dim
   * but the channel one.
   *
   * @param gradOut (N, O, outH, outW) or (O, outH, outW)
   * @return (O)
   */
  public static NDArray conv2dBackwardBias(NDArray gradOut) {
    checkFloating("conv2dBackwardBias", "gradOut", gradOut);
    int nd = gradOut.ndim();
    if (nd != 3 && nd != 4) {
      throw new IllegalArgumentException(
          "conv2dBackwardBias: gradOut must be (N, O, H, W) or (O, H, W), got "
              + Shape.toString(gradOut.shape()));
    }
    int[] s = gradOut.shape();
    int n = nd == 4 ? s[0] : 1;
    int o = s[nd - 3];
    try (MemoryScope scope = MemoryScope.open()) {
      // Sum the contiguous (H * W) runs first, then the batch: no strided pass over gradOut.
      NDArray perSample = gradOut.reshape(n, o, s[nd - 2] * s[nd - 1]).sum(2); // (N, O)
      return scope.keep(perSample.sum(0));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Pooling

  /**
   * Max pooling with the flat index of each maximum in its input plane ({@code h * W + w}), as
   * {@code torch.nn.functional.max_pool2d(..., return_indices=True)}. Ties go to the first position
   * in row-major window order; a NaN in a window is the maximum, with the index of the window's
   * last NaN (PyTorch's rule).
   *
   * @param input (N, C, H, W) or (C, H, W), float32 or float64
   * @param kernel {@code {kh, kw}} or {@code {k}}
   * @param stride {@code {sh, sw}}, {@code {s}}, or null / empty for the kernel size (PyTorch's
   *     default)
   * @param padding {@code {ph, pw}} or {@code {p}}, at most half the kernel; padding never wins
   * @return values like input's dtype and int64 indices, both (N, C, outH, outW) (or unbatched)
   */
  public static ValuesIndices maxPool2d(NDArray input, int[] kernel, int[] stride, int[] padding) {
    checkFloating("maxPool2d", "input", input);
    PoolPlan p = PoolPlan.of("maxPool2d", input.shape(), kernel, stride, padding);
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray values = NDArray.empty(input.dtype(), input.device(), p.outShape);
      NDArray indices = NDArray.empty(DType.INT64, input.device(), p.outShape);
      if (values.numel() > 0) {
        input.backend().maxPool2d(input.contiguous(), p.geometry, values, indices);
      }
      return new ValuesIndices(scope.keep(values), scope.keep(indices));
    }
  }

  /**
   * ReLU then max pooling in one pass over the input: {@code relu(maxPool2d(x))}, which equals
   * {@code maxPool2d(relu(x))} (ReLU is monotone and keeps NaN), with {@code maxPool2d(x)}'s
   * indices. Reads the input once and applies ReLU to the pooled result only (a quarter of the
   * input for 2x2 windows) instead of writing a rectified copy of the whole input.
   *
   * @return values (ReLU applied) and int64 indices, as {@link #maxPool2d}
   */
  public static ValuesIndices reluMaxPool2d(
      NDArray input, int[] kernel, int[] stride, int[] padding) {
    ValuesIndices vi = maxPool2d(input, kernel, stride, padding);
    NDArray v = vi.values();
    v.backend().unary(org.emberdl.tensor.ops.UnaryOp.RELU, v, v);
    return vi;
  }

  /**
   * The gradient of {@link #maxPool2d}: each element of {@code gradOut} is added to the input
   * position its index names.
   *
   * @param gradOut like maxPool2d's values
   * @param indices maxPool2d's int64 indices
   * @param inputShape (N, C, H, W) or (C, H, W) of the forward input
   * @return the gradient, shaped {@code inputShape}, in gradOut's dtype
   */
  /**
   * The gradient of {@link #reluMaxPool2d} ({@code relu(maxPool2d(x))}, indices taken on {@code
   * x}): {@code maxPool2dBackward(gradOut, indices) * step(x)}, the same values, in one pass where
   * the backend fuses it.
   *
   * @param input the forward input x, (N, C, H, W) or (C, H, W)
   */
  public static NDArray reluMaxPool2dBackward(
      NDArray gradOut, NDArray indices, NDArray input, int[] kernel, int[] stride, int[] padding) {
    checkFloating("reluMaxPool2dBackward", "gradOut", gradOut);
    int[] inputShape = input.shape();
    PoolPlan p = PoolPlan.of("reluMaxPool2dBackward", inputShape, kernel, stride, padding);
    p.checkGradOut("reluMaxPool2dBackward", "gradOut", gradOut);
    p.checkGradOut("reluMaxPool2dBackward", "indices", indices);
    if (indices.dtype() != DType.INT64) {
      throw new IllegalArgumentException(
          "reluMaxPool2dBackward: indices must be int64, got " + indices.dtype());
    }
    checkSame("reluMaxPool2dBackward", "gradOut", gradOut, "input", input);
    checkDevice("reluMaxPool2dBackward", "gradOut", gradOut, "indices", indices);
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray gradIn = NDArray.empty(gradOut.dtype(), gradOut.device(), inputShape);
      if (gradOut.numel() > 0) {
        gradOut
            .backend()
            .reluMaxPool2dBackward(
                gradOut.contiguous(), indices.contiguous(), input.contiguous(), p.geometry, gradIn);
      } else {
        gradIn.backend().fill(gradIn, 0);
      }
      return scope.keep(gradIn);
    }
  }

  public static NDArray maxPool2dBackward(
      NDArray gradOut,
      NDArray indices,
      int[] inputShape,
      int[] kernel,
      int[] stride,
      int[] padding) {
    checkFloating("maxPool2dBackward", "gradOut", gradOut);
    PoolPlan p = PoolPlan.of("maxPool2dBackward", inputShape, kernel, stride, padding);
    p.checkGradOut("maxPool2dBackward", "gradOut", gradOut);
    p.checkGradOut("maxPool2dBackward", "indices", indices);
    if (indices.dtype() != DType.INT64) {
      throw new IllegalArgumentException(
          "maxPool2dBackward: indices must be int64, got " + indices.dtype());
    }
    checkDevice("maxPool2dBackward", "gradOut", gradOut, "indices", indices);
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray gradIn = NDArray.zeros(gradOut.dtype(), gradOut.device(), inputShape);
      if (gradOut.numel() > 0) {
        gradOut
            .backend()
            .maxPool2dBackward(gradOut.contiguous(), indices.contiguous(), p.geometry, gradIn);
      }
      return scope.keep(gradIn);
    }
  }

  /**
   * Average pooling with padding counted in the divisor (every window divides by {@code kh * kw}),
   * as {@code torch.nn.functional.avg_pool2d(..., count_include_pad=True, ceil_mode=False)}.
   *
   * @param input (N, C, H, W) or (C, H, W), float32 or float64
   * @param kernel {@code {kh, kw}} or {@code {k}}
   * @param stride {@code {sh, sw}}, {@code {s}}, or null / empty for the kernel size
   * @param padding {@code {ph, pw}} or {@code {p}}, at most half the kernel
   * @return (N, C, outH, outW) (or unbatched), in input's dtype
   */
  public static NDArray avgPool2d(NDArray input, int[] kernel, int[] stride, int[] padding) {
    checkFloating("avgPool2d", "input", input);
    PoolPlan p = PoolPlan.of("avgPool2d", input.shape(), kernel, stride, padding);
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray out = NDArray.empty(input.dtype(), input.device(), p.outShape);
      if (out.numel() > 0) {
        input.backend().avgPool2d(input.contiguous(), p.geometry, out);
      }
      return scope.keep(out);
    }
  }

  /**
   * The gradient of {@link #avgPool2d}: each element of {@code gradOut}, divided by {@code kh *
   * kw}, is added to every input position of its window.
   *
   * @param gradOut like avgPool2d's output
   * @param inputShape (N, C, H, W) or (C, H, W) of the forward input
   * @return the gradient, shaped {@code inputShape}, in gradOut's dtype
   */
  public static NDArray avgPool2dBackward(
      NDArray gradOut, int[] inputShape, int[] kernel, int[] stride, int[] padding) {
    checkFloating("avgPool2dBackward", "gradOut", gradOut);
    PoolPlan p = PoolPlan.of("avgPool2dBackward", inputShape, kernel, stride, padding);
    p.checkGradOut("avgPool2dBackward", "gradOut", gradOut);
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray gradIn = NDArray.zeros(gradOut.dtype(), gradOut.device(), inputShape);
      if (gradOut.numel() > 0) {
        gradOut.backend().avgPool2dBackward(gradOut.contiguous(), p.geometry, gradIn);
      }
      return scope.keep(gradIn);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Shapes and validation

  /**
   * Every size of one convolution, validated: {@code K = C/G * kh * kw} rows and {@code L = outH *
   * outW} columns of one group's im2col matrix, and the samples per chunk.
   */
  private record ConvPlan(
      boolean batched,
      int n,
      int c,
      int h,
      int w,
      int o,
      int g,
      int og,
      int k,
      int kh,
      int kw,
      int[] stride,
      int[] padding,
      int[] dilation,
      int outH,
      int outW,
      int chunk) {

    static ConvPlan of(
        String op,
        int[] inputShape,
        int[] weightShape,
        int[] stride,
        int[] padding,
        int[] dilation,
        int groups,
        int elementSize) {
      if (inputShape == null || (inputShape.length != 4 && inputShape.length != 3)) {
        throw new IllegalArgumentException(
            op
                + ": input must be (N, C, H, W) or (C, H, W), got "
                + (inputShape == null ? "null" : Shape.toString(inputShape)));
      }
      if (weightShape == null || weightShape.length != 4) {
        throw new IllegalArgumentException(
            op
                + ": weight must be (O, C / groups, kh, kw), got "
                + (weightShape == null ? "null" : Shape.toString(weightShape)));
      }
      boolean batched = inputShape.length == 4;
      int n = batched ? inputShape[0] : 1;
      int c = inputShape[inputShape.length - 3];
      int h = inputShape[inputShape.length - 2];
      int w = inputShape[inputShape.length - 1];
      int o = weightShape[0];
      int kh = weightShape[2];
      int kw = weightShape[3];
      String shapes =
          "input " + Shape.toString(inputShape) + ", weight " + Shape.toString(weightShape);
      if (n < 0
          || c <= 0
          || h <= 0
          || w <= 0
          || o <= 0
          || weightShape[1] <= 0
          || kh <= 0
          || kw <= 0) {
        throw new IllegalArgumentException(
            op + ": channel, spatial and kernel sizes must be positive: " + shapes);
      }
      if (groups <= 0) {
        throw new IllegalArgumentException(op + ": groups must be positive, got " + groups);
      }
      if (c % groups != 0 || o % groups != 0) {
        throw new IllegalArgumentException(
            op
                + ": groups "
                + groups
                + " must divide the input channels ("
                + c
                + ") and the output channels ("
                + o
                + "): "
                + shapes);
      }
      if (weightShape[1] != c / groups) {
        throw new IllegalArgumentException(
            op
                + ": weight expects "
                + weightShape[1]
                + " input channels per group, but the input has "
                + c
                + " channels in "
                + groups
                + " group(s), "
                + c / groups
                + " per group: "
                + shapes);
      }
      int[] s = pair(op, "stride", stride, 1);
      int[] p = pair(op, "padding", padding, 0);
      int[] d = pair(op, "dilation", dilation, 1);
      int outH = outSize(op, shapes, "height", h, kh, s[0], p[0], d[0]);
      int outW = outSize(op, shapes, "width", w, kw, s[1], p[1], d[1]);
      int k = c / groups * kh * kw;
      long perSample = (long) c * kh * kw * outH * outW * elementSize;
      int chunk = (int) Math.max(1, Math.min(Math.max(n, 1), COLUMN_BUDGET_BYTES / perSample));
      return new ConvPlan(
          batched, n, c, h, w, o, groups, o / groups, k, kh, kw, s, p, d, outH, outW, chunk);
    }

    int l() {
      return outH * outW;
    }

    /** This plan with chunks sized for {@code scratch} more elements per sample. */
    ConvPlan withScratch(long scratch, int elementSize) {
      long perSample = ((long) c * kh * kw * l() + scratch) * elementSize;
      int ch = (int) Math.max(1, Math.min(Math.max(n, 1), COLUMN_BUDGET_BYTES / perSample));
      return new ConvPlan(
          batched, n, c, h, w, o, g, og, k, kh, kw, stride, padding, dilation, outH, outW, ch);
    }

    /**
     * True when the whole batch's columns fit in one chunk and there is one group: the batched (K,
     * N * L) path, whose GEMMs see the whole batch at once.
     */
    boolean batchedColumns() {
      return g == 1 && n > 0 && chunk >= n;
    }

    int[] weightShape() {
      return new int[] {o, c / g, kh, kw};
    }

    /** True when the backend convolves {@code a}'s dtype with this K directly (no im2col). */
    boolean direct(NDArray a) {
      return g == 1 && n > 0 && a.backend().hasDirectConv2d(a.dtype(), geometry(1));
    }

    int[] outShape() {
      return batched ? new int[] {n, o, outH, outW} : new int[] {o, outH, outW};
    }

    /** The im2col buffer of one chunk: (chunk, G, K, L). */
    int[] columnsShape() {
      return new int[] {chunk, g, k, l()};
    }

    /** The geometry of {@code nb} samples as one (nb * C, H, W) image. */
    Conv2dGeometry geometry(int nb) {
      return new Conv2dGeometry(
          nb * c,
          h,
          w,
          kh,
          kw,
          stride[0],
          stride[1],
          padding[0],
          padding[1],
          dilation[0],
          dilation[1]);
    }

    /** Samples {@code [n0, n0 + nb)} of a contiguous image array as one (nb * C, H, W) image. */
    NDArray imageChunk(NDArray image, int n0, int nb) {
      int[] shape = {nb * c, h, w};
      long offset = image.layout().offset() + (long) n0 * c * h * w;
      return image.borrow(new Layout(shape, Shape.contiguousStrides(shape), offset));
    }

    /** The first {@code nb} samples of the columns buffer: (nb, G, K, L). */
    NDArray columnsChunk(NDArray columns, int nb) {
      int[] shape = {nb, g, k, l()};
      return columns.borrow(
          new Layout(shape, Shape.contiguousStrides(shape), columns.layout().offset()));
    }

    /** Samples {@code [n0, n0 + nb)} of a contiguous (N, O, outH, outW) array: (nb, G, Og, L). */
    NDArray outputChunk(NDArray out, int n0, int nb) {
      int[] shape = {nb, g, og, l()};
      long offset = out.layout().offset() + (long) n0 * o * l();
      return out.borrow(new Layout(shape, Shape.contiguousStrides(shape), offset));
    }

    /**
     * A contiguous weight (O, C/G, kh, kw) as (nb, G, Og, K) with a stride-0 sample dim, or its
     * per-group transpose (nb, G, K, Og).
     */
    Layout weightAsBatch(NDArray weight, int nb, boolean transposed) {
      long off = weight.layout().offset();
      if (transposed) {
        return new Layout(new int[] {nb, g, k, og}, new long[] {0, (long) og * k, 1, k}, off);
      }
      return new Layout(new int[] {nb, g, og, k}, new long[] {0, (long) og * k, k, 1}, off);
    }

    void checkGradOut(String op, NDArray gradOut) {
      if (!java.util.Arrays.equals(gradOut.shape(), outShape())) {
        throw new IllegalArgumentException(
            op
                + ": gradOut must have the forward output's shape "
                + Shape.toString(outShape())
                + " (input ("
                + (batched ? n + ", " : "")
                + c
                + ", "
                + h
                + ", "
                + w
                + "), "
                + o
                + " output channels), got "
                + Shape.toString(gradOut.shape()));
      }
    }
  }

  /** The sizes of one pooling: result shape and the kernels' geometry. */
  private record PoolPlan(int[] outShape, Pool2dGeometry geometry) {
    static PoolPlan of(String op, int[] inputShape, int[] kernel, int[] stride, int[] padding) {
      if (inputShape == null || (inputShape.length != 4 && inputShape.length != 3)) {
        throw new IllegalArgumentException(
            op
                + ": input must be (N, C, H, W) or (C, H, W), got "
                + (inputShape == null ? "null" : Shape.toString(inputShape)));
      }
      int nd = inputShape.length;
      int h = inputShape[nd - 2];
      int w = inputShape[nd - 1];
      String shapes = "input " + Shape.toString(inputShape);
      for (int size : inputShape) {
        if (size < 0) {
          throw new IllegalArgumentException(op + ": negative size in " + shapes);
        }
      }
      if (h == 0 || w == 0) {
        throw new IllegalArgumentException(op + ": empty spatial dims in " + shapes);
      }
      int[] k = pair(op, "kernel", kernel, 1);
      int[] s = stride == null || stride.length == 0 ? k : pair(op, "stride", stride, 1);
      int[] p = pair(op, "padding", padding, 0);
      shapes += ", kernel " + Shape.toString(k);
      for (int i = 0; i < 2; i++) {
        if (2 * p[i] > k[i]) {
          throw new IllegalArgumentException(
              op
                  + ": padding "
                  + Shape.toString(p)
                  + " must be at most half the kernel (as in PyTorch): "
                  + shapes);
        }
      }
      int outH = outSize(op, shapes, "height", h, k[0], s[0], p[0], 1);
      int outW = outSize(op, shapes, "width", w, k[1], s[1], p[1], 1);
      int[] out = inputShape.clone();
      out[nd - 2] = outH;
      out[nd - 1] = outW;
      return new PoolPlan(out, new Pool2dGeometry(h, w, k[0], k[1], s[0], s[1], p[0], p[1]));
    }

    void checkGradOut(String op, String name, NDArray a) {
      if (!java.util.Arrays.equals(a.shape(), outShape)) {
        throw new IllegalArgumentException(
            op
                + ": "
                + name
                + " must have the forward output's shape "
                + Shape.toString(outShape)
                + ", got "
                + Shape.toString(a.shape()));
      }
    }
  }

  /**
   * {@code (in + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1}, rejecting a dilated kernel
   * larger than the padded input. The numerator is checked before dividing because Java's division
   * truncates toward zero: {@code -1 / 2 + 1} would give a bogus output size of 1.
   */
  private static int outSize(
      String op, String shapes, String dim, int in, int kernel, int stride, int pad, int dil) {
    long span = (long) dil * (kernel - 1) + 1;
    long padded = (long) in + 2L * pad;
    if (span > padded) {
      throw new IllegalArgumentException(
          op
              + ": the kernel "
              + dim
              + " ("
              + span
              + (dil > 1 ? " with dilation " + dil : "")
              + ") is larger than the padded input "
              + dim
              + " ("
              + padded
              + "): "
              + shapes);
    }
    return (int) ((padded - span) / stride + 1);
  }

  /** {@code {h, w}} from a pair or a single value, each at least {@code min}. */
  private static int[] pair(String op, String name, int[] v, int min) {
    if (v == null || (v.length != 1 && v.length != 2)) {
      throw new IllegalArgumentException(
          op
              + ": "
              + name
              + " must have 1 or 2 values, got "
              + (v == null ? "null" : java.util.Arrays.toString(v)));
    }
    int[] p = v.length == 1 ? new int[] {v[0], v[0]} : v.clone();
    if (p[0] < min || p[1] < min) {
      throw new IllegalArgumentException(
          op
              + ": "
              + name
              + " must be "
              + (min == 0 ? "non-negative" : "positive")
              + ", got "
              + java.util.Arrays.toString(v));
    }
    return p;
  }

  private static void checkFloating(String op, String name, NDArray a) {
    if (!a.dtype().isFloatingPoint()) {
      throw new IllegalArgumentException(
          op
              + ": "
              + name
              + " "
              + Shape.toString(a.shape())
              + " must be float32 or float64, got "
              + a.dtype());
    }
  }

  /** Same dtype and device as the reference operand. */
  private static void checkSame(String op, String refName, NDArray ref, String name, NDArray a) {
    if (a.dtype() != ref.dtype()) {
      throw new IllegalArgumentException(
          op
              + ": "
              + name
              + " "
              + Shape.toString(a.shape())
              + " is "
              + a.dtype()
              + " but "
              + refName
              + " "
              + Shape.toString(ref.shape())
              + " is "
              + ref.dtype());
    }
    checkDevice(op, refName, ref, name, a);
  }

  private static void checkDevice(String op, String refName, NDArray ref, String name, NDArray a) {
    if (!a.device().equals(ref.device())) {
      throw new IllegalArgumentException(
          op + ": " + name + " is on " + a.device() + " but " + refName + " is on " + ref.device());
    }
  }
}
