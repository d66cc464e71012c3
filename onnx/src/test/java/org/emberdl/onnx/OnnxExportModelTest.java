package org.emberdl.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.emberdl.autograd.NoGrad;
import org.emberdl.autograd.Tensor;
import org.emberdl.nn.BatchNorm2d;
import org.emberdl.nn.Linear;
import org.emberdl.nn.Module;
import org.emberdl.nn.NetworkSpec;
import org.emberdl.nn.ReLU;
import org.emberdl.nn.Sequential;
import org.emberdl.onnx.proto.ModelProto;
import org.emberdl.onnx.proto.NodeProto;
import org.emberdl.onnx.proto.TensorProto;
import org.emberdl.onnx.proto.TensorShapeProto;
import org.emberdl.onnx.proto.ValueInfoProto;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Whole models through ONNX Runtime, the graph's interface and names, and the errors. */
class OnnxExportModelTest {
  private static final String MLP =
      "linear(64), relu, linear(32), gelu, layernorm, dropout(0.2), linear(16), sigmoid, linear(10)";
  private static final String CNN =
      "conv(8,k=3,p=1), batchnorm, relu, maxpool(2), conv(16,k=3,s=2,p=1), batchnorm,"
          + " leakyrelu(0.1), avgpool(2), flatten, linear(32), batchnorm, tanh, dropout(0.25),"
          + " linear(10)";

  @TempDir Path dir;

  // ---------------------------------------------------------------------------------------------
  // Models through ONNX Runtime

  /**
   * The examples' patch transformer (ViT) spec through ONNX Runtime: at its own initialization to
   * the usual 1e-5, and with its state randomized (large scores) to 1e-4 (see {@link
   * OnnxExportLayerTest#tolerance}).
   */
  @Test
  void patchTransformerMatchesAtTwoBatchSizes() throws Exception {
    String vit =
        "patches(7), linear(64), clsToken, posEmbedding(std=0.02), transformer(64, 4, 128,"
            + " layers=2, dropout=0.1, prenorm, gelu), clsPool, linear(10)";
    Generator gen = new Generator(3);
    for (boolean randomized : new boolean[] {false, true}) {
      try (Sequential net = NetworkSpec.build(vit, new int[] {1, 28, 28}, gen)) {
        if (randomized) {
          OnnxExportLayerTest.randomizeState(net, gen);
        }
        byte[] onnx = Onnx.exportBytes(net, new long[] {2, 1, 28, 28});
        for (int batch : new int[] {1, 5}) {
          try (NDArray x = NDArray.rand(gen, DType.FLOAT32, batch, 1, 28, 28)) {
            OrtRunner.assertSameOutput(onnx, net, x, randomized ? 1e-4 : 1e-5);
          }
        }
      }
    }
  }

  @Test
  void mlpMatchesAtTwoBatchSizes() throws Exception {
    Generator gen = new Generator(1);
    try (Sequential mlp = NetworkSpec.build(MLP, new int[] {20}, gen)) {
      OnnxExportLayerTest.randomizeState(mlp, gen);
      byte[] onnx = Onnx.exportBytes(mlp, new long[] {1, 20});
      for (int batch : new int[] {1, 16}) {
        try (NDArray x = NDArray.randn(gen, DType.FLOAT32, batch, 20)) {
          OrtRunner.assertSameOutput(onnx, mlp, x);
        }
      }
    }
  }

  /**
   * A CNN whose BatchNorms have moved their running statistics during training-mode steps exports
   * their eval-mode computation; exporting changes neither the mode nor the statistics.
   */
  @Test
  void cnnWithBatchNormInEvalModeMatchesAtTwoBatchSizes() throws Exception {
    Generator gen = new Generator(2);
    try (Sequential cnn = NetworkSpec.build(CNN, new int[] {3, 16, 16}, gen)) {
      try (NoGrad ng = NoGrad.enter()) {
        for (int step = 0; step < 3; step++) {
          try (NDArray xb = NDArray.randn(gen, DType.FLOAT32, 8, 3, 16, 16);
              Tensor x = Tensor.of(xb.share());
              Tensor y = cnn.forward(x)) {
            assertArrayEquals(new int[] {8, 10}, y.shape());
          }
        }
      }
      BatchNorm2d bn = (BatchNorm2d) cnn.get(1);
      float[] meanBefore = bn.runningMean().toFloatArray();
      assertTrue(Math.abs(meanBefore[0]) > 1e-4, "the training steps moved running_mean");
      assertTrue(cnn.isTraining());

      Path file = dir.resolve("cnn.onnx");
      Onnx.export(cnn, new long[] {4, 3, 16, 16}, file);

      assertTrue(cnn.isTraining(), "export leaves the mode alone");
      assertArrayEquals(meanBefore, bn.runningMean().toFloatArray(), "and the statistics");
      byte[] onnx = Files.readAllBytes(file);
      for (int batch : new int[] {1, 5}) {
        try (NDArray x = NDArray.randn(gen, DType.FLOAT32, batch, 3, 16, 16)) {
          OrtRunner.assertSameOutput(onnx, cnn, x);
        }
      }
      List<String> ops = new ArrayList<>();
      for (NodeProto n : ModelProto.parseFrom(onnx).getGraph().getNodeList()) {
        ops.add(n.getOpType());
      }
      assertEquals(
          List.of(
              "Conv",
              "BatchNormalization",
              "Relu",
              "MaxPool",
              "Conv",
              "BatchNormalization",
              "LeakyRelu",
              "AveragePool",
              "Flatten",
              "Gemm",
              "BatchNormalization",
              "Tanh",
              "Gemm"),
          ops);
    }
  }

