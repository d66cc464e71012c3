package org.emberdl.onnx.export;

import static org.emberdl.onnx.export.ExportContext.attrFloat;
import static org.emberdl.onnx.export.ExportContext.attrInt;
import static org.emberdl.onnx.export.ExportContext.attrInts;
import static org.emberdl.onnx.export.ExportContext.attrString;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.emberdl.nn.AvgPool2d;
import org.emberdl.nn.BatchNorm;
import org.emberdl.nn.BatchNorm2d;
import org.emberdl.nn.ClsPool;
import org.emberdl.nn.ClsToken;
import org.emberdl.nn.Conv2d;
import org.emberdl.nn.Dropout;
import org.emberdl.nn.Embedding;
import org.emberdl.nn.Flatten;
import org.emberdl.nn.GELU;
import org.emberdl.nn.Identity;
import org.emberdl.nn.LastStep;
import org.emberdl.nn.LayerNorm;
import org.emberdl.nn.LeakyReLU;
import org.emberdl.nn.Linear;
import org.emberdl.nn.LogSoftmax;
import org.emberdl.nn.MaxPool2d;
import org.emberdl.nn.MeanPool;
import org.emberdl.nn.Module;
import org.emberdl.nn.PaddedSequenceNetwork;
import org.emberdl.nn.Parameter;
import org.emberdl.nn.ReLU;
import org.emberdl.nn.Sequential;
import org.emberdl.nn.Sigmoid;
import org.emberdl.nn.Softmax;
import org.emberdl.nn.Tanh;
import org.emberdl.onnx.proto.TensorProto;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.NDArray;

/**
 * The exporters of Ember's own layers, one method per layer, each writing what the layer's
 * eval-mode {@code forward} computes; the mapping is tabled in {@link LayerExporters}.
 */
final class BuiltinExporters {
  private BuiltinExporters() {}

  private static final int FLOAT = TensorProto.DataType.FLOAT_VALUE;

  // ---------------------------------------------------------------------------------------------
  // Containers

  static OnnxValue sequential(Sequential seq, OnnxValue input, ExportContext ctx) {
    OnnxValue x = input;
    for (Map.Entry<String, Module> child : seq.children().entrySet()) {
      x = ctx.exportChild(child.getKey(), child.getValue(), x);
    }
    return x;
  }

