package org.emberdl.onnx;

import java.util.Map;
import java.util.function.Function;
import java.util.stream.Stream;
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
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Each exportable layer alone: ONNX Runtime runs the exported file on random input, at the batch
 * size it was exported with and another, and matches Ember's eval-mode forward within 1e-5, with
 * state randomized (so BatchNorm's running statistics, LayerNorm's affine part etc. are not the
 * identity).
 */
class OnnxExportLayerTest {

  /** A layer, the input it gets (batch dim first), and the opset to export at. */
  record Case(
      String name, Function<Generator, Module> make, int[] shape, boolean indices, int opset) {
    @Override
    public String toString() {
      return name + " @opset " + opset;
    }
  }

  private static Case c(String name, Function<Generator, Module> make, int... shape) {
    return new Case(name, make, shape, false, OnnxExportOptions.DEFAULT_OPSET);
  }

  private static Case at(int opset, Case c) {
    return new Case(c.name(), c.make(), c.shape(), c.indices(), opset);
  }

  static Stream<Arguments> layers() {
    return Stream.of(
            c("Linear", g -> new Linear(5, 3, g), 4, 5),
            c("Linear no bias", g -> new Linear(5, 3, false, g), 4, 5),
            c("Linear on 3-D input (MatMul)", g -> new Linear(5, 3, g), 2, 4, 5),
            c("Linear no bias on 3-D input", g -> new Linear(5, 3, false, g), 2, 4, 5),
            c("Conv2d k3 p1", g -> new Conv2d(3, 4, 3, 1, 1, g), 2, 3, 8, 8),
            c(
                "Conv2d rectangular, strided, dilated, grouped, no bias",
                g ->
                    new Conv2d(
                        4,
                        6,
                        new int[] {3, 2},
                        new int[] {2, 1},
                        new int[] {1, 0},
                        new int[] {1, 2},
                        2,
                        false,
                        DType.FLOAT32,
                        g),
                2,
                4,
                9,
                9),
            c("MaxPool2d(2)", g -> new MaxPool2d(2), 2, 3, 8, 8),
            c("MaxPool2d(3, s=2, p=1)", g -> new MaxPool2d(3, 2, 1), 2, 3, 9, 9),
            c("AvgPool2d(2)", g -> new AvgPool2d(2), 2, 3, 8, 8),
            c("AvgPool2d(3, s=2, p=1) counts padding", g -> new AvgPool2d(3, 2, 1), 2, 3, 9, 9),
            c("BatchNorm1d on (N, C)", g -> new BatchNorm1d(4), 3, 4),
            c("BatchNorm1d on (N, C, L)", g -> new BatchNorm1d(4), 3, 4, 5),
            c("BatchNorm2d", g -> new BatchNorm2d(3), 2, 3, 4, 4),
            c(
                "BatchNorm2d not affine",
                g -> new BatchNorm2d(3, 1e-3, 0.1, false, true),
                2,
                3,
                4,
                4),
            c(
                "BatchNorm2d without running stats (batch statistics)",
                g -> new BatchNorm2d(3, 1e-5, 0.1, true, false),
                2,
                3,
                4,
                4),
            at(
                17,
                c(
                    "BatchNorm1d without running stats (batch statistics)",
                    g -> new BatchNorm1d(4, 1e-5, 0.1, true, false),
                    3,
                    4)),
            c("LayerNorm(6)", g -> new LayerNorm(6), 2, 6),
            c("LayerNorm(4, 6) on 4-D input", g -> new LayerNorm(4, 6), 2, 3, 4, 6),
            c(
                "LayerNorm not affine",
                g -> new LayerNorm(new int[] {6}, 1e-6, false, false, DType.FLOAT32),
                2,
                3,
                6),
            c(
                "LayerNorm without bias",
                g -> new LayerNorm(new int[] {6}, 1e-5, true, false, DType.FLOAT32),
                2,
                6),
            new Case("Embedding", g -> new Embedding(10, 4, g), new int[] {3, 5}, true, 18),
            c("ReLU", g -> new ReLU(), 3, 7),
            c("LeakyReLU(0.2)", g -> new LeakyReLU(0.2), 3, 7),
            c("Sigmoid", g -> new Sigmoid(), 3, 7),
            c("Tanh", g -> new Tanh(), 3, 7),
            c("GELU exact", g -> new GELU(), 3, 7),
            c("GELU tanh", g -> new GELU("tanh"), 3, 7),
            at(17, c("GELU exact", g -> new GELU(), 3, 7)),
            at(20, c("GELU exact (Gelu op)", g -> new GELU(), 3, 7)),
            at(20, c("GELU tanh (Gelu op)", g -> new GELU("tanh"), 3, 7)),
            at(22, c("GELU exact (Gelu op)", g -> new GELU(), 3, 7)),
            c("Softmax(1)", g -> new Softmax(1), 3, 7),
            c("Softmax(-1) on 3-D", g -> new Softmax(-1), 2, 3, 7),
            c("Softmax(1) on 3-D (not the last dim)", g -> new Softmax(1), 2, 3, 7),
            c("LogSoftmax(1)", g -> new LogSoftmax(1), 3, 7),
            c("LogSoftmax(-2) on 3-D", g -> new LogSoftmax(-2), 2, 3, 7),
            c(
                "Dropout (a training-mode module exports as the identity)",
                g -> new Dropout(0.5, g),
                3,
                7),
            c("Flatten()", g -> new Flatten(), 2, 3, 4, 5),
            c("Flatten(2, 3)", g -> new Flatten(2, 3), 2, 3, 4, 5),
            c("Flatten(1, 2)", g -> new Flatten(1, 2), 2, 3, 4, 5),
            c("Flatten(0, -1) (Reshape)", g -> new Flatten(0, -1), 2, 3, 4),
            c("Identity", g -> new Identity(), 3, 7),
            c("LSTM batch-first", g -> LSTM.builder(5, 4).batchFirst(true).build(g), 3, 6, 5),
            c(
                "LSTM 2 layers, bidirectional, batch-first",
                g -> LSTM.builder(5, 4).numLayers(2).bidirectional(true).batchFirst(true).build(g),
                3,
                6,
                5),
            c("LSTM time-major, no bias", g -> LSTM.builder(5, 4).bias(false).build(g), 6, 3, 5),
            c("GRU batch-first", g -> GRU.builder(5, 4).batchFirst(true).build(g), 3, 6, 5),
            c(
                "GRU 2 layers, bidirectional, time-major",
                g -> GRU.builder(5, 4).numLayers(2).bidirectional(true).build(g),
                6,
                3,
                5),
            c("LastStep", g -> new LastStep(), 3, 6, 5),
            c("MeanPool", g -> new MeanPool(), 3, 6, 5),
            at(17, c("MeanPool", g -> new MeanPool(), 3, 6, 5)),
            c("MultiheadAttention batch-first", g -> attention(8, 2, true, true, g), 3, 5, 8),
            c(
                "MultiheadAttention time-major, no bias",
                g -> attention(8, 4, false, false, g),
                5,
                3,
                8),
            c(
                "TransformerEncoderLayer post-norm relu",
                g -> encoderLayer(false, TransformerEncoderLayer.Activation.RELU, g),
                3,
                5,
                8),
            c(
                "TransformerEncoderLayer pre-norm gelu",
                g -> encoderLayer(true, TransformerEncoderLayer.Activation.GELU, g),
                3,
                5,
                8),
            at(
                20,
                c(
                    "TransformerEncoderLayer pre-norm gelu",
                    g -> encoderLayer(true, TransformerEncoderLayer.Activation.GELU, g),
                    3,
                    5,
                    8)),
            c(
                "TransformerEncoder 2 layers and final norm",
                g ->
                    new TransformerEncoder(
                        encoderLayer(true, TransformerEncoderLayer.Activation.GELU, g),
                        2,
                        new LayerNorm(8),
                        g),
                3,
                5,
                8),
            c("Patchify(2)", g -> new Patchify(2), 2, 3, 4, 6),
            c("ClsToken", g -> new ClsToken(8), 3, 5, 8),
            c("ClsPool", g -> new ClsPool(), 3, 5, 8),
            c("LearnedPositionalEmbedding", g -> new LearnedPositionalEmbedding(9, 8, g), 3, 5, 8),
            c("SinusoidalPositionalEncoding", g -> new SinusoidalPositionalEncoding(9, 8), 3, 5, 8),
            new Case(
                "TokenEmbedding (int64 ids in the graph)",
                g -> new TokenEmbedding(10, 4, null, g),
                new int[] {3, 6},
                true,
                OnnxExportOptions.DEFAULT_OPSET),
            c("empty Sequential", g -> new Sequential(), 3, 7))
        .map(Arguments::of);
  }

