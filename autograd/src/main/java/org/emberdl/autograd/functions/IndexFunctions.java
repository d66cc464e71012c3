package org.emberdl.autograd.functions;

import org.emberdl.autograd.Function;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.NDArray;

/** Indexing and selection: the gradient goes back to where each element was read from. */
public final class IndexFunctions {
  private IndexFunctions() {}

  /** Rows picked by a 1-D index; backward adds each gradient row back at its index. */
  public static Tensor indexSelect(Tensor x, int dim, NDArray index) {
    NDArray r = x.data().indexSelect(dim, index);
    if (!Function.isNeeded(x)) {
      return Tensor.of(r);
    }
    int[] inShape = x.data().shape();
    int d = dim < 0 ? dim + inShape.length : dim;
    return new Function("indexSelect", x) {
      private final NDArray idx = save(index);

      @Override
      protected NDArray[] backward(NDArray grad) {
        // index_add as a scatter-add with the 1-D index broadcast along the other dims
        int[] unit = new int[inShape.length];
        java.util.Arrays.fill(unit, 1);
        unit[d] = (int) idx.numel();
        NDArray full = NDArray.zeros(grad.dtype(), grad.device(), inShape);
        try (NDArray i1 = idx.reshape(unit);
            NDArray spread = i1.expand(grad.shape())) {
          full.scatterAddInPlace(d, spread, grad);
        }
        return new NDArray[] {full};
      }
    }.output(r);
  }

  public static Tensor gather(Tensor x, int dim, NDArray index) {
    NDArray r = x.data().gather(dim, index);
    if (!Function.isNeeded(x)) {
      return Tensor.of(r);
    }
    int[] inShape = x.data().shape();
    return new Function("gather", x) {
      private final NDArray idx = save(index);

      @Override
      protected NDArray[] backward(NDArray grad) {
        NDArray full = NDArray.zeros(grad.dtype(), grad.device(), inShape);
        full.scatterAddInPlace(dim, idx, grad);
        return new NDArray[] {full};
      }
    }.output(r);
  }

  /** x with src added at index: d/dx = grad, d/dsrc = grad gathered at index. */
  public static Tensor scatterAdd(Tensor x, int dim, NDArray index, Tensor src) {
    NDArray r = x.data().scatterAdd(dim, index, src.data());
    if (!Function.isNeeded(x, src)) {
      return Tensor.of(r);
    }
    int[] srcShape = src.data().shape();
    return new Function("scatterAdd", x, src) {
      private final NDArray idx = save(index);

      @Override
      protected NDArray[] backward(NDArray grad) {
        NDArray gs = null;
        if (needsGrad(1)) {
          try (NDArray picked = grad.gather(dim, idx)) {
            gs = NDArray.zeros(grad.dtype(), grad.device(), srcShape);
            // only the index's extent of src took part; the rest gets zero
            NDArray region = gs;
            int[] is = idx.shape();
            for (int d = 0; d < is.length; d++) {
              NDArray next = region.narrow(d, 0, is[d]);
              if (region != gs) {
                region.close();
              }
              region = next;
            }
            region.copyFrom(picked);
            if (region != gs) {
              region.close();
            }
          }
        }
        return new NDArray[] {needsGrad(0) ? grad.share() : null, gs};
      }
    }.output(r);
  }

  /** cond ? a : b, broadcasting; each branch gets the gradient where it was chosen. */
  public static Tensor where(NDArray cond, Tensor a, Tensor b) {
    NDArray r = NDArray.where(cond, a.data(), b.data());
    if (!Function.isNeeded(a, b)) {
      return Tensor.of(r);
    }
    int[] shapeA = a.data().shape();
    int[] shapeB = b.data().shape();
    return new Function("where", a, b) {
      private final NDArray c = save(cond);

      @Override
      protected NDArray[] backward(NDArray grad) {
        NDArray ga = null;
        NDArray gb = null;
        if (needsGrad(0)) {
          try (NDArray notC = c.logicalNot();
              NDArray m = grad.maskedFill(notC, 0)) {
            ga = Grads.sumTo(m, shapeA);
          }
        }
        if (needsGrad(1)) {
          try (NDArray m = grad.maskedFill(c, 0)) {
            gb = Grads.sumTo(m, shapeB);
          }
        }
        return new NDArray[] {ga, gb};
      }
    }.output(r);
  }

  public static Tensor maskedFill(Tensor x, NDArray mask, double value) {
    NDArray r = x.data().maskedFill(mask, value);
    if (!Function.isNeeded(x)) {
      return Tensor.of(r);
    }
    int[] inShape = x.data().shape();
    return new Function("maskedFill", x) {
      private final NDArray m = save(mask);

      @Override
      protected NDArray[] backward(NDArray grad) {
        try (NDArray g = grad.maskedFill(m, 0)) {
          return new NDArray[] {Grads.sumTo(g, inShape)};
        }
      }
    }.output(r);
  }
}
