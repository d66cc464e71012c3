package org.emberdl.autograd.functions;

import org.emberdl.autograd.Function;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.ops.BinaryOp;

/** Binary ops with a constant scalar operand ({@code x + 2}, {@code 1 / x}, {@code x^3}). */
public final class ScalarFunction extends Function {
  private final BinaryOp op;
  private final double s;
  private final boolean scalarFirst;
  private final NDArray x;
  private final NDArray result;

  private ScalarFunction(BinaryOp op, Tensor input, double s, boolean scalarFirst, NDArray r) {
    super(op.kernelName() + "Scalar", input);
    this.op = op;
    this.s = s;
    this.scalarFirst = scalarFirst;
    boolean needsX = op != BinaryOp.ADD && op != BinaryOp.SUB && op != BinaryOp.MUL;
    this.x = needsX ? save(input.data()) : null;
    this.result =
        (op == BinaryOp.POW && scalarFirst) || (op == BinaryOp.DIV && scalarFirst) ? save(r) : null;
  }

  public static Tensor apply(BinaryOp op, Tensor x, double s, boolean scalarFirst) {
    NDArray d = x.data();
    NDArray r =
        switch (op) {
          case ADD -> d.add(s);
          case SUB -> scalarFirst ? d.rsub(s) : d.sub(s);
          case MUL -> d.mul(s);
          case DIV -> scalarFirst ? d.rdiv(s) : d.div(s);
          case POW -> scalarFirst ? powBase(s, d) : d.pow(s);
          case MAXIMUM -> d.maximum(s);
          case MINIMUM -> d.minimum(s);
          case EQ, NE, LT, LE, GT, GE, LOGICAL_AND, LOGICAL_OR ->
              throw new IllegalArgumentException(
                  op.kernelName() + " is not differentiable; compare the data() arrays instead");
        };
    return isNeeded(x) ? new ScalarFunction(op, x, s, scalarFirst, r).output(r) : Tensor.of(r);
  }

  /** s^x = exp(x ln s). */
  private static NDArray powBase(double s, NDArray x) {
    try (NDArray scaled = x.mul(Math.log(s))) {
      return scaled.exp();
    }
  }

  @Override
  protected NDArray[] backward(NDArray grad) {
    NDArray g =
        switch (op) {
          case ADD -> grad.share();
          case SUB -> scalarFirst ? grad.neg() : grad.share();
          case MUL -> grad.mul(s);
          // x / s -> 1/s; s / x -> -s / x^2 = -result / x
          case DIV -> {
            if (!scalarFirst) {
              yield grad.div(s);
            }
            try (NDArray q = result.div(x);
                NDArray gq = grad.mul(q)) {
              yield gq.neg();
            }
          }
          // x^s -> s x^(s-1); s^x -> s^x ln s
          case POW -> {
            if (scalarFirst) {
              try (NDArray d = result.mul(Math.log(s))) {
                yield grad.mul(d);
              }
            }
            try (NDArray p = x.pow(s - 1);
                NDArray d = p.mul(s)) {
              yield grad.mul(d);
            }
          }
          case MAXIMUM, MINIMUM -> {
            try (NDArray wins = op == BinaryOp.MAXIMUM ? x.gt(s) : x.lt(s);
                NDArray ties = x.eq(s);
                NDArray w = wins.cast(grad.dtype());
                NDArray t = ties.cast(grad.dtype());
                NDArray half = t.mul(0.5);
                NDArray share = w.add(half)) {
              yield grad.mul(share);
            }
          }
          case EQ, NE, LT, LE, GT, GE, LOGICAL_AND, LOGICAL_OR ->
              throw new IllegalStateException(op + " is not differentiable");
        };
    return new NDArray[] {g};
  }

  /** Clamp: the gradient passes where {@code min <= x <= max} (torch.clamp's rule). */
  public static Tensor clamp(Tensor x, double min, double max) {
    NDArray r = x.data().clamp(min, max);
    if (!isNeeded(x)) {
      return Tensor.of(r);
    }
    return new Function("clamp", x) {
      private final NDArray in = save(x.data());

      @Override
      protected NDArray[] backward(NDArray grad) {
        try (NDArray lo = in.ge(min);
            NDArray hi = in.le(max);
            NDArray inside = lo.logicalAnd(hi);
            NDArray mask = inside.cast(grad.dtype())) {
          return new NDArray[] {grad.mul(mask)};
        }
      }
    }.output(r);
  }
}
