package org.emberdl.onnx.export;

import static org.emberdl.onnx.export.ExportContext.attrInt;
import static org.emberdl.onnx.export.ExportContext.attrInts;
import static org.emberdl.onnx.export.ExportContext.attrString;

import java.util.ArrayList;
import java.util.List;
import org.emberdl.nn.GRU;
import org.emberdl.nn.LSTM;
import org.emberdl.nn.LastStep;
import org.emberdl.nn.MeanPool;
import org.emberdl.nn.Parameter;
import org.emberdl.nn.RecurrentLayer;
import org.emberdl.onnx.proto.TensorProto;
import org.emberdl.tensor.DType;

/**
 * Exporters of the recurrent layers and their sequence heads. An {@link LSTM} or {@link GRU}
 * becomes one ONNX {@code LSTM}/{@code GRU} node per layer (both directions in one node),
 * time-major as ONNX defines them, with Transposes around for batch-first input. The initializers
 * stay the state-dict's own tensors ({@code weight_ih_l0}, ...; PyTorch's gate order); Slice and
 * Concat nodes rearrange them into ONNX's W, R and B (gates i, o, f, c for the LSTM, z, r, h for
 * the GRU, whose {@code linear_before_reset=1} is PyTorch's {@code n = tanh(W_in x + b_in + r *
 * (W_hn h + b_hn))}), which runtimes fold once at load. Inside a {@code PaddedSequenceNetwork} the
 * nodes get each sequence's length ({@code sequence_lens}), and {@code LastStep}/{@code MeanPool}
 * read each sequence's own steps.
 */
final class RecurrentExporters {
  private static final int FLOAT = TensorProto.DataType.FLOAT_VALUE;

  /** ONNX's gate blocks as indices of PyTorch's: LSTM (i, f, g, o) -> (i, o, f, c). */
  private static final int[] LSTM_GATES = {0, 3, 1, 2};

  /** GRU (r, z, n) -> (z, r, h). */
  private static final int[] GRU_GATES = {1, 0, 2};

  private RecurrentExporters() {}

  static OnnxValue lstm(LSTM m, OnnxValue in, ExportContext ctx) {
    return recurrent(m, in, ctx, "LSTM", LSTM_GATES);
  }

  static OnnxValue gru(GRU m, OnnxValue in, ExportContext ctx) {
    return recurrent(m, in, ctx, "GRU", GRU_GATES);
  }

  private static OnnxValue recurrent(
      RecurrentLayer m, OnnxValue in, ExportContext ctx, String op, int[] gates) {
    if (in.elemType() != FLOAT || in.rank() != 3 || in.dim(2) != m.inputSize()) {
      throw ctx.error(
          op
              + " expects a float input "
              + (m.batchFirst() ? "(batch, time, " : "(time, batch, ")
              + m.inputSize()
              + "), got "
              + in.shapeString());
    }
    if (m.dtype() != DType.FLOAT32) {
      throw ctx.error(
          op + " is " + m.dtype() + "; ONNX export writes float32 models (convert it first)");
    }
    int h = m.hiddenSize();
    int dirs = m.directions();
    String x =
        m.batchFirst()
            ? ctx.node("Transpose", List.of(in.name()), attrInts("perm", 1, 0, 2))
            : in.name();
    SequencePadding padding = ctx.padding();
    if (padding != null && !m.batchFirst()) {
      throw ctx.error(op + " takes sequence lengths only batch-first");
    }
    String lengths = padding == null ? null : padding.int32Lengths(ctx);
    String y = null;
    for (int layer = 0; layer < m.numLayers(); layer++) {
      List<String> w = new ArrayList<>();
      List<String> r = new ArrayList<>();
      List<String> b = new ArrayList<>();
      for (int d = 0; d < dirs; d++) {
        String suffix = "_l" + layer + (d == 1 ? "_reverse" : "");
        w.add(unsqueeze0(ctx, gateOrder(ctx, parameter(ctx, m, "weight_ih" + suffix), h, gates)));
        r.add(unsqueeze0(ctx, gateOrder(ctx, parameter(ctx, m, "weight_hh" + suffix), h, gates)));
        if (m.hasBias()) {
          String bi = gateOrder(ctx, parameter(ctx, m, "bias_ih" + suffix), h, gates);
          String bh = gateOrder(ctx, parameter(ctx, m, "bias_hh" + suffix), h, gates);
          b.add(unsqueeze0(ctx, ctx.node("Concat", List.of(bi, bh), attrInt("axis", 0))));
        }
      }
      List<String> inputs = new ArrayList<>(List.of(x, stack(ctx, w), stack(ctx, r)));
      if (m.hasBias()) {
        inputs.add(stack(ctx, b));
      }
      if (lengths != null) {
        // each sequence stops at its length (the reverse direction starts there), as Ember's
        // VariableLength forward; an omitted bias is an empty name
        if (!m.hasBias()) {
          inputs.add("");
        }
        inputs.add(lengths);
      }
      List<org.emberdl.onnx.proto.AttributeProto> attrs = new ArrayList<>();
      attrs.add(attrInt("hidden_size", h));
      attrs.add(attrString("direction", dirs == 2 ? "bidirectional" : "forward"));
      if (op.equals("GRU")) {
        attrs.add(attrInt("linear_before_reset", 1));
      }
      // Y: (time, directions, batch, hidden)
      y = ctx.node(op, inputs, attrs.toArray(new org.emberdl.onnx.proto.AttributeProto[0]));
      boolean last = layer == m.numLayers() - 1;
      String perm =
          ctx.node(
              "Transpose",
              List.of(y),
              last && m.batchFirst() ? attrInts("perm", 2, 0, 1, 3) : attrInts("perm", 0, 2, 1, 3));
      // (.., .., directions, hidden) -> (.., .., directions * hidden)
      y = ctx.node("Reshape", perm, ctx.longs("shape", 0, 0, -1));
      x = y;
    }
    long time = m.batchFirst() ? in.dim(1) : in.dim(0);
    long batch = m.batchFirst() ? in.dim(0) : in.dim(1);
    long[] out =
        m.batchFirst()
            ? new long[] {batch, time, (long) dirs * h}
            : new long[] {time, batch, (long) dirs * h};
    return new OnnxValue(y, FLOAT, out);
  }

