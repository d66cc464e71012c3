package org.emberdl.autograd.functions;

import org.emberdl.autograd.Function;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.Shape;
import org.emberdl.tensor.ValuesIndices;

/** Reductions and the softmax family, with their backward rules. */
public final class ReductionFunctions {
  private ReductionFunctions() {}

  /** The shape of a keepDim reduction of {@code shape} over {@code dims}. */
  static int[] keptShape(int[] shape, int[] dims) {
    int[] kept = shape.clone();
    for (int d : Shape.normalizeDims(dims, shape.length)) {
      kept[d] = 1;
    }
    return kept;
  }

  /** {@code grad} of a reduction, reshaped to keepDim form and broadcast to {@code inShape}. */
  static NDArray broadcastBack(NDArray grad, int[] inShape, int[] dims) {
    try (NDArray kept = grad.reshape(keptShape(inShape, dims))) {
      return kept.expand(inShape);
    }
  }

  public static Tensor sum(Tensor x, int[] dims, boolean keepDim) {
    NDArray r = x.data().sum(dims, keepDim);
    if (!Function.isNeeded(x)) {
      return Tensor.of(r);
    }
    int[] inShape = x.data().shape();
    return new Function("sum", x) {
      @Override
      protected NDArray[] backward(NDArray grad) {
        return new NDArray[] {broadcastBack(grad, inShape, dims)};
      }
    }.output(r);
  }

  public static Tensor mean(Tensor x, int[] dims, boolean keepDim) {
    NDArray r = x.data().mean(dims, keepDim);
    if (!Function.isNeeded(x)) {
      return Tensor.of(r);
    }
    int[] inShape = x.data().shape();
    long n = Shape.numel(inShape) / Math.max(1, Shape.numel(keptShape(inShape, dims)));
    return new Function("mean", x) {
      @Override
      protected NDArray[] backward(NDArray grad) {
        try (NDArray scaled = grad.div((double) n)) {
          return new NDArray[] {broadcastBack(scaled, inShape, dims)};
        }
      }
    }.output(r);
  }

  /** amax/amin: the gradient is shared evenly by the elements equal to the extreme. */
  public static Tensor amax(Tensor x, int[] dims, boolean keepDim, boolean max) {
    NDArray r = max ? x.data().amax(dims, keepDim) : x.data().amin(dims, keepDim);
    if (!Function.isNeeded(x)) {
      return Tensor.of(r);
    }
    int[] inShape = x.data().shape();
    return new Function(max ? "amax" : "amin", x) {
      private final NDArray in = save(x.data());
      private final NDArray out = save(r);

      @Override
      protected NDArray[] backward(NDArray grad) {
        try (NDArray extreme = broadcastBack(out, inShape, dims);
            NDArray hit = in.eq(extreme);
            NDArray mask = hit.cast(grad.dtype());
            NDArray count = mask.sum(dims, true);
            NDArray g = broadcastBack(grad, inShape, dims);
            NDArray share = mask.div(count)) {
          return new NDArray[] {g.mul(share)};
        }
      }
    }.output(r);
  }

  /** max/min along one dim: the gradient goes to the (first) index that won. */
  public static Tensor maxAlong(Tensor x, int dim, boolean keepDim, boolean max) {
    ValuesIndices vi = max ? x.data().max(dim, keepDim) : x.data().min(dim, keepDim);
    NDArray r = vi.values();
    if (!Function.isNeeded(x)) {
      vi.indices().close();
      return Tensor.of(r);
    }
    int[] inShape = x.data().shape();
    int d = dim < 0 ? dim + inShape.length : dim;
    NDArray indices = vi.indices();
    return new Function(max ? "max" : "min", x) {
      private final NDArray idx = save(indices);

      {
        indices.close();
      }

      @Override
      protected NDArray[] backward(NDArray grad) {
        int[] kept = keptShape(inShape, new int[] {d});
        NDArray full = NDArray.zeros(grad.dtype(), grad.device(), inShape);
        try (NDArray g = grad.reshape(kept);
            NDArray i = idx.reshape(kept)) {
          full.scatterAddInPlace(d, i, g);
        }
        return new NDArray[] {full};
      }
    }.output(r);
  }

  /** d logsumexp = softmax over the reduced dims. */
  public static Tensor logsumexp(Tensor x, int[] dims, boolean keepDim) {
    NDArray r = x.data().logsumexp(dims, keepDim);
    if (!Function.isNeeded(x)) {
      return Tensor.of(r);
    }
    int[] inShape = x.data().shape();
    return new Function("logsumexp", x) {
      private final NDArray in = save(x.data());
      private final NDArray out = save(r);

      @Override
      protected NDArray[] backward(NDArray grad) {
        try (NDArray lse = broadcastBack(out, inShape, dims);
            NDArray shifted = in.sub(lse);
            NDArray p = shifted.exp();
            NDArray g = broadcastBack(grad, inShape, dims)) {
          return new NDArray[] {g.mul(p)};
        }
      }
    }.output(r);
  }

  /**
   * softmax: {@code y * (g - sum(g * y))}; logSoftmax: {@code g - exp(y) * sum(g)}, sums along
   * {@code dim}.
   */
  public static Tensor softmax(Tensor x, int dim, boolean log) {
    NDArray r = log ? x.data().logSoftmax(dim) : x.data().softmax(dim);
    if (!Function.isNeeded(x)) {
      return Tensor.of(r);
    }
    int[] dims = {dim};
    return new Function(log ? "logSoftmax" : "softmax", x) {
      private final NDArray y = save(r);

      @Override
      protected NDArray[] backward(NDArray grad) {
        if (log) {
          try (NDArray s = grad.sum(dims, true);
              NDArray p = y.exp();
              NDArray ps = p.mul(s)) {
            return new NDArray[] {grad.sub(ps)};
          }
        }
        try (NDArray gy = grad.mul(y);
            NDArray s = gy.sum(dims, true);
            NDArray centered = grad.sub(s)) {
          return new NDArray[] {y.mul(centered)};
        }
      }
    }.output(r);
  }
}
