package org.emberdl.autograd;

import java.util.ArrayList;
import java.util.List;
import org.emberdl.autograd.functions.BinaryFunction;
import org.emberdl.autograd.functions.ConvFunctions;
import org.emberdl.autograd.functions.IndexFunctions;
import org.emberdl.autograd.functions.MatMulFunction;
import org.emberdl.autograd.functions.ReductionFunctions;
import org.emberdl.autograd.functions.ScalarFunction;
import org.emberdl.autograd.functions.UnaryFunction;
import org.emberdl.autograd.functions.ViewFunctions;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Device;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.ops.BinaryOp;
import org.emberdl.tensor.ops.UnaryOp;

/**
 * An {@link NDArray} that records the ops applied to it, so gradients can flow back through them
 * (define-by-run, as PyTorch's tensors). A leaf created with {@code requiresGrad} collects its
 * gradient in {@link #grad()} when {@link #backward()} runs on a result computed from it; results
 * of ops remember the {@link Function} that made them.
 *
 * <p>Ops have PyTorch's names and semantics (broadcasting, dtype promotion). Non-differentiable
 * queries (comparisons, argmax) live on the data: {@code t.data().argmax(1, false)}.
 *
 * <p>Memory: a tensor's data is an NDArray and follows its rules: it belongs to the innermost open
 * {@link org.emberdl.tensor.MemoryScope} or must be closed. Arrays a function saves for backward
 * are released when backward has run. A leaf's gradient is not scoped; it lives until the leaf is
 * closed (parameters) or {@link #zeroGrad(boolean)} drops it.
 */
public class Tensor implements AutoCloseable {
  private NDArray data;
  private NDArray grad;
  private boolean requiresGrad;
  private final Function gradFn;

  /** A result of {@code gradFn}. */
  Tensor(NDArray data, Function gradFn) {
    this.data = data;
    this.gradFn = gradFn;
    this.requiresGrad = true;
  }

  /** A leaf. */
  protected Tensor(NDArray data, boolean requiresGrad) {
    this.data = data;
    this.gradFn = null;
    this.requiresGrad = requiresGrad;
  }

  /** A constant leaf wrapping {@code data} (which the tensor now owns). */
  public static Tensor of(NDArray data) {
    return new Tensor(data, false);
  }

  /** A leaf wrapping {@code data}, tracking gradients when {@code requiresGrad}. */
  public static Tensor of(NDArray data, boolean requiresGrad) {
    if (requiresGrad && !data.dtype().isFloatingPoint()) {
      throw new IllegalArgumentException(
          "only floating tensors can require gradients, got " + data.dtype());
    }
    return new Tensor(data, requiresGrad);
  }

  // ---------------------------------------------------------------------------------------------
  // State

  /** The values. */
  public NDArray data() {
    return data;
  }

  /** Replaces a leaf's values (e.g. with a view into a flat parameter buffer). */
  protected void setData(NDArray newData) {
    if (gradFn != null) {
      throw new IllegalStateException("only a leaf's data can be replaced");
    }
    this.data = newData;
  }

  /** The accumulated gradient of a leaf; throws when none has been computed. */
  public NDArray grad() {
    if (grad == null) {
      throw new IllegalStateException(
          "no gradient: call backward() on a result computed from this tensor first");
    }
    return grad;
  }

  /** The gradient, or null when none has been computed. */
  public NDArray gradOrNull() {
    return grad;
  }

  /** Sets a leaf's gradient array (owned by this tensor from now on). */
  protected void setGrad(NDArray newGrad) {
    if (grad != null && grad != newGrad) {
      grad.close();
    }
    this.grad = newGrad;
  }

  public boolean requiresGrad() {
    return requiresGrad;
  }

  /** Turns gradient tracking of a leaf on or off. */
  public Tensor requiresGrad(boolean value) {
    if (gradFn != null) {
      throw new IllegalStateException("requiresGrad can only be set on a leaf");
    }
    if (value && !data.dtype().isFloatingPoint()) {
      throw new IllegalArgumentException("only floating tensors can require gradients");
    }
    this.requiresGrad = value;
    return this;
  }

  /** True for tensors not produced by a recorded op. */
  public boolean isLeaf() {
    return gradFn == null;
  }

  /** The function that produced this tensor, or null for a leaf. */
  public Function gradFn() {
    return gradFn;
  }

  /** A new leaf sharing this tensor's values, outside the graph. */
  public Tensor detach() {
    return new Tensor(data.share(), false);
  }

  /**
   * Clears the gradient: zeroes it in place ({@code setToNull = false}) or drops it (PyTorch's
   * default since 2.0).
   */
  public void zeroGrad(boolean setToNull) {
    if (grad != null) {
      if (setToNull) {
        grad.close();
        grad = null;
      } else {
        grad.fill(0);
      }
    }
  }

