package org.emberdl.autograd.functions;

import org.emberdl.autograd.Function;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.FusedOps;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.ops.UnaryOp;

/** Every differentiable unary op: forward and backward rule, one switch arm each. */
public final class UnaryFunction extends Function {
  private static final double INV_SQRT_2PI = 0.3989422804014327;

  private final UnaryOp op;
  private final NDArray x;
  private final NDArray result;

  private UnaryFunction(UnaryOp op, Tensor input, NDArray result) {
    super(op.kernelName(), input);
    this.op = op;
    this.x = save(input.data());
    this.result = save(result);
  }

  public static Tensor apply(UnaryOp op, Tensor x) {
    NDArray r = forward(op, x.data());
    return isNeeded(x) ? new UnaryFunction(op, x, r).output(r) : Tensor.of(r);
  }

  private static NDArray forward(UnaryOp op, NDArray x) {
    return switch (op) {
      case IDENTITY -> x.copy();
      case NEG -> x.neg();
      case ABS -> x.abs();
      case SIGN -> x.sign();
      case EXP -> x.exp();
      case LOG -> x.log();
      case LOG1P -> x.log1p();
      case SQRT -> x.sqrt();
      case RSQRT -> x.rsqrt();
      case TANH -> x.tanh();
      case SIGMOID -> x.sigmoid();
      case RELU -> x.relu();
      case GELU -> x.gelu();
      case ERF -> x.erf();
      case STEP -> x.step();
      case LOGICAL_NOT -> throw new IllegalArgumentException("logicalNot is not differentiable");
    };
  }

  @Override
  protected NDArray[] backward(NDArray grad) {
    return new NDArray[] {gradInput(grad)};
  }

  private NDArray gradInput(NDArray grad) {
    return switch (op) {
      case IDENTITY -> grad.copy();
      case NEG -> grad.neg();
      case ABS -> {
        try (NDArray s = x.sign()) {
          yield grad.mul(s);
        }
      }
      case SIGN -> NDArray.zeros(grad.dtype(), grad.device(), grad.shape());
      case EXP -> grad.mul(result);
      case LOG -> grad.div(x);
      case LOG1P -> {
        try (NDArray x1 = x.add(1)) {
          yield grad.div(x1);
        }
      }
      // d sqrt(x) = 1 / (2 sqrt(x))
      case SQRT -> {
        try (NDArray twice = result.mul(2)) {
          yield grad.div(twice);
        }
      }
      // d x^-1/2 = -1/2 x^-3/2 = -1/2 result^3
      case RSQRT -> {
        try (NDArray r3 = result.pow(3);
            NDArray scaled = r3.mul(-0.5)) {
          yield grad.mul(scaled);
        }
      }
      // d tanh = 1 - tanh^2
      case TANH -> {
        try (NDArray sq = result.square();
            NDArray d = sq.rsub(1)) {
          yield grad.mul(d);
        }
      }
      // d sigmoid = s (1 - s)
      case SIGMOID -> {
        try (NDArray oneMinus = result.rsub(1);
            NDArray d = result.mul(oneMinus)) {
          yield grad.mul(d);
        }
      }
      // gradient where the output is positive (torch's threshold_backward: 0 at x = 0)
      case RELU -> {
        try (NDArray mask = result.step()) {
          yield grad.mul(mask);
        }
      }
      case STEP -> NDArray.zeros(grad.dtype(), grad.device(), grad.shape());
      // d x Phi(x) = Phi(x) + x phi(x), one fused pass
      case GELU -> FusedOps.geluBackward(grad, x);
      // d erf(x) = 2/sqrt(pi) exp(-x^2)
      case ERF -> {
        try (NDArray sq = x.square();
            NDArray neg = sq.neg();
            NDArray ex = neg.exp();
            NDArray d = ex.mul(2 * INV_SQRT_2PI * Math.sqrt(2))) {
          yield grad.mul(d);
        }
      }
      case LOGICAL_NOT -> throw new IllegalStateException("logicalNot is not differentiable");
    };
  }
}