  /**
   * {@code x[:, -1, :]}: Gather of index -1 on axis 1 (a 0-d index drops the axis); of padded
   * sequences, each one's own last step {@code x[i, length_i - 1, :]} by GatherElements.
   */
  static OnnxValue lastStep(LastStep m, OnnxValue in, ExportContext ctx) {
    requireSequence("LastStep", in, ctx);
    SequencePadding padding = ctx.padding();
    if (padding != null) {
      // (N) -> (N, 1, 1) -> (N, 1, F) indices along time
      String last =
          ctx.node(
              "Unsqueeze",
              ctx.node("Sub", padding.lengths(), ctx.longs("one", 1)),
              ctx.longs("index_axes", 1, 2));
      String batch = ctx.node("Shape", padding.lengths());
      String shape =
          ctx.node(
              "Concat", List.of(batch, ctx.longs("step_shape", 1, in.dim(2))), attrInt("axis", 0));
      String steps =
          ctx.node(
              "GatherElements",
              List.of(in.name(), ctx.node("Expand", last, shape)),
              attrInt("axis", 1));
      String y = ctx.node("Squeeze", steps, ctx.longs("time_axis", 1));
      return new OnnxValue(y, in.elemType(), new long[] {in.dim(0), in.dim(2)});
    }
    String index = ctx.constant("last", OnnxTensors.longs(new long[] {-1}));
    String y = ctx.node("Gather", List.of(in.name(), index), attrInt("axis", 1));
    return new OnnxValue(y, in.elemType(), new long[] {in.dim(0), in.dim(2)});
  }

  /**
   * The mean over time: ReduceMean on axis 1 (axes an input from opset 18, before an attribute).
   */
  static OnnxValue meanPool(MeanPool m, OnnxValue in, ExportContext ctx) {
    requireSequence("MeanPool", in, ctx);
    SequencePadding padding = ctx.padding();
    if (padding != null) {
      // the sum of each sequence's own steps over its length
      String sum = SequencePadding.reduceSum(ctx, padding.zeroPadding(in.name(), ctx), 1, "axes");
      String y = ctx.node("Div", sum, padding.floatLengths(ctx));
      return new OnnxValue(y, in.elemType(), new long[] {in.dim(0), in.dim(2)});
    }
    String y =
        ctx.opset() >= 18
            ? ctx.node(
                "ReduceMean", List.of(in.name(), ctx.longs("axes", 1)), attrInt("keepdims", 0))
            : ctx.node(
                "ReduceMean", List.of(in.name()), attrInts("axes", 1), attrInt("keepdims", 0));
    return new OnnxValue(y, in.elemType(), new long[] {in.dim(0), in.dim(2)});
  }

  /** A float (batch, time, features) input, or an error naming {@code what}. */
  static void requireSequence(String what, OnnxValue in, ExportContext ctx) {
    if (in.elemType() != FLOAT || in.rank() != 3) {
      throw ctx.error(
          what + " expects a float (batch, time, features) input, got " + in.shapeString());
    }
  }

  private static String parameter(ExportContext ctx, RecurrentLayer m, String local) {
    Parameter p = m.namedParameters().get(local);
    if (p == null) {
      throw ctx.error("has no parameter '" + local + "'");
    }
    return ctx.parameter(local, p.data());
  }

  /** PyTorch's gate blocks of {@code name} (rows of size {@code h}) in ONNX's order. */
  private static String gateOrder(ExportContext ctx, String name, int h, int[] gates) {
    List<String> blocks = new ArrayList<>();
    for (int g : gates) {
      blocks.add(
          ctx.node(
              "Slice",
              name,
              ctx.longs("start", (long) g * h),
              ctx.longs("end", (long) (g + 1) * h),
              ctx.longs("axis", 0)));
    }
    return ctx.node("Concat", blocks, attrInt("axis", 0));
  }

  private static String unsqueeze0(ExportContext ctx, String name) {
    return ctx.node("Unsqueeze", name, ctx.longs("axes", 0));
  }

  /** The directions' tensors stacked on axis 0 (already unsqueezed). */
  private static String stack(ExportContext ctx, List<String> perDirection) {
    return perDirection.size() == 1
        ? perDirection.get(0)
        : ctx.node("Concat", perDirection, attrInt("axis", 0));
  }
}
