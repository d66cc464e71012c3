package org.emberdl.tensor;

import java.util.Arrays;
import org.emberdl.tensor.ops.AdamStep;
import org.emberdl.tensor.ops.UnaryOp;

/**
 * Fused multi-array kernels for hot paths that would otherwise take many elementwise passes: the
 * optimizers' updates, exact GELU's backward, layer norm, the last-dim softmax (forward and
 * backward) and a fully connected layer's forward with its bias and activation. Each is one pass
 * over memory (or two over a row while it is in cache). Inputs that are not contiguous are copied
 * first.
 */
public final class FusedOps {
  private FusedOps() {}

  /**
   * Applies one Adam/AdamW step (see {@link AdamStep}) in place to {@code param} and the state
   * arrays {@code expAvg} and {@code expAvgSq}.
   *
   * @throws IllegalArgumentException unless all four arrays are contiguous, equally shaped, of one
   *     floating dtype and on one device
   */
  public static void adam(
      NDArray param, NDArray grad, NDArray expAvg, NDArray expAvgSq, AdamStep step) {
    NDArray[] all = {param, grad, expAvg, expAvgSq};
    for (NDArray a : all) {
      if (!a.isContiguous()
          || a.dtype() != param.dtype()
          || !a.dtype().isFloatingPoint()
          || !a.device().equals(param.device())
          || !Arrays.equals(a.shape(), param.shape())) {
        throw new IllegalArgumentException(
            "adam needs contiguous arrays of one floating dtype, shape and device; got "
                + a.dtype()
                + Arrays.toString(a.shape())
                + " on "
                + a.device()
                + " for "
                + param.dtype()
                + Arrays.toString(param.shape()));
      }
    }
    param.backend().adamUpdate(param, grad, expAvg, expAvgSq, step);
  }

  /**
   * A fully connected layer's forward, {@code epilogue(input @ weight^T + bias)}, as {@code
   * torch.nn.functional.linear} followed by an elementwise op, in one pass over the output: each
   * thread's block of rows starts as copies of the bias, the GEMM accumulates into it, and the
   * epilogue runs on the block while it is still in cache. The same values as {@code
   * input.matmul(weight.t())}, then {@code add(bias)}, then {@code unary(epilogue)} up to float
   * rounding (the bias is added before the products instead of after). For inference: nothing here
   * records a graph.
   *
   * @param input {@code (*, in)}, at least 1-D
   * @param weight {@code (out, in)}
   * @param bias {@code (out)}, or null
   * @param epilogue an elementwise op applied to the result (such as {@link UnaryOp#RELU}), or null
   * @return {@code (*, out)}, contiguous
   * @throws IllegalArgumentException unless the three arrays are of one floating dtype (float32 or
   *     float64) and one device and their shapes fit
   */
  public static NDArray linear(NDArray input, NDArray weight, NDArray bias, UnaryOp epilogue) {
    int nd = input.ndim();
    if (nd == 0
        || weight.ndim() != 2
        || input.shape()[nd - 1] != weight.shape()[1]
        || (bias != null && (bias.ndim() != 1 || bias.shape()[0] != weight.shape()[0]))) {
      throw new IllegalArgumentException(
          "linear needs input (*, in), weight (out, in) and bias (out) or null; got input "
              + Arrays.toString(input.shape())
              + ", weight "
              + Arrays.toString(weight.shape())
              + ", bias "
              + (bias == null ? "null" : Arrays.toString(bias.shape())));
    }
    for (NDArray a : bias == null ? new NDArray[] {weight} : new NDArray[] {weight, bias}) {
      if (a.dtype() != input.dtype() || !a.device().equals(input.device())) {
        throw new IllegalArgumentException(
            "linear needs input, weight and bias of one dtype and device; got input "
                + input.dtype()
                + " on "
                + input.device()
                + ", "
                + (a == weight ? "weight " : "bias ")
                + a.dtype()
                + " on "
                + a.device());
      }
    }
    if (input.dtype() != DType.FLOAT32 && input.dtype() != DType.FLOAT64) {
      throw new IllegalArgumentException(
          "linear needs float32 or float64 arrays, got " + input.dtype());
    }
    int in = weight.shape()[1];
    int out = weight.shape()[0];
    int[] outShape = input.shape().clone();
    outShape[nd - 1] = out;
    int rows = 1;
    for (int d = 0; d < nd - 1; d++) {
      rows *= input.shape()[d];
    }
    final int m = rows;
    // Rows of the input as one (rows, in) matrix with unit column stride; the weight as BLAS
    // reads a row-major (out, in) matrix. Anything else is copied once.
    try (NDArray xc = input.contiguous();
        NDArray x2 = xc.reshape(m, in);
        NDArray w = weight.layout().strides()[1] == 1 ? weight.share() : weight.contiguous();
        NDArray b = bias == null ? null : bias.contiguous()) {
      NDArray y = NDArray.empty(input.dtype(), input.device(), outShape);
      NDArray.fillOrClose(
          y,
          () -> {
            try (NDArray y2 = y.reshape(m, out)) {
              input.backend().linear(x2, w, b, epilogue, y2);
            }
          });
      return y;
    }
  }

