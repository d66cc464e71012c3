package org.emberdl.onnx;

import static org.emberdl.onnx.Values.floating;
import static org.emberdl.onnx.Values.one;

import java.util.Arrays;
import java.util.Map;
import org.emberdl.autograd.Tensor;
import org.emberdl.nn.BatchNorm;
import org.emberdl.nn.LayerNorm;
import org.emberdl.tensor.NDArray;

/**
 * ONNX's layer ops on Ember's: Gemm, MatMul, Conv (1-D and 2-D), BatchNormalization,
 * LayerNormalization, MaxPool, AveragePool, the global pools, the reductions and Pad.
 */
final class NnOps {
  private NnOps() {}

  /** A Pad may grow its input this many times over (plus {@link #PAD_SLACK} elements), no more. */
  static final long PAD_GROWTH = 16;

  static final long PAD_SLACK = 1 << 20;

  static void register(Map<String, OpCompiler> ops) {
    ops.put("Gemm", NnOps::gemm);
    ops.put(
        "MatMul",
        (node, cc) -> (in, training) -> one(floating(in[0], "A").matmul(floating(in[1], "B"))));
    ops.put("Conv", NnOps::conv);
    ops.put("BatchNormalization", NnOps::batchNorm);
    ops.put("LayerNormalization", NnOps::layerNorm);
    ops.put("MaxPool", (node, cc) -> pool(node, true));
    ops.put("AveragePool", (node, cc) -> pool(node, false));
    ops.put("GlobalAveragePool", (node, cc) -> (in, training) -> one(global(in[0], false)));
    ops.put("GlobalMaxPool", (node, cc) -> (in, training) -> one(global(in[0], true)));
    ops.put("ReduceMean", (node, cc) -> reduce(node, cc, "mean", 18));
    ops.put("ReduceSum", (node, cc) -> reduce(node, cc, "sum", 13));
    ops.put("ReduceMax", (node, cc) -> reduce(node, cc, "max", 18));
    ops.put("ReduceMin", (node, cc) -> reduce(node, cc, "min", 18));
    ops.put("Pad", NnOps::pad);
  }

  private static Kernel gemm(OnnxNode node, CompileContext cc) throws OnnxFormatException {
    Attributes a = node.attributes();
    boolean transA = a.getInt("transA", 0) != 0;
    boolean transB = a.getInt("transB", 0) != 0;
    double alpha = a.getFloat("alpha", 1f);
    double beta = a.getFloat("beta", 1f);
    return (in, training) -> {
      Tensor x = floating(in[0], "A");
      Tensor w = floating(in[1], "B");
      if (x.ndim() != 2 || w.ndim() != 2) {
        throw new IllegalArgumentException(
            "A and B must be matrices, got " + Values.shape(x) + " and " + Values.shape(w));
      }
      Tensor y;
      try (Tensor xa = transA ? x.t() : Values.share(x);
          Tensor wb = transB ? w.t() : Values.share(w)) {
        if (xa.shape(1) != wb.shape(0)) {
          throw new IllegalArgumentException(
              "A"
                  + (transA ? "^T " : " ")
                  + Values.shape(xa)
                  + " and B"
                  + (transB ? "^T " : " ")
                  + Values.shape(wb)
                  + " do not multiply");
        }
        y = xa.matmul(wb);
      }
      if (alpha != 1) {
        try (Tensor prev = y) {
          y = prev.mul(alpha);
        }
      }
      if (in.length > 2 && in[2] != null && beta != 0) {
        Tensor c = floating(in[2], "C");
        try (Tensor prev = y;
            Tensor bc = beta != 1 ? c.mul(beta) : Values.share(c)) {
          y = prev.add(bc);
        }
      }
      return one(y);
    };
  }