  /** Backpropagates from this scalar: every leaf below it receives d(this)/d(leaf). */
  public void backward() {
    if (data.numel() != 1) {
      throw new IllegalStateException(
          "backward() without a gradient needs a one-element tensor, this one has shape "
              + java.util.Arrays.toString(data.shape())
              + "; pass backward(gradOutput)");
    }
    try (NDArray seed = NDArray.full(data.dtype(), data.device(), 1, data.shape())) {
      backward(seed, false);
    }
  }

  /** Backpropagates {@code gradOutput} (shaped like this tensor) through the graph. */
  public void backward(NDArray gradOutput) {
    backward(gradOutput, false);
  }

  /**
   * As {@link #backward(NDArray)}; with {@code retainGraph}, saved arrays stay for another pass.
   */
  public void backward(NDArray gradOutput, boolean retainGraph) {
    if (!requiresGrad) {
      throw new IllegalStateException(
          "this tensor does not require grad: no input of the ops that made it did");
    }
    if (!java.util.Arrays.equals(gradOutput.shape(), data.shape())) {
      throw new IllegalArgumentException(
          "gradOutput shape "
              + java.util.Arrays.toString(gradOutput.shape())
              + " does not match "
              + java.util.Arrays.toString(data.shape()));
    }
    Backward.run(this, gradOutput, retainGraph);
  }

  /** Closes the data and, for a leaf, its gradient. */
  @Override
  public void close() {
    data.close();
    if (grad != null) {
      grad.close();
      grad = null;
    }
  }

  public int[] shape() {
    return data.shape();
  }

  public int shape(int dim) {
    return data.shape(dim);
  }

  public int ndim() {
    return data.ndim();
  }

  public DType dtype() {
    return data.dtype();
  }

  public Device device() {
    return data.device();
  }

  /** The single value of a one-element tensor. */
  public double item() {
    return data.item();
  }

  // ---------------------------------------------------------------------------------------------
  // Elementwise

  public Tensor neg() {
    return UnaryFunction.apply(UnaryOp.NEG, this);
  }

  public Tensor abs() {
    return UnaryFunction.apply(UnaryOp.ABS, this);
  }

  /** Sign; its gradient is zero everywhere. */
  public Tensor sign() {
    return UnaryFunction.apply(UnaryOp.SIGN, this);
  }

  public Tensor exp() {
    return UnaryFunction.apply(UnaryOp.EXP, this);
  }

  public Tensor log() {
    return UnaryFunction.apply(UnaryOp.LOG, this);
  }

  public Tensor log1p() {
    return UnaryFunction.apply(UnaryOp.LOG1P, this);
  }

  public Tensor sqrt() {
    return UnaryFunction.apply(UnaryOp.SQRT, this);
  }

  public Tensor rsqrt() {
    return UnaryFunction.apply(UnaryOp.RSQRT, this);
  }

  public Tensor tanh() {
    return UnaryFunction.apply(UnaryOp.TANH, this);
  }

  public Tensor sigmoid() {
    return UnaryFunction.apply(UnaryOp.SIGMOID, this);
  }

  public Tensor relu() {
    return UnaryFunction.apply(UnaryOp.RELU, this);
  }

  /** Exact (erf) GELU. */
  public Tensor gelu() {
    return UnaryFunction.apply(UnaryOp.GELU, this);
  }

  public Tensor erf() {
    return UnaryFunction.apply(UnaryOp.ERF, this);
  }

  /** {@code x > 0 ? x : slope * x}. */
  public Tensor leakyRelu(double slope) {
    try (NDArray positive = data.gt(0)) {
      try (Tensor scaled = mul(slope)) {
        return IndexFunctions.where(positive, this, scaled);
      }
    }
  }

  public Tensor square() {
    return mul(this);
  }

  public Tensor add(Tensor other) {
    return BinaryFunction.apply(BinaryOp.ADD, this, other);
  }

  public Tensor add(double s) {
    return ScalarFunction.apply(BinaryOp.ADD, this, s, false);
  }

  public Tensor sub(Tensor other) {
    return BinaryFunction.apply(BinaryOp.SUB, this, other);
  }

  public Tensor sub(double s) {
    return ScalarFunction.apply(BinaryOp.SUB, this, s, false);
  }

  /** {@code s - this}. */
  public Tensor rsub(double s) {
    return ScalarFunction.apply(BinaryOp.SUB, this, s, true);
  }

  public Tensor mul(Tensor other) {
    return BinaryFunction.apply(BinaryOp.MUL, this, other);
  }

  public Tensor mul(double s) {
    return ScalarFunction.apply(BinaryOp.MUL, this, s, false);
  }

  public Tensor div(Tensor other) {
    return BinaryFunction.apply(BinaryOp.DIV, this, other);
  }