  /** A layer norm's output and the per-row statistics its backward needs. */
  public record LayerNormResult(NDArray output, NDArray mean, NDArray rstd) {}

  /** Layer norm's gradients; {@code dweight} and {@code dbias} are null when not asked for. */
  public record LayerNormGrads(NDArray dx, NDArray dweight, NDArray dbias) {}

  /**
   * Exact GELU's gradient {@code grad * (Phi(x) + x phi(x))} in one pass (float32 with a vectorized
   * erf good to a few ulps, float64 with fdlibm's).
   *
   * @throws IllegalArgumentException unless grad and x have one shape and floating dtype
   */
  public static NDArray geluBackward(NDArray grad, NDArray x) {
    requireSame("geluBackward", grad, x);
    try (NDArray g = grad.contiguous();
        NDArray xc = x.contiguous()) {
      NDArray out = NDArray.empty(x.dtype(), x.device(), x.shape());
      x.backend().geluBackward(g, xc, out);
      return out;
    }
  }

  /**
   * Layer norm over the last {@code normalizedSize} elements of each sample: {@code (x - mean) /
   * sqrt(var + eps) * weight + bias} with the biased variance, as {@code
   * torch.nn.functional.layer_norm} over trailing dims whose product is {@code normalizedSize}.
   *
   * @param weight {@code normalizedSize} elements (any shape), or null
   * @param bias {@code normalizedSize} elements, or null
   * @return the output (x's shape) and the per-row mean and rstd, each shaped (rows)
   * @throws IllegalArgumentException when x's size is not a multiple of normalizedSize, or the
   *     weight or bias size or dtype does not match
   */
  public static LayerNormResult layerNorm(
      NDArray x, int normalizedSize, NDArray weight, NDArray bias, double eps) {
    long rows = rows("layerNorm", x, normalizedSize);
    requireRow("layerNorm", "weight", weight, x, normalizedSize);
    requireRow("layerNorm", "bias", bias, x, normalizedSize);
    try (NDArray xc = x.contiguous();
        NDArray w = weight == null ? null : weight.contiguous();
        NDArray b = bias == null ? null : bias.contiguous()) {
      NDArray y = NDArray.empty(x.dtype(), x.device(), x.shape());
      NDArray mean = NDArray.empty(x.dtype(), x.device(), (int) rows);
      NDArray rstd = NDArray.empty(x.dtype(), x.device(), (int) rows);
      if (rows > 0) {
        x.backend().layerNorm(xc, w, b, eps, y, mean, rstd);
      }
      return new LayerNormResult(y, mean, rstd);
    }
  }

