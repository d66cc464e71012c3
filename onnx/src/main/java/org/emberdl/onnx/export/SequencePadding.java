package org.emberdl.onnx.export;

import static org.emberdl.onnx.export.ExportContext.attrInt;

import java.util.List;
import org.emberdl.onnx.proto.TensorProto;

/**
 * The lengths of right-padded token sequences, as graph values, while the time axis of a {@code
 * PaddedSequenceNetwork} lasts: what its {@code VariableLength} layers take at run time, computed
 * in the graph from the ids. The exporters of the recurrent layers (their {@code sequence_lens}),
 * attention (a key padding mask added to the scores), {@code LastStep} and {@code MeanPool} read it
 * from {@link ExportContext#padding()}.
 *
 * <p>The graph does not repeat Ember's input checks (a sequence starting with the padding id, a
 * token after padding): such ids give an error in Ember and unspecified values in the ONNX model.
 *
 * @param lengths int64 {@code (N)}: each sequence's number of real steps
 * @param valid float {@code (N, T)}: 1 at real steps, 0 at padding
 */
record SequencePadding(String lengths, String valid) {
  private static final int FLOAT = TensorProto.DataType.FLOAT_VALUE;
  private static final int INT32 = TensorProto.DataType.INT32_VALUE;
  private static final int INT64 = TensorProto.DataType.INT64_VALUE;
  private static final int BOOL = TensorProto.DataType.BOOL_VALUE;

  /** From {@code (N, T)} int64 ids right-padded with {@code paddingId}. */
  static SequencePadding of(String ids, long paddingId, ExportContext ctx) {
    String pad = ctx.longs("padding_id", paddingId);
    String real = ctx.node("Not", ctx.node("Equal", ids, pad));
    String lengths =
        reduceSum(ctx, ctx.node("Cast", List.of(real), attrInt("to", INT64)), 1, "length_axis");
    return new SequencePadding(lengths, ctx.node("Cast", List.of(real), attrInt("to", FLOAT)));
  }

  /**
   * After a token prepended to every sequence ({@code ClsToken}): one step longer, the new first
   * step real. Step 0 of {@code valid} is always 1 (a sequence has at least one token), so it is
   * the new column.
   */
  SequencePadding withLeadingToken(ExportContext ctx) {
    String first =
        ctx.node(
            "Slice", valid, ctx.longs("zero", 0), ctx.longs("one", 1), ctx.longs("time_axis", 1));
    String longer = ctx.node("Concat", List.of(first, valid), attrInt("axis", 1));
    return new SequencePadding(ctx.node("Add", lengths, ctx.longs("one_step", 1)), longer);
  }

  /** The lengths as the int32 {@code sequence_lens} of ONNX's LSTM and GRU. */
  String int32Lengths(ExportContext ctx) {
    return ctx.node("Cast", List.of(lengths), attrInt("to", INT32));
  }

  /** The additive key padding mask {@code (N, 1, 1, T)}: 0 at real keys, -inf at padding. */
  String keyMask(ExportContext ctx) {
    String isReal = ctx.node("Cast", List.of(valid), attrInt("to", BOOL));
    String mask =
        ctx.node(
            "Where",
            isReal,
            ctx.scalar("attend", 0f),
            ctx.scalar("padding", Float.NEGATIVE_INFINITY));
    return ctx.node("Unsqueeze", mask, ctx.longs("mask_axes", 1, 2));
  }

  /** {@code x (N, T, F)} with its padded steps zeroed. */
  String zeroPadding(String x, ExportContext ctx) {
    return ctx.node("Mul", x, ctx.node("Unsqueeze", valid, ctx.longs("feature_axis", 2)));
  }

  /** The lengths as floats {@code (N, 1)}, to divide a per-sequence sum by. */
  String floatLengths(ExportContext ctx) {
    return ctx.node(
        "Unsqueeze",
        ctx.node("Cast", List.of(lengths), attrInt("to", FLOAT)),
        ctx.longs("column_axis", 1));
  }

  /** ReduceSum over one axis, dropping it (axes an input since opset 13). */
  static String reduceSum(ExportContext ctx, String x, long axis, String axisName) {
    return ctx.node("ReduceSum", List.of(x, ctx.longs(axisName, axis)), attrInt("keepdims", 0));
  }
}
