package org.emberdl.onnx;

import static org.emberdl.onnx.Values.floating;
import static org.emberdl.onnx.Values.one;

import java.util.Map;
import java.util.function.BinaryOperator;
import java.util.function.UnaryOperator;
import org.emberdl.autograd.Tensor;
import org.emberdl.nn.Dropout;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.NDArray;

/** Elementwise ONNX ops: arithmetic with numpy broadcasting, activations, Where, Cast, Dropout. */
final class ElementwiseOps {
  private ElementwiseOps() {}

  static void register(Map<String, OpCompiler> ops) {
    ops.put("Add", binary(Tensor::add));
    ops.put("Sub", binary(Tensor::sub));
    ops.put("Mul", binary(Tensor::mul));
    ops.put("Div", (node, cc) -> (in, training) -> one(div(in[0], in[1])));
    ops.put("Pow", ElementwiseOps::pow);
    ops.put("Relu", unary(Tensor::relu));
    ops.put("Sigmoid", unary(Tensor::sigmoid));
    ops.put("Tanh", unary(Tensor::tanh));
    ops.put("Erf", unary(Tensor::erf));
    ops.put("Sqrt", unary(Tensor::sqrt));
    ops.put("Exp", unary(Tensor::exp));
    ops.put("Log", unary(Tensor::log));
    ops.put("Abs", unary(Tensor::abs));
    ops.put("Neg", (node, cc) -> (in, training) -> one(in[0].neg()));
    ops.put("Reciprocal", unary(t -> t.rdiv(1.0)));
    ops.put(
        "LeakyRelu",
        (node, cc) -> {
          double alpha = node.attributes().getFloat("alpha", 0.01f);
          return (in, training) -> one(floating(in[0], "X").leakyRelu(alpha));
        });
    ops.put("Gelu", ElementwiseOps::gelu);
    ops.put("Softmax", (node, cc) -> softmax(node, cc, false));
    ops.put("LogSoftmax", (node, cc) -> softmax(node, cc, true));
    ops.put("Where", (node, cc) -> (in, training) -> one(where(in[0], in[1], in[2])));
    ops.put("Cast", ElementwiseOps::cast);
    ops.put("Identity", (node, cc) -> (in, training) -> one(Values.share(in[0])));
    ops.put("Dropout", ElementwiseOps::dropout);
    ops.put("Equal", compare(NDArray::eq));
    ops.put("Less", compare(NDArray::lt));
    ops.put("Greater", compare(NDArray::gt));
    ops.put("Not", (node, cc) -> (in, training) -> one(Tensor.of(bool(in[0]).logicalNot())));
    ops.put("Max", variadic(Tensor::maximum));
    ops.put("Min", variadic(Tensor::minimum));
    ops.put("Clip", ElementwiseOps::clip);
  }

  /** Max and Min over any number of inputs, broadcasting. */
  private static OpCompiler variadic(BinaryOperator<Tensor> f) {
    return (node, cc) ->
        (in, training) -> {
          Tensor acc = Values.share(in[0]);
          for (int i = 1; i < in.length; i++) {
            try (Tensor prev = acc) {
              acc = f.apply(prev, sameType(in[0], in[i]));
            }
          }
          return one(acc);
        };
  }

  /** Bounds from attributes before opset 11, from optional one-element inputs from then on. */
  private static Kernel clip(OnnxNode node, CompileContext cc) throws OnnxFormatException {
    boolean attrs = cc.opset() < 11;
    double aMin = attrs ? node.attributes().getFloat("min", Float.NEGATIVE_INFINITY) : 0;
    double aMax = attrs ? node.attributes().getFloat("max", Float.POSITIVE_INFINITY) : 0;
    return (in, training) -> {
      Tensor x = floating(in[0], "input");
      double lo = attrs ? aMin : bound(in, 1, Double.NEGATIVE_INFINITY);
      double hi = attrs ? aMax : bound(in, 2, Double.POSITIVE_INFINITY);
      return one(x.clamp(lo, hi));
    };
  }