  @Test
  void theFileIsWhatToModelProtoBuildsAndOnnxRuntimeLoadsIt() throws Exception {
    try (Sequential mlp = NetworkSpec.build("linear(3)", new int[] {4}, new Generator(3))) {
      Path file = dir.resolve("m.onnx");
      Files.writeString(file, "an older file, replaced");
      Onnx.export(mlp, new long[] {-1, 4}, file);
      assertArrayEquals(Onnx.exportBytes(mlp, new long[] {2, 4}), Files.readAllBytes(file));
      try (OrtSession s =
          OrtEnvironment.getEnvironment()
              .createSession(file.toString(), new OrtSession.SessionOptions())) {
        assertEquals(List.of("input"), List.copyOf(s.getInputNames()));
        assertEquals(List.of("output"), List.copyOf(s.getOutputNames()));
      }
      try (var files = Files.list(dir)) {
        assertEquals(1, files.count(), "no temporary file is left beside it");
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The graph's interface

  @Test
  void inputAndOutputHaveASymbolicBatchDimAndTheOpsetIsDeclared() throws Exception {
    try (Sequential cnn = NetworkSpec.build(CNN, new int[] {3, 16, 16}, new Generator(4))) {
      ModelProto m = Onnx.toModelProto(cnn, new long[] {7, 3, 16, 16});
      assertEquals(8, m.getIrVersion());
      assertEquals(1, m.getOpsetImportCount());
      assertEquals("", m.getOpsetImport(0).getDomain());
      assertEquals(18, m.getOpsetImport(0).getVersion());
      assertEquals("ember", m.getProducerName());
      assertEquals(List.of("batch", "3", "16", "16"), dims(m.getGraph().getInput(0)));
      assertEquals(List.of("batch", "10"), dims(m.getGraph().getOutput(0)));
      assertEquals("input", m.getGraph().getInput(0).getName());
      assertEquals("output", m.getGraph().getOutput(0).getName());
      assertEquals(
          TensorProto.DataType.FLOAT_VALUE,
          m.getGraph().getInput(0).getType().getTensorType().getElemType());
      ModelProto at20 =
          Onnx.toModelProto(
              cnn,
              new long[] {7, 3, 16, 16},
              OnnxExportOptions.defaults().withOpset(20).withNames("pixels", "logits"));
      assertEquals(9, at20.getIrVersion());
      assertEquals(20, at20.getOpsetImport(0).getVersion());
      assertEquals("pixels", at20.getGraph().getInput(0).getName());
      assertEquals("logits", at20.getGraph().getOutput(0).getName());
    }
  }

  @Test
  void anEmbeddingFirstModelTakesInt64Indices() throws Exception {
    Generator gen = new Generator(5);
    try (Sequential m =
        new Sequential(
            new org.emberdl.nn.Embedding(12, 6, gen),
            new org.emberdl.nn.Flatten(),
            new Linear(4 * 6, 3, gen))) {
      ModelProto proto = Onnx.toModelProto(m, new long[] {1, 4});
      ValueInfoProto in = proto.getGraph().getInput(0);
      assertEquals(TensorProto.DataType.INT64_VALUE, in.getType().getTensorType().getElemType());
      assertEquals(List.of("batch", "4"), dims(in));
      try (NDArray idx = NDArray.randint(gen, 0, 12, 3, 4)) {
        OrtRunner.assertSameOutput(proto.toByteArray(), m, idx);
      }
    }
  }

  private static List<String> dims(ValueInfoProto v) {
    List<String> out = new ArrayList<>();
    for (TensorShapeProto.Dimension d : v.getType().getTensorType().getShape().getDimList()) {
      out.add(d.hasDimParam() ? d.getDimParam() : Long.toString(d.getDimValue()));
    }
    return out;
  }

  // ---------------------------------------------------------------------------------------------
  // Initializers are the state dict

  /**
   * Every parameter and running statistic is an initializer named by its state-dict key (PyTorch
   * writes the same names), holding the same values; num_batches_tracked, which inference never
   * reads, is the only state left out, as in torch.onnx.export.
   */
  @Test
  void initializersAreTheStateDictKeysWithTheirValues() throws Exception {
    Generator gen = new Generator(6);
    try (Sequential model =
        new Sequential(
            NetworkSpec.build("conv(4,k=3), batchnorm, relu, flatten", new int[] {2, 6, 6}, gen),
            new Sequential(new Linear(4 * 4 * 4, 5, gen), new ReLU(), new Linear(5, 2, gen)))) {
      OnnxExportLayerTest.randomizeState(model, gen);
      ModelProto proto = Onnx.toModelProto(model, new long[] {1, 2, 6, 6});
      Map<String, TensorProto> inits = new LinkedHashMap<>();
      for (TensorProto t : proto.getGraph().getInitializerList()) {
        inits.put(t.getName(), t);
      }
      Map<String, NDArray> state = model.stateDict();
      try {
        List<String> expected = new ArrayList<>(state.keySet());
        expected.remove("0.1.num_batches_tracked");
        assertEquals(
            List.of(
                "0.0.weight",
                "0.0.bias",
                "0.1.weight",
                "0.1.bias",
                "0.1.running_mean",
                "0.1.running_var",
                "1.0.weight",
                "1.0.bias",
                "1.2.weight",
                "1.2.bias"),
            expected);
        assertEquals(expected, List.copyOf(inits.keySet()));
        for (String key : expected) {
          NDArray a = state.get(key);
          TensorProto t = inits.get(key);
          assertEquals(TensorProto.DataType.FLOAT_VALUE, t.getDataType(), key);
          long[] shape = java.util.Arrays.stream(a.shape()).asLongStream().toArray();
          assertArrayEquals(
              shape, t.getDimsList().stream().mapToLong(Long::longValue).toArray(), key);
          float[] values = new float[(int) a.numel()];
          ByteBuffer.wrap(t.getRawData().toByteArray())
              .order(ByteOrder.LITTLE_ENDIAN)
              .asFloatBuffer()
              .get(values);
          assertArrayEquals(a.toFloatArray(), values, 0f, key);
        }
      } finally {
        state.values().forEach(NDArray::close);
      }
      // nodes are named by module path, as torch.onnx.export names them
      assertEquals("/0/0/Conv", proto.getGraph().getNode(0).getName());
      assertEquals(
          "/1/2/Gemm", proto.getGraph().getNode(proto.getGraph().getNodeCount() - 1).getName());
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Errors

  /** A module Ember has no exporter for. */
  static final class Doubler extends Module {
    @Override
    public Tensor forward(Tensor input) {
      return input.mul(2.0);
    }
  }

  /** A Linear whose forward differs: exporting it as a Linear would be wrong. */
  static final class ScaledLinear extends Linear {
    ScaledLinear(Generator gen) {
      super(4, 4, gen);
    }

    @Override
    public Tensor forward(Tensor input) {
      try (Tensor y = super.forward(input)) {
        return y.mul(3.0);
      }
    }
  }

  @Test
  void aModuleWithoutMappingIsNamedByPathAndClassAndNothingIsWritten() throws Exception {
    Generator gen = new Generator(7);
    try (Sequential model =
        new Sequential(
            new Linear(4, 4, gen), new Sequential(new ReLU(), new ReLU(), new Doubler()))) {
      Path file = dir.resolve("never.onnx");
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class, () -> Onnx.export(model, new long[] {1, 4}, file));
      assertEquals(
          "cannot export module '1.2' (Doubler) to ONNX: no ONNX mapping for "
              + Doubler.class.getName()
              + " (exportable: Sequential, PaddedSequenceNetwork, Linear, Conv2d, MaxPool2d, AvgPool2d, BatchNorm1d,"
              + " BatchNorm2d, LayerNorm, Embedding, TokenEmbedding, ReLU, LeakyReLU, Sigmoid, Tanh, GELU, Softmax,"
              + " LogSoftmax, Dropout, Flatten, Identity, MultiheadAttention,"
              + " TransformerEncoderLayer, TransformerEncoder, Patchify, ClsToken, ClsPool,"
              + " LearnedPositionalEmbedding, SinusoidalPositionalEncoding, LSTM, GRU, LastStep,"
              + " MeanPool)",
          e.getMessage());
      assertFalse(Files.exists(file));
      try (var files = Files.list(dir)) {
        assertEquals(0, files.count());
      }
    }
  }

  @Test
  void aSubclassOfAnExportableLayerIsNotExportedAsItsParent() {
    try (Sequential model = new Sequential(new ReLU(), new ScaledLinear(new Generator(8)))) {
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class, () -> Onnx.toModelProto(model, new long[] {1, 4}));
      assertTrue(
          e.getMessage()
              .startsWith("cannot export module '1' (ScaledLinear) to ONNX: no ONNX mapping for "),
          e.getMessage());
    }
  }

  @Test
  void aRootModuleWithoutMappingIsNamedAsTheRoot() {
    try (Doubler d = new Doubler()) {
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class, () -> Onnx.exportBytes(d, new long[] {1, 4}));
      assertTrue(
          e.getMessage().startsWith("cannot export module '<root>' (Doubler) to ONNX"),
          e.getMessage());
    }
  }

  @Test
  void aShapeThatDoesNotFitALayerIsNamed() {
    Generator gen = new Generator(9);
    try (Sequential model = new Sequential(new ReLU(), new Linear(5, 3, gen))) {
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class, () -> Onnx.exportBytes(model, new long[] {2, 4}));
      assertEquals(
          "cannot export module '1' (Linear) to ONNX: Linear expects input (batch, *, 5), got"
              + " (batch, 4)",
          e.getMessage());
    }
    try (Sequential cnn = NetworkSpec.build("conv(4,k=5)", new int[] {1, 8, 8}, gen)) {
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class, () -> Onnx.exportBytes(cnn, new long[] {2, 1, 3, 3}));
      assertEquals(
          "cannot export module '0' (Conv2d) to ONNX: kernel 5 does not fit input (batch, 1, 3, 3)"
              + " (output size -1)",
          e.getMessage());
    }
  }

