package org.emberdl.onnx.export;

import static org.emberdl.onnx.export.ExportContext.attrInt;
import static org.emberdl.onnx.export.ExportContext.attrInts;

import java.util.List;
import org.emberdl.nn.ClsPool;
import org.emberdl.nn.ClsToken;
import org.emberdl.nn.LearnedPositionalEmbedding;
import org.emberdl.nn.Module;
import org.emberdl.nn.MultiheadAttention;
import org.emberdl.nn.Patchify;
import org.emberdl.nn.SinusoidalPositionalEncoding;
import org.emberdl.nn.TransformerEncoder;
import org.emberdl.nn.TransformerEncoderLayer;
import org.emberdl.onnx.proto.TensorProto;
import org.emberdl.tensor.NDArray;

/**
 * Exporters of the attention layers and the ViT pieces around them, each to what its eval-mode
 * {@code forward} computes, in plain opset-17 operators (no contrib ops, so any runtime reads
 * them):
 *
 * <ul>
 *   <li>{@link MultiheadAttention} (self-attention, no mask): one MatMul for the three projections
 *       against the transposed {@code in_proj_weight}, Slices into q, k, v, Reshape + Transpose to
 *       (N, heads, T, d), MatMul with the transposed keys, Mul by {@code 1/sqrt(d)}, Softmax,
 *       MatMul with the values, back to (N, T, E), then {@code out_proj}; Transposes around for
 *       sequence-first input.
 *   <li>{@link TransformerEncoderLayer}: its attention and feed-forward blocks with the residual
 *       Adds and LayerNormalizations in pre- or post-norm order; {@link TransformerEncoder} its
 *       layers and final norm.
 *   <li>{@link Patchify}: Reshape, Transpose, Reshape (ViT's patch order); {@link ClsToken}: Concat
 *       of the token, Expanded over the batch, before the sequence; {@link ClsPool}: Gather of
 *       position 0; positional embeddings: Add of the first T rows (a Slice of the parameter, or a
 *       constant for the sinusoidal table).
 * </ul>
 *
 * Masks are arguments of {@code attend}, not of {@code forward}, so a model exported from a module
 * tree has one only inside a {@code PaddedSequenceNetwork}: the key padding mask of its sequences'
 * lengths ({@link SequencePadding}), added to the scores.
 */
final class AttentionExporters {
  private static final int FLOAT = TensorProto.DataType.FLOAT_VALUE;

  private AttentionExporters() {}

  static OnnxValue multiheadAttention(MultiheadAttention m, OnnxValue in, ExportContext ctx) {
    BuiltinExporters.requireFloat(in, ctx);
    int e = m.embedDim();
    if (in.rank() != 3 || in.dim(2) != e) {
      throw ctx.error(
          "MultiheadAttention expects "
              + (m.batchFirst() ? "(batch, time, " : "(time, batch, ")
              + e
              + ") input, got "
              + in.shapeString());
    }
    int heads = m.numHeads();
    int d = e / heads;
    String x =
        m.batchFirst() ? in.name() : ctx.node("Transpose", List.of(in.name()), perm(1, 0, 2));
    String w = BuiltinExporters.floatParameter(ctx, "in_proj_weight", m.inProjWeight());
    String qkv = ctx.node("MatMul", x, ctx.node("Transpose", List.of(w), perm(1, 0)));
    if (m.inProjBias() != null) {
      qkv =
          ctx.node(
              "Add", qkv, BuiltinExporters.floatParameter(ctx, "in_proj_bias", m.inProjBias()));
    }
    String headShape = ctx.longs("head_shape", 0, 0, heads, d);
    String[] qkvHeads = new String[3];
    for (int i = 0; i < 3; i++) {
      String part =
          ctx.node(
              "Slice",
              qkv,
              ctx.longs("start", (long) i * e),
              ctx.longs("end", (long) (i + 1) * e),
              ctx.longs("axis", 2));
      // (N, T, E) -> (N, T, heads, d) -> (N, heads, T, d); the keys straight to (N, heads, d, T)
      qkvHeads[i] =
          ctx.node(
              "Transpose",
              List.of(ctx.node("Reshape", part, headShape)),
              i == 1 ? perm(0, 2, 3, 1) : perm(0, 2, 1, 3));
    }
    String scores =
        ctx.node(
            "Mul",
            ctx.node("MatMul", qkvHeads[0], qkvHeads[1]),
            ctx.scalar("scale", (float) (1 / Math.sqrt(d))));
    SequencePadding padding = ctx.padding();
    if (padding != null) {
      if (!m.batchFirst()) {
        throw ctx.error("MultiheadAttention takes sequence lengths only batch-first");
      }
      scores = ctx.node("Add", scores, padding.keyMask(ctx)); // no query attends to padding
    }
    String weights = ctx.node("Softmax", List.of(scores), attrInt("axis", -1));
    String context = ctx.node("MatMul", weights, qkvHeads[2]);
    String merged =
        ctx.node(
            "Reshape",
            ctx.node("Transpose", List.of(context), perm(0, 2, 1, 3)),
            ctx.longs("merged_shape", 0, 0, e));
    long[] batchFirst = m.batchFirst() ? in.shape() : new long[] {in.dim(1), in.dim(0), in.dim(2)};
    OnnxValue out =
        ctx.exportChild("out_proj", m.outProj(), new OnnxValue(merged, FLOAT, batchFirst));
    if (m.batchFirst()) {
      return out;
    }
    return new OnnxValue(
        ctx.node("Transpose", List.of(out.name()), perm(1, 0, 2)), FLOAT, in.shape());
  }

