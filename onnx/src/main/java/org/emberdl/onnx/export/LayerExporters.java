package org.emberdl.onnx.export;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.StringJoiner;
import org.emberdl.nn.AvgPool2d;
import org.emberdl.nn.BatchNorm1d;
import org.emberdl.nn.BatchNorm2d;
import org.emberdl.nn.ClsPool;
import org.emberdl.nn.ClsToken;
import org.emberdl.nn.Conv2d;
import org.emberdl.nn.Dropout;
import org.emberdl.nn.Embedding;
import org.emberdl.nn.Flatten;
import org.emberdl.nn.GELU;
import org.emberdl.nn.GRU;
import org.emberdl.nn.Identity;
import org.emberdl.nn.LSTM;
import org.emberdl.nn.LastStep;
import org.emberdl.nn.LayerNorm;
import org.emberdl.nn.LeakyReLU;
import org.emberdl.nn.LearnedPositionalEmbedding;
import org.emberdl.nn.Linear;
import org.emberdl.nn.LogSoftmax;
import org.emberdl.nn.MaxPool2d;
import org.emberdl.nn.MeanPool;
import org.emberdl.nn.Module;
import org.emberdl.nn.MultiheadAttention;
import org.emberdl.nn.PaddedSequenceNetwork;
import org.emberdl.nn.Patchify;
import org.emberdl.nn.ReLU;
import org.emberdl.nn.Sequential;
import org.emberdl.nn.Sigmoid;
import org.emberdl.nn.SinusoidalPositionalEncoding;
import org.emberdl.nn.Softmax;
import org.emberdl.nn.Tanh;
import org.emberdl.nn.TokenEmbedding;
import org.emberdl.nn.TransformerEncoder;
import org.emberdl.nn.TransformerEncoderLayer;

/**
 * Which {@link LayerExporter} writes which module class. Immutable; {@link #with} gives a copy with
 * one more entry, so a new layer (or a user's own module) plugs in without touching the exporter.
 *
 * <p>{@link #defaults()} exports Ember's layers, each to what its eval-mode {@code forward}
 * computes:
 *
 * <table>
 *   <caption>Ember layer to ONNX operators</caption>
 *   <tr><th>layer</th><th>ONNX</th></tr>
 *   <tr><td>Sequential</td><td>its children in order</td></tr>
 *   <tr><td>PaddedSequenceNetwork</td><td>its children in order, with the sequences' lengths
 *       from the ids (Equal, Not, ReduceSum) as the LSTM/GRU's sequence_lens, attention's key
 *       padding mask, and LastStep's (GatherElements) and MeanPool's (masked ReduceSum, Div)
 *       steps</td></tr>
 *   <tr><td>Linear</td><td>Gemm (transB=1) on 2-D input; Transpose + MatMul (+ Add) on more</td></tr>
 *   <tr><td>Conv2d</td><td>Conv</td></tr>
 *   <tr><td>MaxPool2d, AvgPool2d</td><td>MaxPool, AveragePool (count_include_pad=1)</td></tr>
 *   <tr><td>BatchNorm1d/2d</td><td>BatchNormalization with the running statistics; without
 *       them ReduceMean, Sub, Mul, Add, Sqrt, Div (batch statistics, as Ember's eval)</td></tr>
 *   <tr><td>LayerNorm</td><td>LayerNormalization</td></tr>
 *   <tr><td>Embedding</td><td>Gather (axis 0)</td></tr>
 *   <tr><td>TokenEmbedding</td><td>Gather (axis 0); the graph's input is int64 token ids</td></tr>
 *   <tr><td>ReLU, LeakyReLU, Sigmoid, Tanh</td><td>Relu, LeakyRelu, Sigmoid, Tanh</td></tr>
 *   <tr><td>GELU</td><td>Gelu at opset 20+; before, Div, Erf, Add, Mul (exact) or Mul, Add,
 *       Tanh (tanh form)</td></tr>
 *   <tr><td>Softmax, LogSoftmax</td><td>Softmax, LogSoftmax (axis = dim)</td></tr>
 *   <tr><td>Flatten</td><td>Flatten (axis 1) for dims 1..last; Reshape otherwise</td></tr>
 *   <tr><td>Dropout, Identity</td><td>nothing (inference is the identity)</td></tr>
 *   <tr><td>LSTM, GRU</td><td>one LSTM / GRU node per layer (both directions in one; GRU with
 *       linear_before_reset=1), Transposes for batch-first input, W/R/B rearranged from the
 *       state-dict tensors by Slice and Concat</td></tr>
 *   <tr><td>LastStep, MeanPool</td><td>Gather (index -1, axis 1), ReduceMean (axis 1)</td></tr>
 *   <tr><td>MultiheadAttention (self-attention)</td><td>MatMul, Slice, Reshape, Transpose, MatMul,
 *       Mul, Softmax, MatMul (see {@code AttentionExporters})</td></tr>
 *   <tr><td>TransformerEncoderLayer, TransformerEncoder</td><td>the blocks above with Add and
 *       LayerNormalization, pre- or post-norm</td></tr>
 *   <tr><td>Patchify, ClsToken, ClsPool</td><td>Reshape + Transpose; Expand + Concat; Gather
 *       (index 0, axis 1)</td></tr>
 *   <tr><td>Learned/Sinusoidal positional embeddings</td><td>Add of a Slice of the table / of a
 *       constant</td></tr>
 * </table>
 *
 * <p>Lookup is by the module's exact class: a subclass may override {@code forward}, and exporting
 * it as its parent would write a graph that computes something else.
 */
