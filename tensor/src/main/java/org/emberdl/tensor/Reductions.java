package org.emberdl.tensor;

import org.emberdl.tensor.ops.ReduceOp;

/** Reductions over sets of dims, and the ones composed from them (mean, var, softmax, norms). */
final class Reductions {
  private Reductions() {}

  /** Shapes of a reduction: which dims go, the permutation that moves them last, result sizes. */
  private record Plan(int[] reduced, int[] perm, int[] outShape, int[] keepShape, long length) {
    static Plan of(int[] shape, int[] dims) {
      int nd = shape.length;
      int[] reduced = Shape.normalizeDims(dims, nd);
      boolean[] isReduced = new boolean[nd];
      for (int d : reduced) {
        isReduced[d] = true;
      }
      int[] perm = new int[nd];
      int[] outShape = new int[nd - reduced.length];
      int[] keepShape = shape.clone();
      int k = 0;
      for (int d = 0; d < nd; d++) {
        if (!isReduced[d]) {
          outShape[k] = shape[d];
          perm[k++] = d;
        } else {
          keepShape[d] = 1;
        }
      }
      long length = 1;
      for (int d : reduced) {
        perm[k++] = d;
        length *= shape[d];
      }
      return new Plan(reduced, perm, outShape, keepShape, length);
    }
  }

  static NDArray reduce(NDArray x, ReduceOp op, int[] dims, boolean keepDim) {
    Plan plan = Plan.of(x.layout().shape(), dims);
    if (plan.length == 0
        && (op == ReduceOp.MAX
            || op == ReduceOp.MIN
            || op == ReduceOp.ARGMAX
            || op == ReduceOp.ARGMIN)) {
      throw new IllegalArgumentException(
          op.kernelName()
              + " of an empty dimension is undefined (shape "
              + Shape.toString(x.layout().shape())
              + ")");
    }
    DType outType =
        switch (op) {
          case SUM, PROD -> x.dtype().isFloatingPoint() ? x.dtype() : DType.INT64;
          case MAX, MIN -> x.dtype();
          case ARGMAX, ARGMIN -> DType.INT64;
          case ALL, ANY -> DType.BOOL;
        };
    NDArray out = NDArray.empty(outType, x.device(), keepDim ? plan.keepShape : plan.outShape);
    return NDArray.fillOrClose(
        out,
        () -> {
          try (NDArray src = x.borrow(x.layout().permute(plan.perm));
              NDArray dst = out.borrow(Layout.contiguous(plan.outShape))) {
            x.backend().reduce(op, src, plan.reduced.length, dst);
          }
        });
  }

  static ValuesIndices withIndices(
      NDArray x, ReduceOp values, ReduceOp indices, int dim, boolean keepDim) {
    int[] dims = {dim};
    NDArray v = reduce(x, values, dims, keepDim);
    NDArray[] i = new NDArray[1];
    NDArray.fillOrClose(v, () -> i[0] = reduce(x, indices, dims, keepDim));
    return new ValuesIndices(v, i[0]);
  }

  private static void requireFloating(NDArray x, String op) {
    if (!x.dtype().isFloatingPoint()) {
      throw new IllegalArgumentException(
          op + " needs a floating dtype, got " + x.dtype() + "; cast() first");
    }
  }

  static NDArray mean(NDArray x, int[] dims, boolean keepDim) {
    requireFloating(x, "mean");
    long n = Plan.of(x.layout().shape(), dims).length;
    NDArray s = reduce(x, ReduceOp.SUM, dims, keepDim);
    return s.divInPlace((double) n);
  }

  static NDArray var(NDArray x, int[] dims, int correction, boolean keepDim) {
    requireFloating(x, "var");
    long n = Plan.of(x.layout().shape(), dims).length;
    try (NDArray m = mean(x, dims, true);
        NDArray d = x.sub(m);
        NDArray sq = d.square()) {
      NDArray s = reduce(sq, ReduceOp.SUM, dims, keepDim);
      return s.divInPlace((double) Math.max(0, n - correction));
    }
  }

  static NDArray logsumexp(NDArray x, int[] dims, boolean keepDim) {
    Plan plan = Plan.of(x.layout().shape(), dims);
    try (NDArray xf = x.cast(x.dtype().toFloatingPoint());
        NDArray m = reduce(xf, ReduceOp.MAX, dims, true);
        NDArray mAbs = m.abs();
        NDArray inf = mAbs.eq(Double.POSITIVE_INFINITY);
        // An all -inf (or +inf) slice must give -inf (+inf), not NaN from inf - inf.
        NDArray shift = m.maskedFill(inf, 0);
        NDArray shifted = xf.sub(shift);
        NDArray e = shifted.exp();
        NDArray s = reduce(e, ReduceOp.SUM, dims, true);
        NDArray l = s.log()) {
      NDArray r = l.addInPlace(shift);
      if (keepDim) {
        return r.reshape(plan.keepShape);
      }
      return r.reshape(plan.outShape);
    }
  }

  static NDArray softmax(NDArray x, int dim, boolean log) {
    int[] dims = {dim};
    try (NDArray xf = x.cast(x.dtype().toFloatingPoint());
        NDArray m = reduce(xf, ReduceOp.MAX, dims, true);
        NDArray shifted = xf.sub(m);
        NDArray e = shifted.exp();
        NDArray s = reduce(e, ReduceOp.SUM, dims, true)) {
      if (log) {
        try (NDArray ls = s.log()) {
          return shifted.sub(ls);
        }
      }
      return e.div(s);
    }
  }

  static NDArray norm(NDArray x, double p, int[] dims, boolean keepDim) {
    try (NDArray xf = x.cast(x.dtype().toFloatingPoint());
        NDArray a = xf.abs()) {
      if (p == 2) {
        try (NDArray sq = a.square();
            NDArray s = reduce(sq, ReduceOp.SUM, dims, keepDim)) {
          return s.sqrt();
        }
      }
      if (p == 1) {
        return reduce(a, ReduceOp.SUM, dims, keepDim);
      }
      if (p == Double.POSITIVE_INFINITY) {
        return reduce(a, ReduceOp.MAX, dims, keepDim);
      }
      if (p == Double.NEGATIVE_INFINITY) {
        return reduce(a, ReduceOp.MIN, dims, keepDim);
      }
      if (p == 0) {
        try (NDArray nz = a.ne(0);
            NDArray nzf = nz.cast(xf.dtype())) {
          return reduce(nzf, ReduceOp.SUM, dims, keepDim);
        }
      }
      try (NDArray ap = a.pow(p);
          NDArray s = reduce(ap, ReduceOp.SUM, dims, keepDim)) {
        return s.pow(1.0 / p);
      }
    }
  }
}