  static OnnxValue encoderLayer(TransformerEncoderLayer m, OnnxValue in, ExportContext ctx) {
    BuiltinExporters.requireFloat(in, ctx);
    if (in.rank() != 3) {
      throw ctx.error(
          "TransformerEncoderLayer expects a 3-D input "
              + (m.config().batchFirst() ? "(batch, time, d_model)" : "(time, batch, d_model)")
              + ", got "
              + in.shapeString());
    }
    if (m.config().normFirst()) {
      OnnxValue x1 = add(in, attention(m, child(ctx, m, "norm1", in), ctx), ctx);
      return add(x1, feedForward(m, child(ctx, m, "norm2", x1), ctx), ctx);
    }
    OnnxValue x1 = child(ctx, m, "norm1", add(in, attention(m, in, ctx), ctx));
    return child(ctx, m, "norm2", add(x1, feedForward(m, x1, ctx), ctx));
  }

  private static OnnxValue attention(TransformerEncoderLayer m, OnnxValue x, ExportContext ctx) {
    return ctx.exportChild("self_attn", m.selfAttn(), x);
  }

  private static OnnxValue feedForward(TransformerEncoderLayer m, OnnxValue x, ExportContext ctx) {
    OnnxValue h = child(ctx, m, "linear1", x);
    OnnxValue act =
        m.config().activation() == TransformerEncoderLayer.Activation.GELU
            ? BuiltinExporters.gelu("none", h, ctx)
            : h.named(ctx.node("Relu", h.name()));
    return child(ctx, m, "linear2", act);
  }

  static OnnxValue encoder(TransformerEncoder m, OnnxValue in, ExportContext ctx) {
    OnnxValue x = in;
    for (int i = 0; i < m.numLayers(); i++) {
      x = ctx.exportChild("layers." + i, m.layer(i), x);
    }
    return m.norm() == null ? x : ctx.exportChild("norm", m.norm(), x);
  }

  static OnnxValue patchify(Patchify m, OnnxValue in, ExportContext ctx) {
    BuiltinExporters.requireFloat(in, ctx);
    int p = m.patch();
    if (in.rank() != 4 || in.dim(2) % p != 0 || in.dim(3) % p != 0) {
      throw ctx.error(
          "Patchify("
              + p
              + ") expects (N, C, H, W) images with H and W multiples of "
              + p
              + ", got "
              + in.shapeString());
    }
    long c = in.dim(1);
    long gh = in.dim(2) / p;
    long gw = in.dim(3) / p;
    String split = ctx.node("Reshape", in.name(), ctx.longs("split_shape", 0, c, gh, p, gw, p));
    String moved = ctx.node("Transpose", List.of(split), perm(0, 2, 4, 1, 3, 5));
    String y = ctx.node("Reshape", moved, ctx.longs("patch_shape", 0, gh * gw, c * p * p));
    return new OnnxValue(y, FLOAT, new long[] {in.dim(0), gh * gw, c * p * p});
  }