  public Tensor div(double s) {
    return ScalarFunction.apply(BinaryOp.DIV, this, s, false);
  }

  /** {@code s / this}. */
  public Tensor rdiv(double s) {
    return ScalarFunction.apply(BinaryOp.DIV, this, s, true);
  }

  public Tensor pow(Tensor exponent) {
    return BinaryFunction.apply(BinaryOp.POW, this, exponent);
  }

  public Tensor pow(double exponent) {
    return ScalarFunction.apply(BinaryOp.POW, this, exponent, false);
  }

  /** Elementwise max; at ties the gradient is split evenly, as in PyTorch. */
  public Tensor maximum(Tensor other) {
    return BinaryFunction.apply(BinaryOp.MAXIMUM, this, other);
  }

  public Tensor minimum(Tensor other) {
    return BinaryFunction.apply(BinaryOp.MINIMUM, this, other);
  }

  /** Clamps into [min, max]; the gradient passes where min <= x <= max. */
  public Tensor clamp(double min, double max) {
    return ScalarFunction.clamp(this, min, max);
  }

  /** {@code cond ? a : b}; cond is a bool array (not differentiated). */
  public static Tensor where(NDArray cond, Tensor a, Tensor b) {
    return IndexFunctions.where(cond, a, b);
  }

  /** {@code value} where {@code mask} is true. */
  public Tensor maskedFill(NDArray mask, double value) {
    return IndexFunctions.maskedFill(this, mask, value);
  }

  /** Converts to {@code dtype}; the gradient is converted back. */
  public Tensor cast(DType dtype) {
    return ViewFunctions.cast(this, dtype);
  }

  // ---------------------------------------------------------------------------------------------
  // Views

  public Tensor reshape(int... shape) {
    return ViewFunctions.reshape(this, shape);
  }

  public Tensor view(int... shape) {
    return ViewFunctions.view(this, shape);
  }

  public Tensor transpose(int dim0, int dim1) {
    return ViewFunctions.transpose(this, dim0, dim1);
  }

  public Tensor t() {
    if (ndim() != 2) {
      throw new IllegalArgumentException("t() expects 2 dims, got " + ndim());
    }
    return transpose(0, 1);
  }

  public Tensor permute(int... dims) {
    return ViewFunctions.permute(this, dims);
  }

  public Tensor expand(int... shape) {
    return ViewFunctions.expand(this, shape);
  }

  public Tensor narrow(int dim, int start, int length) {
    return ViewFunctions.slice(this, dim, start, start + length, 1, true);
  }

  public Tensor slice(int dim, int start, int end, int step) {
    return ViewFunctions.slice(this, dim, start, end, step, false);
  }

  public Tensor select(int dim, int index) {
    return ViewFunctions.select(this, dim, index);
  }

  public Tensor squeeze(int dim) {
    return ViewFunctions.reshapeLike(this, data.squeeze(dim));
  }

  public Tensor squeeze() {
    return ViewFunctions.reshapeLike(this, data.squeeze());
  }

  public Tensor unsqueeze(int dim) {
    return ViewFunctions.reshapeLike(this, data.unsqueeze(dim));
  }

  public Tensor flatten() {
    return reshape(-1);
  }

  public Tensor flatten(int startDim, int endDim) {
    return ViewFunctions.reshapeLike(this, data.flatten(startDim, endDim));
  }

  public Tensor contiguous() {
    return ViewFunctions.contiguous(this);
  }

  public static Tensor cat(int dim, Tensor... tensors) {
    return ViewFunctions.cat(dim, tensors);
  }

  public static Tensor stack(int dim, Tensor... tensors) {
    Tensor[] expanded = new Tensor[tensors.length];
    for (int i = 0; i < tensors.length; i++) {
      expanded[i] = tensors[i].unsqueeze(dim);
    }
    return cat(dim, expanded);
  }

  public List<Tensor> split(int splitSize, int dim) {
    int size = shape(dim);
    List<Tensor> parts = new ArrayList<>();
    for (int start = 0; start < size; start += splitSize) {
      parts.add(narrow(dim, start, Math.min(splitSize, size - start)));
    }
    return parts;
  }

  public List<Tensor> chunk(int chunks, int dim) {
    int size = shape(dim);
    return split(Math.max(1, (size + chunks - 1) / chunks), dim);
  }

  // ---------------------------------------------------------------------------------------------
  // Reductions

  public Tensor sum() {
    return ReductionFunctions.sum(this, new int[0], false);
  }

  public Tensor sum(int[] dims, boolean keepDim) {
    return ReductionFunctions.sum(this, dims, keepDim);
  }

  public Tensor mean() {
    return ReductionFunctions.mean(this, new int[0], false);
  }

  public Tensor mean(int[] dims, boolean keepDim) {
    return ReductionFunctions.mean(this, dims, keepDim);
  }

