package org.emberdl.autograd.functions;

import org.emberdl.autograd.Function;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.ops.BinaryOp;

/**
 * Differentiable binary ops with broadcasting; each input's gradient is summed back to its shape by
 * {@link Grads#sumTo}.
 */
public final class BinaryFunction extends Function {
  private final BinaryOp op;
  private final NDArray a;
  private final NDArray b;
  private final NDArray result;
  private final int[] shapeA;
  private final int[] shapeB;

  private BinaryFunction(BinaryOp op, Tensor ta, Tensor tb, NDArray result) {
    super(op.kernelName(), ta, tb);
    this.op = op;
    this.shapeA = ta.data().shape();
    this.shapeB = tb.data().shape();
    boolean needsInputs = op != BinaryOp.ADD && op != BinaryOp.SUB;
    this.a = needsInputs ? save(ta.data()) : null;
    this.b = needsInputs ? save(tb.data()) : null;
    this.result = op == BinaryOp.POW ? save(result) : null;
  }

  public static Tensor apply(BinaryOp op, Tensor a, Tensor b) {
    NDArray r = forward(op, a.data(), b.data());
    return isNeeded(a, b) ? new BinaryFunction(op, a, b, r).output(r) : Tensor.of(r);
  }

  private static NDArray forward(BinaryOp op, NDArray a, NDArray b) {
    return switch (op) {
      case ADD -> a.add(b);
      case SUB -> a.sub(b);
      case MUL -> a.mul(b);
      case DIV -> a.div(b);
      case POW -> a.pow(b);
      case MAXIMUM -> a.maximum(b);
      case MINIMUM -> a.minimum(b);
      case EQ, NE, LT, LE, GT, GE, LOGICAL_AND, LOGICAL_OR ->
          throw new IllegalArgumentException(
              op.kernelName() + " is not differentiable; compare the data() arrays instead");
    };
  }

  @Override
  protected NDArray[] backward(NDArray grad) {
    NDArray ga = null;
    NDArray gb = null;
    try {
      switch (op) {
        case ADD -> {
          ga = grad.share();
          gb = grad.share();
        }
        case SUB -> {
          ga = grad.share();
          gb = grad.neg();
        }
        case MUL -> {
          ga = needsGrad(0) ? grad.mul(b) : null;
          gb = needsGrad(1) ? grad.mul(a) : null;
        }
        // d a/b = 1/b, -a/b^2
        case DIV -> {
          ga = needsGrad(0) ? grad.div(b) : null;
          if (needsGrad(1)) {
            try (NDArray q = result().div(b);
                NDArray gq = grad.mul(q)) {
              gb = gq.neg();
            }
          }
        }
        // d a^b = b a^(b-1), a^b ln a
        case POW -> {
          if (needsGrad(0)) {
            try (NDArray bm1 = b.sub(1);
                NDArray p = a.pow(bm1);
                NDArray d = p.mul(b)) {
              ga = grad.mul(d);
            }
          }
          if (needsGrad(1)) {
            try (NDArray ln = a.log();
                NDArray d = result.mul(ln)) {
              gb = grad.mul(d);
            }
          }
        }
        // the larger input takes the gradient; ties split it evenly (as torch.maximum)
        case MAXIMUM, MINIMUM -> {
          boolean max = op == BinaryOp.MAXIMUM;
          try (NDArray wins = max ? a.gt(b) : a.lt(b);
              NDArray ties = a.eq(b);
              NDArray w = wins.cast(grad.dtype());
              NDArray t = ties.cast(grad.dtype());
              NDArray half = t.mul(0.5);
              NDArray shareA = w.add(half);
              NDArray shareB = shareA.rsub(1)) {
            ga = grad.mul(shareA);
            gb = grad.mul(shareB);
          }
        }
        case EQ, NE, LT, LE, GT, GE, LOGICAL_AND, LOGICAL_OR ->
            throw new IllegalStateException(op + " is not differentiable");
      }
      return new NDArray[] {reduce(ga, shapeA), reduce(gb, shapeB)};
    } catch (RuntimeException e) {
      closeQuietly(ga);
      closeQuietly(gb);
      throw e;
    }
  }

  /** a / b, recomputed for DIV's second gradient (not saved: DIV saves its inputs only). */
  private NDArray result() {
    return a.div(b);
  }

  private static NDArray reduce(NDArray g, int[] shape) {
    if (g == null) {
      return null;
    }
    try (g) {
      return Grads.sumTo(g, shape);
    }
  }

  private static void closeQuietly(NDArray a) {
    if (a != null) {
      a.close();
    }
  }
}