  @Test
  void float64ParametersAreRefusedByName() {
    try (Sequential model =
        new Sequential(new Linear(3, 2, true, DType.FLOAT64, new Generator(10)))) {
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class, () -> Onnx.exportBytes(model, new long[] {1, 3}));
      assertEquals(
          "cannot export module '0' (Linear) to ONNX: '0.weight' is float64; ONNX export writes"
              + " float32 models (convert the module's parameters first)",
          e.getMessage());
    }
  }

  @Test
  void badShapesAndOptionsAreRefused() {
    try (Sequential model = new Sequential(new ReLU())) {
      assertEquals(
          "inputShape must include the batch dim, e.g. {1, 784}; got []",
          assertThrows(IllegalArgumentException.class, () -> Onnx.exportBytes(model, new long[0]))
              .getMessage());
      assertEquals(
          "inputShape dim 1 must be positive (only the batch dim is dynamic), got [1, 0]",
          assertThrows(
                  IllegalArgumentException.class, () -> Onnx.exportBytes(model, new long[] {1, 0}))
              .getMessage());
      assertEquals(
          "inputShape's batch dim must be positive or -1, got [0, 3]",
          assertThrows(
                  IllegalArgumentException.class, () -> Onnx.exportBytes(model, new long[] {0, 3}))
              .getMessage());
    }
    assertEquals(
        "opset must be in [17, 22], got 16",
        assertThrows(
                IllegalArgumentException.class, () -> OnnxExportOptions.defaults().withOpset(16))
            .getMessage());
    assertEquals(
        "input and output names must differ, both are 'x'",
        assertThrows(
                IllegalArgumentException.class,
                () -> OnnxExportOptions.defaults().withNames("x", "x"))
            .getMessage());
  }

  // ---------------------------------------------------------------------------------------------
  // The registry is open

  @Test
  void aRegisteredExporterExportsAModuleOfItsOwn() throws Exception {
    OnnxExportOptions options =
        OnnxExportOptions.defaults()
            .withExporters(
                OnnxExportOptions.defaults()
                    .exporters()
                    .with(
                        Doubler.class,
                        (m, in, ctx) ->
                            in.named(ctx.node("Mul", in.name(), ctx.scalar("two", 2f)))));
    Generator gen = new Generator(11);
    try (Sequential model = new Sequential(new Linear(4, 3, gen), new Doubler());
        NDArray x = NDArray.randn(gen, DType.FLOAT32, 2, 4)) {
      ModelProto proto = Onnx.toModelProto(model, new long[] {1, 4}, options);
      assertEquals("/1/two", proto.getGraph().getInitializer(2).getName());
      OrtRunner.assertSameOutput(proto.toByteArray(), model, x);
    }
  }
}