  /** Variance with {@code correction} (1 = Bessel's, torch's default). */
  public Tensor var(int[] dims, int correction, boolean keepDim) {
    long n = 1;
    int[] all = dims.length == 0 ? allDims() : dims;
    for (int d : all) {
      n *= shape(d);
    }
    try (Tensor m = mean(dims, true);
        Tensor d = sub(m);
        Tensor sq = d.square();
        Tensor s = sq.sum(dims, keepDim)) {
      return s.div((double) Math.max(0, n - correction));
    }
  }

  public Tensor std(int[] dims, int correction, boolean keepDim) {
    try (Tensor v = var(dims, correction, keepDim)) {
      return v.sqrt();
    }
  }

  private int[] allDims() {
    int[] all = new int[ndim()];
    for (int i = 0; i < all.length; i++) {
      all[i] = i;
    }
    return all;
  }

  /** Max over dims; ties share the gradient evenly (torch.amax). */
  public Tensor amax(int[] dims, boolean keepDim) {
    return ReductionFunctions.amax(this, dims, keepDim, true);
  }

  public Tensor amin(int[] dims, boolean keepDim) {
    return ReductionFunctions.amax(this, dims, keepDim, false);
  }

  /** Max along {@code dim}; the gradient goes to the first maximum (torch.max(dim)). */
  public Tensor max(int dim, boolean keepDim) {
    return ReductionFunctions.maxAlong(this, dim, keepDim, true);
  }

  public Tensor min(int dim, boolean keepDim) {
    return ReductionFunctions.maxAlong(this, dim, keepDim, false);
  }

  public Tensor logsumexp(int[] dims, boolean keepDim) {
    return ReductionFunctions.logsumexp(this, dims, keepDim);
  }

  public Tensor softmax(int dim) {
    return ReductionFunctions.softmax(this, dim, false);
  }

  public Tensor logSoftmax(int dim) {
    return ReductionFunctions.softmax(this, dim, true);
  }

  /** The p-norm over dims (p = 2 by default in {@link #norm()}). */
  public Tensor norm(double p, int[] dims, boolean keepDim) {
    if (p == 2) {
      try (Tensor sq = square();
          Tensor s = sq.sum(dims, keepDim)) {
        return s.sqrt();
      }
    }
    try (Tensor a = abs()) {
      if (p == 1) {
        return a.sum(dims, keepDim);
      }
      if (p == Double.POSITIVE_INFINITY) {
        return a.amax(dims, keepDim);
      }
      try (Tensor ap = a.pow(p);
          Tensor s = ap.sum(dims, keepDim)) {
        return s.pow(1.0 / p);
      }
    }
  }

  public Tensor norm() {
    return norm(2, new int[0], false);
  }

  // ---------------------------------------------------------------------------------------------
  // Indexing, linear algebra, convolution

  public Tensor indexSelect(int dim, NDArray index) {
    return IndexFunctions.indexSelect(this, dim, index);
  }

  public Tensor gather(int dim, NDArray index) {
    return IndexFunctions.gather(this, dim, index);
  }

  /** This tensor with {@code src} added at {@code index} along {@code dim} (out of place). */
  public Tensor scatterAdd(int dim, NDArray index, Tensor src) {
    return IndexFunctions.scatterAdd(this, dim, index, src);
  }

  public Tensor matmul(Tensor other) {
    return MatMulFunction.apply(this, other);
  }

  /** 2-D convolution as {@code torch.nn.functional.conv2d}; {@code bias} may be null. */
  public static Tensor conv2d(
      Tensor input,
      Tensor weight,
      Tensor bias,
      int[] stride,
      int[] padding,
      int[] dilation,
      int groups) {
    return ConvFunctions.conv2d(input, weight, bias, stride, padding, dilation, groups);
  }

  /** Max pooling; the gradient goes to each window's maximum. */
  public Tensor maxPool2d(int[] kernel, int[] stride, int[] padding) {
    return ConvFunctions.maxPool2d(this, kernel, stride, padding);
  }

  /**
   * {@code relu().maxPool2d(kernel, stride, padding)} as one op: the same values and gradients,
   * without the rectified copy of this tensor.
   */
  public Tensor reluMaxPool2d(int[] kernel, int[] stride, int[] padding) {
    return ConvFunctions.reluMaxPool2d(this, kernel, stride, padding);
  }

  public Tensor avgPool2d(int[] kernel, int[] stride, int[] padding) {
    return ConvFunctions.avgPool2d(this, kernel, stride, padding);
  }

  @Override
  public String toString() {
    String base = data.toString();
    if (gradFn != null) {
      return base.substring(0, base.length() - 1) + ", gradFn=" + gradFn + ")";
    }
    return requiresGrad ? base.substring(0, base.length() - 1) + ", requiresGrad=true)" : base;
  }
}