  static OnnxValue clsToken(ClsToken m, OnnxValue in, ExportContext ctx) {
    RecurrentExporters.requireSequence("ClsToken", in, ctx);
    String token = BuiltinExporters.floatParameter(ctx, "cls_token", m.token());
    // (1, 1, D) expanded to (N, 1, D), N taken from the input's shape
    String batch =
        ctx.node(
            "Slice",
            ctx.node("Shape", in.name()),
            ctx.longs("zero", 0),
            ctx.longs("one", 1),
            ctx.longs("axis0", 0));
    String shape =
        ctx.node(
            "Concat", List.of(batch, ctx.longs("token_dims", 1, in.dim(2))), attrInt("axis", 0));
    String tokens = ctx.node("Expand", token, shape);
    String y = ctx.node("Concat", List.of(tokens, in.name()), attrInt("axis", 1));
    long time = in.dim(1) < 0 ? in.dim(1) : in.dim(1) + 1;
    return new OnnxValue(y, FLOAT, new long[] {in.dim(0), time, in.dim(2)});
  }

  static OnnxValue clsPool(ClsPool m, OnnxValue in, ExportContext ctx) {
    RecurrentExporters.requireSequence("ClsPool", in, ctx);
    String y =
        ctx.node(
            "Gather",
            List.of(in.name(), ctx.constant("first", OnnxTensors.longs(new long[] {0}))),
            attrInt("axis", 1));
    return new OnnxValue(y, FLOAT, new long[] {in.dim(0), in.dim(2)});
  }

  static OnnxValue learnedPositions(LearnedPositionalEmbedding m, OnnxValue in, ExportContext ctx) {
    long t = positions("LearnedPositionalEmbedding", m.maxLen(), in, ctx);
    String table = BuiltinExporters.floatParameter(ctx, "weight", m.weight());
    String rows =
        ctx.node("Slice", table, ctx.longs("zero", 0), ctx.longs("time", t), ctx.longs("axis0", 0));
    return in.named(ctx.node("Add", in.name(), rows));
  }

  static OnnxValue sinusoidalPositions(
      SinusoidalPositionalEncoding m, OnnxValue in, ExportContext ctx) {
    long t = positions("SinusoidalPositionalEncoding", m.maxLen(), in, ctx);
    try (NDArray all = m.encoding();
        NDArray rows = all.narrow(0, 0, (int) t)) {
      String table =
          ctx.constant("encoding", OnnxTensors.floats(rows.toFloatArray(), t, in.dim(2)));
      return in.named(ctx.node("Add", in.name(), table));
    }
  }

  /** The sequence length T of a positional layer's (N, T, D) input; T must be known. */
  private static long positions(String what, int maxLen, OnnxValue in, ExportContext ctx) {
    RecurrentExporters.requireSequence(what, in, ctx);
    long t = in.dim(1);
    if (t < 0 || t > maxLen) {
      throw ctx.error(
          what
              + " of "
              + maxLen
              + " positions needs a fixed sequence length of at most "
              + maxLen
              + ", got "
              + in.shapeString());
    }
    return t;
  }

  private static OnnxValue child(ExportContext ctx, Module parent, String name, OnnxValue x) {
    Module c = parent.children().get(name);
    if (c == null) {
      throw ctx.error("has no submodule '" + name + "'");
    }
    return ctx.exportChild(name, c, x);
  }

  private static OnnxValue add(OnnxValue a, OnnxValue b, ExportContext ctx) {
    return a.named(ctx.node("Add", a.name(), b.name()));
  }

  private static org.emberdl.onnx.proto.AttributeProto perm(long... order) {
    return attrInts("perm", order);
  }
}