  private static Kernel conv(OnnxNode node, CompileContext cc) throws OnnxFormatException {
    Window win = Window.parse(node, false);
    long group = node.attributes().getInt("group", 1);
    if (group < 1 || group > Integer.MAX_VALUE) {
      throw new OnnxFormatException(node.describe() + ": group must be positive, got " + group);
    }
    if (win.kernel != null && win.kernel.length != 1 && win.kernel.length != 2) {
      throw new OnnxFormatException(
          node.describe()
              + ": only 1-D and 2-D convolutions are supported, kernel_shape is "
              + Arrays.toString(win.kernel));
    }
    return (in, training) -> {
      Tensor x = floating(in[0], "X");
      Tensor w = floating(in[1], "W");
      Tensor b = in.length > 2 && in[2] != null ? floating(in[2], "B") : null;
      int r = x.ndim();
      if ((r != 3 && r != 4) || w.ndim() != r) {
        throw new IllegalArgumentException(
            "Ember runs 1-D and 2-D convolutions: X (N, C, [H,] W) and W of the same rank, got X "
                + Values.shape(x)
                + " and W "
                + Values.shape(w));
      }
      int[] k = Arrays.copyOfRange(w.shape(), 2, r);
      if (win.kernel != null && !Arrays.equals(win.kernel, k)) {
        throw new IllegalArgumentException(
            "kernel_shape " + Arrays.toString(win.kernel) + " does not match W " + Values.shape(w));
      }
      if ((long) w.shape(1) * group != x.shape(1)) {
        throw new IllegalArgumentException(
            "X has "
                + x.shape(1)
                + " channels but W "
                + Values.shape(w)
                + " with group "
                + group
                + " expects "
                + (long) w.shape(1) * group);
      }
      boolean oneD = r == 3;
      int[] spatialIn = Arrays.copyOfRange(x.shape(), 2, r);
      int[][] pads = win.padding(spatialIn, k);
      int[] stride = win.strides(r - 2);
      int[] dil = win.dilations(r - 2);
      Tensor x4 = oneD ? x.unsqueeze(2) : Values.share(x);
      Tensor w4 = oneD ? w.unsqueeze(2) : Values.share(w);
      try (x4;
          w4) {
        int[] s2 = oneD ? new int[] {1, stride[0]} : stride;
        int[] d2 = oneD ? new int[] {1, dil[0]} : dil;
        int[] begin = oneD ? new int[] {0, pads[0][0]} : pads[0];
        int[] end = oneD ? new int[] {0, pads[1][0]} : pads[1];
        Tensor y;
        if (Arrays.equals(begin, end)) {
          y = Tensor.conv2d(x4, w4, b, s2, begin, d2, (int) group);
        } else {
          try (Tensor xp =
              Padding.pad(
                  x4, new int[] {0, 0, begin[0], begin[1]}, new int[] {0, 0, end[0], end[1]}, 0)) {
            y = Tensor.conv2d(xp, w4, b, s2, new int[] {0, 0}, d2, (int) group);
          }
        }
        if (!oneD) {
          return one(y);
        }
        try (y) {
          return one(y.squeeze(2));
        }
      }
    };
  }

  /**
   * Eval mode: the running statistics normalize, as ONNX's inference. Training mode: the batch's
   * statistics normalize and the running ones (initializers kept as buffers) move towards them with
   * the node's momentum, as PyTorch's BatchNorm in train().
   */
  private static Kernel batchNorm(OnnxNode node, CompileContext cc) throws OnnxFormatException {
    double eps = node.attributes().getFloat("epsilon", 1e-5f);
    double momentum = node.attributes().getFloat("momentum", 0.9f);
    if (node.attributes().getInt("training_mode", 0) != 0) {
      throw new OnnxFormatException(
          node.describe() + ": training_mode=1 is not supported (Ember's train() mode decides)");
    }
    for (int i = 1; i < node.outputs().size(); i++) {
      if (node.hasOutput(i) && cc.isUsed(node.outputs().get(i))) {
        throw new OnnxFormatException(
            node.describe() + ": the running mean and variance outputs are not supported");
      }
    }
    return (in, training) -> {
      Tensor x = floating(in[0], "X");
      if (in.length < 5) {
        throw new IllegalArgumentException(
            "inputs X, scale, B, input_mean, input_var are required");
      }
      Tensor scale = floating(in[1], "scale");
      Tensor bias = floating(in[2], "B");
      NDArray mean = floating(in[3], "input_mean").data();
      NDArray var = floating(in[4], "input_var").data();
      int c = x.ndim() >= 2 ? x.shape(1) : -1;
      for (Tensor t : new Tensor[] {scale, bias, in[3], in[4]}) {
        if (t.ndim() != 1 || t.shape(0) != c) {
          throw new IllegalArgumentException(
              "X "
                  + Values.shape(x)
                  + " needs scale, B, mean and var of shape ["
                  + c
                  + "], got "
                  + Values.shape(t));
        }
      }
      return one(BatchNorm.batchNorm(x, mean, var, scale, bias, training, 1 - momentum, eps));
    };
  }