  /**
   * A {@link PaddedSequenceNetwork}: its children in order, with the lengths of the id sequences
   * computed in the graph and handed to the layers that take them, until time collapses ({@link
   * LastStep}, {@link MeanPool}, {@link ClsPool}); a {@link ClsToken} adds one step.
   */
  static OnnxValue paddedSequences(PaddedSequenceNetwork net, OnnxValue ids, ExportContext ctx) {
    if (ids.elemType() != TensorProto.DataType.INT64_VALUE || ids.rank() != 2) {
      throw ctx.error(
          "PaddedSequenceNetwork expects (batch, time) int64 token ids, got " + ids.shapeString());
    }
    SequencePadding outer = ctx.padding();
    ctx.setPadding(SequencePadding.of(ids.name(), net.paddingId(), ctx));
    try {
      OnnxValue x = ids;
      for (Map.Entry<String, Module> child : net.children().entrySet()) {
        Module m = child.getValue();
        x = ctx.exportChild(child.getKey(), m, x);
        if (ctx.padding() != null && m instanceof ClsToken) {
          ctx.setPadding(ctx.padding().withLeadingToken(ctx));
        } else if (m instanceof LastStep || m instanceof MeanPool || m instanceof ClsPool) {
          ctx.setPadding(null);
        }
      }
      return x;
    } finally {
      ctx.setPadding(outer);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Layers with parameters

  static OnnxValue linear(Linear m, OnnxValue in, ExportContext ctx) {
    requireFloat(in, ctx);
    if (in.rank() < 2 || in.dim(-1) != m.inFeatures()) {
      throw ctx.error(
          "Linear expects input (batch, *, " + m.inFeatures() + "), got " + in.shapeString());
    }
    String w = floatParameter(ctx, "weight", m.weight());
    String b = m.bias() == null ? null : floatParameter(ctx, "bias", m.bias());
    long[] shape = in.shape();
    shape[shape.length - 1] = m.outFeatures();
    if (in.rank() == 2) {
      List<String> inputs = new ArrayList<>(List.of(in.name(), w));
      if (b != null) {
        inputs.add(b);
      }
      String y =
          ctx.node(
              "Gemm", inputs, attrFloat("alpha", 1f), attrFloat("beta", 1f), attrInt("transB", 1));
      return new OnnxValue(y, FLOAT, shape);
    }
    // (batch, *, in): Gemm is 2-D only; the initializer keeps the state dict's (out, in) layout
    String wt = ctx.node("Transpose", List.of(w), attrInts("perm", 1, 0));
    String y = ctx.node("MatMul", in.name(), wt);
    if (b != null) {
      y = ctx.node("Add", y, b);
    }
    return new OnnxValue(y, FLOAT, shape);
  }

  static OnnxValue conv2d(Conv2d m, OnnxValue in, ExportContext ctx) {
    requireFloat(in, ctx);
    if (in.rank() != 4 || in.dim(1) != m.inChannels()) {
      throw ctx.error(
          "Conv2d expects input (batch, " + m.inChannels() + ", H, W), got " + in.shapeString());
    }
    int[] k = m.kernelSize();
    int[] s = m.stride();
    int[] p = m.padding();
    int[] d = m.dilation();
    long[] out = {
      in.dim(0),
      m.outChannels(),
      spatial(in.dim(2), k[0], s[0], p[0], d[0], in, ctx),
      spatial(in.dim(3), k[1], s[1], p[1], d[1], in, ctx)
    };
    List<String> inputs =
        new ArrayList<>(List.of(in.name(), floatParameter(ctx, "weight", m.weight())));
    if (m.bias() != null) {
      inputs.add(floatParameter(ctx, "bias", m.bias()));
    }
    String y =
        ctx.node(
            "Conv",
            inputs,
            attrInts("kernel_shape", k[0], k[1]),
            attrInts("strides", s[0], s[1]),
            attrInts("pads", p[0], p[1], p[0], p[1]),
            attrInts("dilations", d[0], d[1]),
            attrInt("group", m.groups()));
    return new OnnxValue(y, FLOAT, out);
  }

  static OnnxValue batchNorm(BatchNorm m, OnnxValue in, ExportContext ctx) {
    requireFloat(in, ctx);
    boolean twoD = m instanceof BatchNorm2d;
    boolean rankOk = twoD ? in.rank() == 4 : in.rank() == 2 || in.rank() == 3;
    if (!rankOk || in.dim(1) != m.numFeatures()) {
      throw ctx.error(
          m.getClass().getSimpleName()
              + "("
              + m.numFeatures()
              + ") expects input "
              + (twoD ? "(batch, C, H, W)" : "(batch, C) or (batch, C, L)")
              + " with C = "
              + m.numFeatures()
              + ", got "
              + in.shapeString());
    }
    int c = m.numFeatures();
    String scale =
        m.weight() != null
            ? floatParameter(ctx, "weight", m.weight())
            : ctx.constant("scale", OnnxTensors.floats(filled(c, 1f), c));
    String shift =
        m.bias() != null
            ? floatParameter(ctx, "bias", m.bias())
            : ctx.constant("shift", OnnxTensors.floats(new float[c], c));
    if (m.tracksRunningStats()) {
      String mean = floatArray(ctx, "running_mean", m.runningMean());
      String var = floatArray(ctx, "running_var", m.runningVar());
      String y =
          ctx.node(
              "BatchNormalization",
              List.of(in.name(), scale, shift, mean, var),
              attrFloat("epsilon", (float) m.eps()));
      return new OnnxValue(y, FLOAT, in.shape());
    }
    // No running statistics: Ember normalizes with the batch's statistics in eval mode too.
    long[] axes = new long[in.rank() - 1];
    for (int d = 0, j = 0; d < in.rank(); d++) {
      if (d != 1) {
        axes[j++] = d;
      }
    }
    long[] channelShape = new long[in.rank()];
    Arrays.fill(channelShape, 1);
    channelShape[1] = c;
    String mean = reduceMean(ctx, in.name(), axes);
    String centered = ctx.node("Sub", in.name(), mean);
    String sq = ctx.node("Mul", centered, centered);
    String var = reduceMean(ctx, sq, axes); // biased, as Ember normalizes with
    String std = ctx.node("Sqrt", ctx.node("Add", var, ctx.scalar("eps", (float) m.eps())));
    String normalized = ctx.node("Div", centered, std);
    String shapeC = ctx.longs("channel_shape", channelShape);
    String scaled = ctx.node("Mul", normalized, ctx.node("Reshape", scale, shapeC));
    String y = ctx.node("Add", scaled, ctx.node("Reshape", shift, shapeC));
    return new OnnxValue(y, FLOAT, in.shape());
  }

  static OnnxValue layerNorm(LayerNorm m, OnnxValue in, ExportContext ctx) {
    requireFloat(in, ctx);
    int[] norm = m.normalizedShape();
    int k = norm.length;
    boolean ok = in.rank() > k;
    for (int i = 0; ok && i < k; i++) {
      ok = in.dim(in.rank() - k + i) == norm[i];
    }
    if (!ok) {
      throw ctx.error(
          "LayerNorm over "
              + Arrays.toString(norm)
              + " expects input (batch, *, "
              + Arrays.toString(norm).replaceAll("[\\[\\]]", "")
              + "), got "
              + in.shapeString());
    }
    List<String> inputs = new ArrayList<>();
    inputs.add(in.name());
    if (m.weight() != null) {
      inputs.add(floatParameter(ctx, "weight", m.weight()));
    } else {
      long[] dims = Arrays.stream(norm).asLongStream().toArray();
      int n = Arrays.stream(norm).reduce(1, Math::multiplyExact);
      inputs.add(ctx.constant("scale", OnnxTensors.floats(filled(n, 1f), dims)));
    }
    if (m.bias() != null) {
      inputs.add(floatParameter(ctx, "bias", m.bias()));
    }
    String y =
        ctx.node(
            "LayerNormalization",
            inputs,
            attrInt("axis", -k),
            attrFloat("epsilon", (float) m.eps()));
    return new OnnxValue(y, FLOAT, in.shape());
  }

  static OnnxValue embedding(Embedding m, OnnxValue in, ExportContext ctx) {
    if (in.elemType() != TensorProto.DataType.INT64_VALUE
        && in.elemType() != TensorProto.DataType.INT32_VALUE) {
      throw ctx.error(
          "Embedding expects int64 or int32 indices, got "
              + typeName(in.elemType())
              + " input "
              + in.shapeString());
    }
    String w = floatParameter(ctx, "weight", m.weight());
    String y = ctx.node("Gather", List.of(w, in.name()), attrInt("axis", 0));
    long[] shape = Arrays.copyOf(in.shape(), in.rank() + 1);
    shape[in.rank()] = m.embeddingDim();
    return new OnnxValue(y, FLOAT, shape);
  }

  // ---------------------------------------------------------------------------------------------
  // Pooling

  static OnnxValue maxPool2d(MaxPool2d m, OnnxValue in, ExportContext ctx) {
    return pool("MaxPool", m.kernelSize(), m.stride(), m.padding(), in, ctx);
  }

  static OnnxValue avgPool2d(AvgPool2d m, OnnxValue in, ExportContext ctx) {
    // Ember divides every window by kh * kw, padding included: count_include_pad=1
    return pool(
        "AveragePool",
        m.kernelSize(),
        m.stride(),
        m.padding(),
        in,
        ctx,
        attrInt("count_include_pad", 1));
  }

  private static OnnxValue pool(
      String op,
      int[] k,
      int[] s,
      int[] p,
      OnnxValue in,
      ExportContext ctx,
      org.emberdl.onnx.proto.AttributeProto... extra) {
    requireFloat(in, ctx);
    if (in.rank() != 4) {
      throw ctx.error("expects input (batch, C, H, W), got " + in.shapeString());
    }
    long[] out = {
      in.dim(0),
      in.dim(1),
      spatial(in.dim(2), k[0], s[0], p[0], 1, in, ctx),
      spatial(in.dim(3), k[1], s[1], p[1], 1, in, ctx)
    };
    List<org.emberdl.onnx.proto.AttributeProto> attrs =
        new ArrayList<>(
            List.of(
                attrInts("kernel_shape", k[0], k[1]),
                attrInts("strides", s[0], s[1]),
                attrInts("pads", p[0], p[1], p[0], p[1])));
    attrs.addAll(List.of(extra));
    String y =
        ctx.node(
            op, List.of(in.name()), attrs.toArray(org.emberdl.onnx.proto.AttributeProto[]::new));
    return new OnnxValue(y, FLOAT, out);
  }

  // ---------------------------------------------------------------------------------------------
  // Activations

  static OnnxValue relu(ReLU m, OnnxValue in, ExportContext ctx) {
    return unary("Relu", in, ctx);
  }

  static OnnxValue sigmoid(Sigmoid m, OnnxValue in, ExportContext ctx) {
    return unary("Sigmoid", in, ctx);
  }

  static OnnxValue tanh(Tanh m, OnnxValue in, ExportContext ctx) {
    return unary("Tanh", in, ctx);
  }

  static OnnxValue leakyRelu(LeakyReLU m, OnnxValue in, ExportContext ctx) {
    requireFloat(in, ctx);
    String y =
        ctx.node("LeakyRelu", List.of(in.name()), attrFloat("alpha", (float) m.negativeSlope()));
    return in.named(y);
  }

  static OnnxValue gelu(GELU m, OnnxValue in, ExportContext ctx) {
    return gelu(m.approximate(), in, ctx);
  }

  /** GELU, exact ({@code "none"}) or in its tanh form ({@code "tanh"}). */
  static OnnxValue gelu(String approximate, OnnxValue in, ExportContext ctx) {
    requireFloat(in, ctx);
    boolean tanh = approximate.equals("tanh");
    String x = in.name();
    if (ctx.opset() >= 20) {
      return in.named(ctx.node("Gelu", List.of(x), attrString("approximate", approximate)));
    }
    if (!tanh) {
      // x * 0.5 * (1 + erf(x / sqrt(2))), Ember's exact GELU
      String erf = ctx.node("Erf", ctx.node("Div", x, ctx.scalar("sqrt2", (float) Math.sqrt(2))));
      String onePlus = ctx.node("Add", erf, ctx.scalar("one", 1f));
      return in.named(ctx.node("Mul", ctx.node("Mul", x, onePlus), ctx.scalar("half", 0.5f)));
    }
    // 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))), in the order Ember evaluates it
    String cube = ctx.node("Mul", ctx.node("Mul", x, x), x);
    String inner = ctx.node("Mul", cube, ctx.scalar("coef", 0.044715f));
    String sum = ctx.node("Add", inner, x);
    String scaled =
        ctx.node("Mul", sum, ctx.scalar("sqrt_2_over_pi", (float) Math.sqrt(2 / Math.PI)));
    String onePlus = ctx.node("Add", ctx.node("Tanh", scaled), ctx.scalar("one", 1f));
    String half = ctx.node("Mul", x, ctx.scalar("half", 0.5f));
    return in.named(ctx.node("Mul", half, onePlus));
  }

  static OnnxValue softmax(Softmax m, OnnxValue in, ExportContext ctx) {
    return alongDim("Softmax", m.dim(), in, ctx);
  }

  static OnnxValue logSoftmax(LogSoftmax m, OnnxValue in, ExportContext ctx) {
    return alongDim("LogSoftmax", m.dim(), in, ctx);
  }

  private static OnnxValue alongDim(String op, int dim, OnnxValue in, ExportContext ctx) {
    requireFloat(in, ctx);
    if (dim < -in.rank() || dim >= in.rank()) {
      throw ctx.error("dim " + dim + " is out of range for input " + in.shapeString());
    }
    return in.named(ctx.node(op, List.of(in.name()), attrInt("axis", dim)));
  }

  private static OnnxValue unary(String op, OnnxValue in, ExportContext ctx) {
    requireFloat(in, ctx);
    return in.named(ctx.node(op, in.name()));
  }

  // ---------------------------------------------------------------------------------------------
  // Shape and pass-through

  static OnnxValue flatten(Flatten m, OnnxValue in, ExportContext ctx) {
    int r = in.rank();
    int start = m.startDim() < 0 ? m.startDim() + r : m.startDim();
    int end = m.endDim() < 0 ? m.endDim() + r : m.endDim();
    if (start < 0 || start >= r || end < 0 || end >= r || start > end) {
      throw ctx.error(
          "Flatten(start_dim="
              + m.startDim()
              + ", end_dim="
              + m.endDim()
              + ") does not fit input "
              + in.shapeString());
    }
    if (start == end) {
      return in;
    }
    long merged = 1;
    for (int d = start; d <= end; d++) {
      merged = in.dim(d) < 0 || merged < 0 ? OnnxValue.UNKNOWN : merged * in.dim(d);
    }
    long[] out = new long[r - (end - start)];
    for (int d = 0, j = 0; d < r; d++) {
      if (d < start || d > end) {
        out[j++] = in.dim(d);
      } else if (d == start) {
        out[j++] = merged;
      }
    }
    if (start == 1 && end == r - 1) {
      return new OnnxValue(
          ctx.node("Flatten", List.of(in.name()), attrInt("axis", 1)), in.elemType(), out);
    }
    // Reshape's 0 copies the input's dim (the batch dim), -1 is the one size it infers
    long[] target = new long[out.length];
    for (int j = 0; j < out.length; j++) {
      target[j] = out[j] == OnnxValue.DYNAMIC ? 0 : out[j] < 0 ? -1 : out[j];
    }
    String y = ctx.node("Reshape", in.name(), ctx.longs("shape", target));
    return new OnnxValue(y, in.elemType(), out);
  }

  static OnnxValue dropout(Dropout m, OnnxValue in, ExportContext ctx) {
    return in; // inference: the identity, as torch.onnx.export writes it
  }

  static OnnxValue identity(Identity m, OnnxValue in, ExportContext ctx) {
    return in;
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  /** {@code (size + 2 pad - dilation (kernel - 1) - 1) / stride + 1}, which must be positive. */
  private static long spatial(
      long size, int kernel, int stride, int pad, int dilation, OnnxValue in, ExportContext ctx) {
    if (size < 0) {
      throw ctx.error("needs static spatial dims, got input " + in.shapeString());
    }
    long out = Math.floorDiv(size + 2L * pad - (long) dilation * (kernel - 1) - 1, stride) + 1;
    if (out <= 0) {
      throw ctx.error(
          "kernel "
              + kernel
              + " does not fit input "
              + in.shapeString()
              + " (output size "
              + out
              + ")");
    }
    return out;
  }

  private static String reduceMean(ExportContext ctx, String x, long[] axes) {
    if (ctx.opset() >= 18) { // axes became an input in opset 18
      return ctx.node("ReduceMean", List.of(x, ctx.longs("axes", axes)), attrInt("keepdims", 1));
    }
    return ctx.node("ReduceMean", List.of(x), attrInts("axes", axes), attrInt("keepdims", 1));
  }

  static String floatParameter(ExportContext ctx, String local, Parameter p) {
    return floatArray(ctx, local, p.data());
  }

  static String floatArray(ExportContext ctx, String local, NDArray data) {
    if (data.dtype() != DType.FLOAT32) {
      throw ctx.error(
          "'"
              + ctx.key(local)
              + "' is "
              + data.dtype()
              + "; ONNX export writes float32 models (convert the module's parameters first)");
    }
    return ctx.parameter(local, data);
  }

  static void requireFloat(OnnxValue in, ExportContext ctx) {
    if (in.elemType() != FLOAT) {
      throw ctx.error(
          "expects float32 input, got " + typeName(in.elemType()) + " " + in.shapeString());
    }
  }

  static String typeName(int elemType) {
    TensorProto.DataType t = TensorProto.DataType.forNumber(elemType);
    return t == null ? "type " + elemType : t.name().toLowerCase(java.util.Locale.ROOT);
  }

  private static float[] filled(int n, float v) {
    float[] a = new float[n];
    Arrays.fill(a, v);
    return a;
  }
}