public final class LayerExporters {
  private static final LayerExporters DEFAULTS = builtIn();

  private final Map<Class<? extends Module>, LayerExporter<?>> byClass;

  private LayerExporters(Map<Class<? extends Module>, LayerExporter<?>> byClass) {
    this.byClass = byClass;
  }

  /** The exporters for Ember's own layers (the table above). */
  public static LayerExporters defaults() {
    return DEFAULTS;
  }

  private static LayerExporters builtIn() {
    return new LayerExporters(new LinkedHashMap<>())
        .with(Sequential.class, BuiltinExporters::sequential)
        .with(PaddedSequenceNetwork.class, BuiltinExporters::paddedSequences)
        .with(Linear.class, BuiltinExporters::linear)
        .with(Conv2d.class, BuiltinExporters::conv2d)
        .with(MaxPool2d.class, BuiltinExporters::maxPool2d)
        .with(AvgPool2d.class, BuiltinExporters::avgPool2d)
        .with(BatchNorm1d.class, BuiltinExporters::batchNorm)
        .with(BatchNorm2d.class, BuiltinExporters::batchNorm)
        .with(LayerNorm.class, BuiltinExporters::layerNorm)
        .with(Embedding.class, BuiltinExporters::embedding)
        .with(TokenEmbedding.class, BuiltinExporters::embedding)
        .with(ReLU.class, BuiltinExporters::relu)
        .with(LeakyReLU.class, BuiltinExporters::leakyRelu)
        .with(Sigmoid.class, BuiltinExporters::sigmoid)
        .with(Tanh.class, BuiltinExporters::tanh)
        .with(GELU.class, BuiltinExporters::gelu)
        .with(Softmax.class, BuiltinExporters::softmax)
        .with(LogSoftmax.class, BuiltinExporters::logSoftmax)
        .with(Dropout.class, BuiltinExporters::dropout)
        .with(Flatten.class, BuiltinExporters::flatten)
        .with(Identity.class, BuiltinExporters::identity)
        .with(MultiheadAttention.class, AttentionExporters::multiheadAttention)
        .with(TransformerEncoderLayer.class, AttentionExporters::encoderLayer)
        .with(TransformerEncoder.class, AttentionExporters::encoder)
        .with(Patchify.class, AttentionExporters::patchify)
        .with(ClsToken.class, AttentionExporters::clsToken)
        .with(ClsPool.class, AttentionExporters::clsPool)
        .with(LearnedPositionalEmbedding.class, AttentionExporters::learnedPositions)
        .with(SinusoidalPositionalEncoding.class, AttentionExporters::sinusoidalPositions)
        .with(LSTM.class, RecurrentExporters::lstm)
        .with(GRU.class, RecurrentExporters::gru)
        .with(LastStep.class, RecurrentExporters::lastStep)
        .with(MeanPool.class, RecurrentExporters::meanPool);
  }

  /** A copy that exports modules of exactly {@code type} with {@code exporter} (replacing any). */
  public <M extends Module> LayerExporters with(Class<M> type, LayerExporter<? super M> exporter) {
    Map<Class<? extends Module>, LayerExporter<?>> copy = new LinkedHashMap<>(byClass);
    copy.put(Objects.requireNonNull(type, "type"), Objects.requireNonNull(exporter, "exporter"));
    return new LayerExporters(copy);
  }

  /** The exporter for {@code module}'s class, or null. */
  @SuppressWarnings("unchecked")
  <M extends Module> LayerExporter<M> find(M module) {
    return (LayerExporter<M>) byClass.get(module.getClass());
  }

  /** The exportable classes' simple names, for error messages. */
  String names() {
    StringJoiner j = new StringJoiner(", ");
    byClass.keySet().forEach(c -> j.add(c.getSimpleName()));
    return j.toString();
  }
}