  private static double bound(Tensor[] in, int i, double def) {
    if (in.length <= i || in[i] == null) {
      return def;
    }
    if (in[i].data().numel() != 1) {
      throw new IllegalArgumentException(
          (i == 1 ? "min" : "max") + " must hold one value, got shape " + Values.shape(in[i]));
    }
    return in[i].item();
  }

  private static OpCompiler unary(UnaryOperator<Tensor> f) {
    return (node, cc) -> (in, training) -> one(f.apply(floating(in[0], "X")));
  }

  private static OpCompiler binary(BinaryOperator<Tensor> f) {
    return (node, cc) -> (in, training) -> one(f.apply(in[0], sameType(in[0], in[1])));
  }

  private static OpCompiler compare(BinaryOperator<NDArray> f) {
    return (node, cc) ->
        (in, training) -> one(Tensor.of(f.apply(in[0].data(), sameType(in[0], in[1]).data())));
  }

  /** ONNX requires both operands of arithmetic to have one type; Ember would promote. */
  private static Tensor sameType(Tensor a, Tensor b) {
    if (a == null || b == null) {
      throw new IllegalArgumentException("inputs A and B are required");
    }
    if (a.dtype() != b.dtype()) {
      throw new IllegalArgumentException(
          "inputs A and B must have one type, got " + a.dtype() + " and " + b.dtype());
    }
    return b;
  }

  private static NDArray bool(Tensor t) {
    if (t == null || t.dtype() != DType.BOOL) {
      throw new IllegalArgumentException(
          "input must be a bool tensor, got " + (t == null ? "none" : t.dtype()));
    }
    return t.data();
  }

  /** Floats divide; integers divide truncating towards zero (as ONNX Runtime). */
  private static Tensor div(Tensor a, Tensor b) {
    sameType(a, b);
    if (a.dtype().isFloatingPoint()) {
      return a.div(b);
    }
    if (!Values.isInteger(a.dtype())) {
      throw new IllegalArgumentException("Div needs numbers, got " + a.dtype());
    }
    try (NDArray fa = a.data().cast(DType.FLOAT64);
        NDArray fb = b.data().cast(DType.FLOAT64);
        NDArray q = fa.div(fb)) {
      return Tensor.of(q.cast(a.dtype())); // the cast truncates towards zero
    }
  }

  /**
   * A constant one-element exponent (x^2, x^0.5) takes the scalar path, whose gradient is exact.
   */
  private static Kernel pow(OnnxNode node, CompileContext cc) {
    NDArray e = node.hasInput(1) ? cc.constant(node.inputs().get(1)) : null;
    if (e != null && e.numel() == 1 && e.ndim() <= 1) {
      double exponent = e.item();
      return (in, training) -> {
        Tensor x = floating(in[0], "X");
        Tensor y = x.pow(exponent);
        if (in[1].ndim() == 1 && x.ndim() == 0) {
          try (y) {
            return one(y.reshape(1));
          }
        }
        return one(y);
      };
    }
    return (in, training) -> {
      Tensor x = floating(in[0], "X");
      if (in[1] == null) {
        throw new IllegalArgumentException("input Y is required");
      }
      if (in[1].dtype() == x.dtype()) {
        return one(x.pow(in[1]));
      }
      try (Tensor y = Tensor.of(in[1].data().cast(x.dtype()))) {
        return one(x.pow(y));
      }
    };
  }

  private static Kernel gelu(OnnxNode node, CompileContext cc) throws OnnxFormatException {
    String approximate = node.attributes().getString("approximate", "none");
    if (approximate.equals("none")) {
      return (in, training) -> one(floating(in[0], "X").gelu());
    }
    if (!approximate.equals("tanh")) {
      throw new OnnxFormatException(
          node.describe()
              + ": attribute 'approximate' must be \"none\" or \"tanh\", got \""
              + approximate
              + "\"");
    }
    // 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
    double c = Math.sqrt(2 / Math.PI);
    return (in, training) -> {
      Tensor x = floating(in[0], "X");
      try (Tensor x3 = x.pow(3.0);
          Tensor k = x3.mul(0.044715);
          Tensor s = x.add(k);
          Tensor u = s.mul(c);
          Tensor t = u.tanh();
          Tensor t1 = t.add(1.0);
          Tensor h = x.mul(0.5)) {
        return one(h.mul(t1));
      }
    };
  }