  private static MultiheadAttention attention(
      int dim, int heads, boolean bias, boolean batchFirst, Generator g) {
    return new MultiheadAttention(dim, heads, 0.0, bias, batchFirst, DType.FLOAT32, g);
  }

  private static TransformerEncoderLayer encoderLayer(
      boolean normFirst, TransformerEncoderLayer.Activation activation, Generator g) {
    return new TransformerEncoderLayer(
        new TransformerEncoderLayer.Config(8, 2)
            .withDimFeedforward(16)
            .withDropout(0.3)
            .withActivation(activation)
            .withBatchFirst(true)
            .withNormFirst(normFirst),
        g);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("layers")
  void onnxRuntimeMatchesEmberAtTwoBatchSizes(Case c) throws Exception {
    Generator gen = new Generator(42);
    try (Module layer = c.make().apply(gen)) {
      randomizeState(layer, gen);
      long[] shape = java.util.Arrays.stream(c.shape()).asLongStream().toArray();
      byte[] onnx =
          Onnx.toModelProto(layer, shape, OnnxExportOptions.defaults().withOpset(c.opset()))
              .toByteArray();
      // the file was exported for batch shape[0]; its batch dim is dynamic, so another size runs
      for (int batch : new int[] {c.shape()[0], c.shape()[0] + 3}) {
        int[] s = c.shape().clone();
        s[0] = batch;
        try (NDArray x = input(c, gen, s)) {
          OrtRunner.assertSameOutput(onnx, layer, x, tolerance(c));
        }
      }
    }
  }

  private static NDArray input(Case c, Generator gen, int[] shape) {
    return c.indices()
        ? NDArray.randint(gen, 0, 10, shape)
        : NDArray.uniform(gen, DType.FLOAT32, -3, 3, shape);
  }

  /**
   * 1e-5, or 1e-4 for attention: with the randomized weights (up to 2) its scores reach the
   * hundreds, and the softmax, the layer norms and GELU's erf carry float32 rounding of such sums
   * (ONNX Runtime's kernels and Ember's differ in order) into the 1e-5 digit.
   */
  static double tolerance(Case c) {
    return tolerance(c.name());
  }

  static double tolerance(String name) {
    String n = name.toLowerCase(java.util.Locale.ROOT);
    return n.contains("attention") || n.contains("transformer") ? 1e-4 : 1e-5;
  }

  /**
   * Overwrites every floating parameter and buffer with random values (variances positive), so an
   * exporter that dropped or mis-wired one would show in the output.
   */
  static void randomizeState(Module m, Generator gen) {
    Map<String, NDArray> state = m.stateDict();
    try {
      for (Map.Entry<String, NDArray> e : state.entrySet()) {
        NDArray a = e.getValue();
        if (a.dtype() != DType.FLOAT32) {
          continue;
        }
        double low = e.getKey().endsWith("running_var") ? 0.5 : -1;
        try (NDArray r = NDArray.uniform(gen, DType.FLOAT32, low, 2, a.shape())) {
          a.copyFrom(r);
        }
      }
    } finally {
      state.values().forEach(NDArray::close);
    }
  }
}