  private static Kernel layerNorm(OnnxNode node, CompileContext cc) throws OnnxFormatException {
    long axis = node.attributes().getInt("axis", -1);
    double eps = node.attributes().getFloat("epsilon", 1e-5f);
    for (int i = 1; i < node.outputs().size(); i++) {
      if (node.hasOutput(i) && cc.isUsed(node.outputs().get(i))) {
        throw new OnnxFormatException(
            node.describe() + ": the Mean and InvStdDev outputs are not supported");
      }
    }
    return (in, training) -> {
      Tensor x = floating(in[0], "X");
      Tensor scale = floating(in[1], "Scale");
      Tensor bias = in.length > 2 && in[2] != null ? floating(in[2], "B") : null;
      int r = x.ndim();
      int a = Values.axis(axis, r, "axis");
      int[] normalized = Arrays.copyOfRange(x.shape(), a, r);
      if (Arrays.equals(scale.shape(), normalized)
          && (bias == null || Arrays.equals(bias.shape(), normalized))) {
        return one(LayerNorm.layerNorm(x, normalized, scale, bias, eps));
      }
      // Scale and B may broadcast against the normalized shape: apply them afterwards
      Tensor y = LayerNorm.layerNorm(x, normalized, null, null, eps);
      try (Tensor prev = y) {
        y = prev.mul(scale);
      }
      if (bias != null) {
        try (Tensor prev = y) {
          y = prev.add(bias);
        }
      }
      return one(y);
    };
  }

  private static Kernel pool(OnnxNode node, boolean max) throws OnnxFormatException {
    Window win = Window.parse(node, true);
    if (win.kernel.length != 1 && win.kernel.length != 2) {
      throw new OnnxFormatException(
          node.describe()
              + ": only 1-D and 2-D pooling is supported, kernel_shape is "
              + Arrays.toString(win.kernel));
    }
    for (int d : win.dilations(win.kernel.length)) {
      if (d != 1) {
        throw new OnnxFormatException(
            node.describe() + ": dilations other than 1 are not supported");
      }
    }
    if (max && node.hasOutput(1)) {
      throw new OnnxFormatException(node.describe() + ": the Indices output is not supported");
    }
    boolean countPad = node.attributes().getInt("count_include_pad", 0) != 0;
    return (in, training) -> {
      Tensor x = floating(in[0], "X");
      int r = x.ndim();
      int n = win.kernel.length;
      if (r != n + 2) {
        throw new IllegalArgumentException(
            "kernel_shape "
                + Arrays.toString(win.kernel)
                + " needs X of rank "
                + (n + 2)
                + ", got "
                + Values.shape(x));
      }
      boolean oneD = n == 1;
      int[] spatial = Arrays.copyOfRange(x.shape(), 2, r);
      int[][] pads = win.padding(spatial, win.kernel);
      int[] stride = win.strides(n);
      if (win.ceil) {
        for (int i = 0; i < n; i++) {
          int extra = ceilExtra(spatial[i], win.kernel[i], stride[i], pads[0][i], pads[1][i]);
          if (extra > 0 && !max) {
            throw new IllegalArgumentException(
                "ceil_mode=1 that adds a partial window is supported for MaxPool only");
          }
          pads[1][i] += extra;
        }
      }
      int[] k2 = oneD ? new int[] {1, win.kernel[0]} : win.kernel;
      int[] s2 = oneD ? new int[] {1, stride[0]} : stride;
      int[] begin = oneD ? new int[] {0, pads[0][0]} : pads[0];
      int[] end = oneD ? new int[] {0, pads[1][0]} : pads[1];
      try (Tensor x4 = oneD ? x.unsqueeze(2) : Values.share(x)) {
        Tensor y =
            max ? maxPool(x4, k2, s2, begin, end) : avgPool(x4, k2, s2, begin, end, countPad);
        if (!oneD) {
          return one(y);
        }
        try (y) {
          return one(y.squeeze(2));
        }
      }
    };
  }