  /**
   * Opset 13 normalizes along {@code axis} (default -1); earlier opsets flatten the input to 2-D at
   * {@code axis} (default 1) and normalize each row.
   */
  private static Kernel softmax(OnnxNode node, CompileContext cc, boolean log)
      throws OnnxFormatException {
    boolean coerce2d = cc.opset() < 13;
    long axis = node.attributes().getInt("axis", coerce2d ? 1 : -1);
    return (in, training) -> {
      Tensor x = floating(in[0], "input");
      int rank = x.ndim();
      int a = Values.axis(axis, Math.max(rank, 1), "axis");
      if (!coerce2d || rank <= 1) {
        return one(log ? x.logSoftmax(a) : x.softmax(a));
      }
      int[] shape = x.shape();
      try (Tensor flat = x.reshape(Values.prod(shape, 0, a), Values.prod(shape, a, rank));
          Tensor s = log ? flat.logSoftmax(1) : flat.softmax(1)) {
        return one(s.reshape(shape));
      }
    };
  }

  private static Tensor where(Tensor cond, Tensor a, Tensor b) {
    NDArray c = bool(cond);
    sameType(a, b);
    return Tensor.where(c, a, b);
  }

  private static Kernel cast(OnnxNode node, CompileContext cc) throws OnnxFormatException {
    int to = (int) node.attributes().getInt("to");
    DType target = OnnxTypes.castTarget(to);
    if (target == null) {
      throw new OnnxFormatException(
          node.describe()
              + ": Cast to "
              + OnnxTypes.name(to)
              + " is not supported (Ember casts to FLOAT, DOUBLE, INT32, INT64 and BOOL)");
    }
    return (in, training) -> {
      Tensor x = in[0];
      if (x.dtype() == target) {
        return one(Values.share(x));
      }
      if (target.isFloatingPoint() && x.dtype().isFloatingPoint()) {
        return one(x.cast(target));
      }
      // to or from integers the gradient is zero: the result is a constant
      return one(Tensor.of(x.data().cast(target)));
    };
  }

  /**
   * Dropout is the identity in eval mode, as ONNX's inference; in training mode it drops with the
   * node's ratio, through an Ember {@link Dropout} child that Spark seeds per task.
   */
  private static Kernel dropout(OnnxNode node, CompileContext cc) throws OnnxFormatException {
    double ratio;
    if (cc.opset() < 12) {
      ratio = node.attributes().getFloat("ratio", 0.5f);
    } else if (node.hasInput(1)) {
      NDArray r = cc.constant(node.inputs().get(1));
      if (r == null || r.numel() != 1) {
        throw new OnnxFormatException(
            node.describe()
                + ": the ratio input '"
                + node.inputs().get(1)
                + "' must be a one-element constant (an initializer or a Constant node)");
      }
      ratio = r.item();
    } else {
      ratio = 0.5;
    }
    if (!(ratio >= 0 && ratio < 1)) {
      throw new OnnxFormatException(node.describe() + ": ratio must be in [0, 1), got " + ratio);
    }
    Dropout layer = cc.dropout(node, ratio);
    boolean wantMask = node.hasOutput(1) && cc.isUsed(node.outputs().get(1));
    return (in, training) -> {
      Tensor x = floating(in[0], "data");
      if (!wantMask) {
        return new Tensor[] {layer.forward(x), null};
      }
      if (layer.isTraining() && ratio > 0) {
        throw new IllegalArgumentException(
            "the mask output of Dropout is not available in training mode");
      }
      return new Tensor[] {
        layer.forward(x), Tensor.of(NDArray.full(DType.BOOL, x.device(), 1, x.shape()))
      };
    };
  }
}