  /**
   * Layer norm's backward (PyTorch's {@code native_layer_norm_backward}): {@code dx}, and {@code
   * dweight = sum(grad * xhat)} and {@code dbias = sum(grad)} over rows (shaped like weight) when
   * asked for.
   *
   * @param mean the forward's {@link LayerNormResult#mean()}
   * @param rstd the forward's {@link LayerNormResult#rstd()}
   * @param weight the forward's weight, or null
   */
  public static LayerNormGrads layerNormBackward(
      NDArray grad,
      NDArray x,
      NDArray mean,
      NDArray rstd,
      NDArray weight,
      boolean weightGrad,
      boolean biasGrad) {
    requireSame("layerNormBackward", grad, x);
    int normalizedSize = (int) (x.numel() / Math.max(1, mean.numel()));
    int[] rowShape = weight == null ? new int[] {normalizedSize} : weight.shape();
    try (NDArray g = grad.contiguous();
        NDArray xc = x.contiguous();
        NDArray w = weight == null ? null : weight.contiguous()) {
      NDArray dx = NDArray.empty(x.dtype(), x.device(), x.shape());
      NDArray dw = weightGrad ? NDArray.zeros(x.dtype(), x.device(), rowShape) : null;
      NDArray db = biasGrad ? NDArray.zeros(x.dtype(), x.device(), rowShape) : null;
      if (mean.numel() > 0) {
        x.backend().layerNormBackward(g, xc, mean, rstd, w, dx, dw, db);
      }
      return new LayerNormGrads(dx, dw, db);
    }
  }

  /**
   * {@code softmax(scale * x)} along the last dim, one pass per row for max, exp and sum; a row
   * whose entries are all {@code -inf} gives NaN, as PyTorch's softmax.
   *
   * @throws IllegalArgumentException unless x is floating with at least one dim
   */
  public static NDArray softmaxLastDim(NDArray x, double scale) {
    if (!x.dtype().isFloatingPoint() || x.ndim() == 0) {
      throw new IllegalArgumentException(
          "softmaxLastDim needs a floating array with at least one dim, got "
              + x.dtype()
              + Arrays.toString(x.shape()));
    }
    int cols = x.shape()[x.ndim() - 1];
    try (NDArray xc = x.contiguous()) {
      NDArray y = NDArray.empty(x.dtype(), x.device(), x.shape());
      if (cols > 0 && y.numel() > 0) {
        x.backend().softmaxRows(xc, scale, y, cols);
      }
      return y;
    }
  }

  /** The backward of {@link #softmaxLastDim}: {@code scale * y * (grad - sum(grad * y, -1))}. */
  public static NDArray softmaxLastDimBackward(NDArray grad, NDArray y, double scale) {
    requireSame("softmaxLastDimBackward", grad, y);
    int cols = y.shape()[y.ndim() - 1];
    try (NDArray g = grad.contiguous();
        NDArray yc = y.contiguous()) {
      NDArray dx = NDArray.empty(y.dtype(), y.device(), y.shape());
      if (cols > 0 && dx.numel() > 0) {
        y.backend().softmaxRowsBackward(g, yc, scale, dx, cols);
      }
      return dx;
    }
  }

  private static void requireSame(String op, NDArray a, NDArray b) {
    if (!a.dtype().isFloatingPoint()
        || a.dtype() != b.dtype()
        || !a.device().equals(b.device())
        || !Arrays.equals(a.shape(), b.shape())) {
      throw new IllegalArgumentException(
          op
              + " needs two arrays of one floating dtype, shape and device; got "
              + a.dtype()
              + Arrays.toString(a.shape())
              + " and "
              + b.dtype()
              + Arrays.toString(b.shape()));
    }
  }

  private static long rows(String op, NDArray x, int normalizedSize) {
    if (!x.dtype().isFloatingPoint() || normalizedSize <= 0 || x.numel() % normalizedSize != 0) {
      throw new IllegalArgumentException(
          op
              + " normalizes groups of "
              + normalizedSize
              + " elements; x "
              + x.dtype()
              + Arrays.toString(x.shape())
              + " is not a floating array of whole groups");
    }
    return x.numel() / normalizedSize;
  }

  private static void requireRow(String op, String name, NDArray a, NDArray x, int normalizedSize) {
    if (a != null
        && (a.numel() != normalizedSize
            || a.dtype() != x.dtype()
            || !a.device().equals(x.device()))) {
      throw new IllegalArgumentException(
          op
              + " "
              + name
              + " must have "
              + normalizedSize
              + " elements of "
              + x.dtype()
              + ", got "
              + a.dtype()
              + Arrays.toString(a.shape()));
    }
  }
}