  /** Extra end padding that makes floor-mode pooling give ceil mode's output size. */
  private static int ceilExtra(int in, int k, int s, int pb, int pe) {
    int span = in + pb + pe - k;
    if (span < 0) {
      return 0;
    }
    int outFloor = span / s + 1;
    int outCeil = (span + s - 1) / s + 1;
    if ((outCeil - 1) * s >= in + pb) {
      outCeil--; // the last window must start inside the input or the left padding (as PyTorch)
    }
    return outCeil > outFloor ? (outCeil - 1) * s + k - (in + pb + pe) : 0;
  }

  private static boolean fitsEmber(int[] k, int[] begin, int[] end) {
    return Arrays.equals(begin, end) && begin[0] <= k[0] / 2 && begin[1] <= k[1] / 2;
  }

  private static Tensor maxPool(Tensor x, int[] k, int[] s, int[] begin, int[] end) {
    if (fitsEmber(k, begin, end)) {
      return x.maxPool2d(k, s, begin);
    }
    try (Tensor xp =
        Padding.pad(
            x,
            new int[] {0, 0, begin[0], begin[1]},
            new int[] {0, 0, end[0], end[1]},
            Double.NEGATIVE_INFINITY)) {
      return xp.maxPool2d(k, s, new int[] {0, 0});
    }
  }

  /**
   * Ember's average pool counts padding in the divisor; without count_include_pad the sums are
   * divided by the number of input elements under each window instead (the average pool of a mask
   * of ones).
   */
  private static Tensor avgPool(
      Tensor x, int[] k, int[] s, int[] begin, int[] end, boolean countPad) {
    if (Padding.isZero(begin, end) || (countPad && fitsEmber(k, begin, end))) {
      return x.avgPool2d(k, s, begin);
    }
    int[] pb = {0, 0, begin[0], begin[1]};
    int[] pe = {0, 0, end[0], end[1]};
    Tensor y;
    try (Tensor xp = Padding.pad(x, pb, pe, 0)) {
      y = xp.avgPool2d(k, s, new int[] {0, 0});
    }
    if (countPad) {
      return y;
    }
    try (Tensor prev = y;
        Tensor ones =
            Tensor.of(NDArray.full(x.dtype(), x.device(), 1, 1, 1, x.shape(2), x.shape(3)));
        Tensor mask = Padding.pad(ones, pb, pe, 0);
        Tensor frac = mask.avgPool2d(k, s, new int[] {0, 0})) {
      return prev.div(frac);
    }
  }

  private static Tensor global(Tensor x, boolean max) {
    floating(x, "X");
    if (x.ndim() < 3) {
      throw new IllegalArgumentException("X must be (N, C, spatial...), got " + Values.shape(x));
    }
    int[] dims = new int[x.ndim() - 2];
    for (int i = 0; i < dims.length; i++) {
      dims[i] = i + 2;
    }
    return max ? x.amax(dims, true) : x.mean(dims, true);
  }

  /** Axes come from the attribute before {@code inputSince}, from the second input from then on. */
  private static Kernel reduce(OnnxNode node, CompileContext cc, String kind, int inputSince)
      throws OnnxFormatException {
    boolean keep = node.attributes().getInt("keepdims", 1) != 0;
    boolean noopEmpty = node.attributes().getInt("noop_with_empty_axes", 0) != 0;
    long[] attrAxes = cc.opset() < inputSince ? node.attributes().getInts("axes") : null;
    boolean fromInput = cc.opset() >= inputSince;
    return (in, training) -> {
      Tensor x = in[0];
      if (!kind.equals("max") && !kind.equals("min")) {
        floating(x, "data");
      }
      long[] axes =
          fromInput
              ? (in.length > 1 && in[1] != null ? Values.ints(in[1], "axes") : null)
              : attrAxes;
      int r = x.ndim();
      if (axes == null || axes.length == 0) {
        if (noopEmpty) {
          return one(Values.share(x));
        }
        axes = new long[r];
        for (int i = 0; i < r; i++) {
          axes[i] = i;
        }
      }
      int[] dims = new int[axes.length];
      boolean[] seen = new boolean[r];
      for (int i = 0; i < axes.length; i++) {
        dims[i] = Values.axis(axes[i], r, "axis");
        if (seen[dims[i]]) {
          throw new IllegalArgumentException("axes " + Arrays.toString(axes) + " repeat a dim");
        }
        seen[dims[i]] = true;
      }
      if (dims.length == 0) {
        return one(Values.share(x)); // a 0-d input: nothing to reduce
      }
      return one(
          switch (kind) {
            case "mean" -> x.mean(dims, keep);
            case "sum" -> x.sum(dims, keep);
            case "max" -> x.amax(dims, keep);
            default -> x.amin(dims, keep);
          });
    };
  }

  /** Constant mode only; pads (and the value, and opset 18's axes) as inputs from opset 11. */
  private static Kernel pad(OnnxNode node, CompileContext cc) throws OnnxFormatException {
    String mode = node.attributes().getString("mode", "constant");
    if (!mode.equals("constant")) {
      throw new OnnxFormatException(
          node.describe() + ": Pad mode \"" + mode + "\" is not supported (only \"constant\")");
    }
    boolean attrs = cc.opset() < 11;
    long[] attrPads = attrs ? node.attributes().getInts("pads") : null;
    double attrValue = attrs ? node.attributes().getFloat("value", 0f) : 0;
    if (attrs && attrPads == null) {
      throw new OnnxFormatException(node.describe() + ": missing required attribute 'pads'");
    }
    return (in, training) -> {
      Tensor x = in[0];
      int r = x.ndim();
      long[] pads = attrs ? attrPads : Values.ints(in[1], "pads");
      double value = attrValue;
      if (!attrs && in.length > 2 && in[2] != null) {
        if (in[2].data().numel() != 1) {
          throw new IllegalArgumentException("constant_value must hold one value");
        }
        value = in[2].item();
      }
      int[] axes = new int[r];
      for (int i = 0; i < r; i++) {
        axes[i] = i;
      }
      if (!attrs && in.length > 3 && in[3] != null) {
        long[] ax = Values.ints(in[3], "axes");
        axes = new int[ax.length];
        for (int i = 0; i < ax.length; i++) {
          axes[i] = Values.axis(ax[i], r, "axis");
        }
      }
      if (pads.length != 2 * axes.length) {
        throw new IllegalArgumentException(
            "pads " + Arrays.toString(pads) + " must hold 2 x " + axes.length + " values");
      }
      int[] begin = new int[r];
      int[] end = new int[r];
      long outNumel = 1;
      for (int i = 0; i < axes.length; i++) {
        begin[axes[i]] = Values.toInts(new long[] {pads[i]}, "pads")[0];
        end[axes[i]] = Values.toInts(new long[] {pads[i + axes.length]}, "pads")[0];
      }
      long inNumel = 1;
      for (int d = 0; d < r; d++) {
        long size = (long) x.shape(d) + begin[d] + end[d];
        if (size < 0) {
          throw new IllegalArgumentException(
              "pads " + Arrays.toString(pads) + " crop dim " + d + " below zero");
        }
        outNumel = Math.multiplyHigh(outNumel, size) != 0 ? Long.MAX_VALUE : outNumel * size;
        inNumel *= x.shape(d);
      }
      if (outNumel > PAD_GROWTH * inNumel + PAD_SLACK) {
        throw new IllegalArgumentException(
            "pads "
                + Arrays.toString(pads)
                + " would grow "
                + Values.shape(x)
                + " to "
                + outNumel
                + " elements (Ember allows at most "
                + PAD_GROWTH
                + " times the input plus "
                + PAD_SLACK
                + ")");
      }
      return one(Padding.pad(x, begin, end, value));
    };
  }
}
