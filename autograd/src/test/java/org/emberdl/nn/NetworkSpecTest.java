package org.emberdl.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.emberdl.autograd.NoGrad;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.io.Safetensors;
import org.junit.jupiter.api.Test;

/** Parsing layer-list specs into Sequentials: shapes, parameters, names and errors. */
class NetworkSpecTest {
  private static final String CNN =
      "conv(32,k=3,p=1), relu, maxpool(2), conv(64,k=3,p=1), relu, maxpool(2), flatten,"
          + " linear(128), relu, dropout(0.25), linear(10)";
  private static final int[] MNIST = {1, 28, 28};
  private static final String MLP = "linear(256), relu, linear(128), relu, linear(10)";

  /** The message of the IllegalArgumentException that building {@code spec} throws. */
  private static String buildError(String spec, int... inputShape) {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> NetworkSpec.build(spec, inputShape, new Generator(0)).close());
    // shape inference fails the same way, without building
    IllegalArgumentException e2 =
        assertThrows(
            IllegalArgumentException.class, () -> NetworkSpec.outputShape(spec, inputShape));
    assertEquals(e.getMessage(), e2.getMessage());
    return e.getMessage();
  }

  private static void assertMentions(String message, String... parts) {
    for (String p : parts) {
      assertTrue(message.contains(p), "expected '" + p + "' in: " + message);
    }
  }

  @Test
  void outputShapesOfTheExamples() {
    // 28x28, conv k3 p1 keeps 28, pool halves to 14, conv keeps 14, pool halves to 7
    assertArrayEquals(new int[] {32, 28, 28}, NetworkSpec.outputShape("conv(32,k=3,p=1)", MNIST));
    assertArrayEquals(
        new int[] {32, 14, 14},
        NetworkSpec.outputShape("conv(32,k=3,p=1), relu, maxpool(2)", MNIST));
    assertArrayEquals(
        new int[] {64 * 7 * 7},
        NetworkSpec.outputShape(
            "conv(32,k=3,p=1), relu, maxpool(2), conv(64,k=3,p=1), relu, maxpool(2), flatten",
            MNIST));
    assertEquals(3136, 64 * 7 * 7);
    assertArrayEquals(new int[] {10}, NetworkSpec.outputShape(CNN, MNIST));
    assertArrayEquals(new int[] {10}, NetworkSpec.outputShape(MLP, new int[] {784}));
    assertArrayEquals(new int[] {256}, NetworkSpec.outputShape("linear(256)", new int[] {784}));
  }

  @Test
  void strideAndPaddingFollowTheConvolutionFormula() {
    int[] in = {3, 32, 32};
    // (32 + 2*1 - 3) / 2 + 1 = 16
    assertArrayEquals(new int[] {4, 16, 16}, NetworkSpec.outputShape("conv(4,k=3,s=2,p=1)", in));
    // (32 - 5) / 1 + 1 = 28, then pooling 28 by 3 with stride 2: (28 - 3) / 2 + 1 = 13
    assertArrayEquals(
        new int[] {6, 13, 13}, NetworkSpec.outputShape("conv(6,k=5), avgpool(3,s=2)", in));
    // pooling stride defaults to the kernel: 32 / 4 = 8; non-square input keeps its aspect
    assertArrayEquals(new int[] {3, 8, 8}, NetworkSpec.outputShape("maxpool(4)", in));
    assertArrayEquals(
        new int[] {2, 2, 5},
        NetworkSpec.outputShape("conv(2,k=3), maxpool(2)", new int[] {1, 6, 12}));
    // a window exactly the input's size gives 1x1
    assertArrayEquals(new int[] {3, 1, 1}, NetworkSpec.outputShape("avgpool(32)", in));
    // flatten of an already flat shape changes nothing
    assertArrayEquals(new int[] {5}, NetworkSpec.outputShape("flatten, layernorm", new int[] {5}));
  }

  @Test
  void outputShapeDoesNotChangeItsInput() {
    int[] in = {1, 28, 28};
    NetworkSpec.outputShape(CNN, in);
    assertArrayEquals(new int[] {1, 28, 28}, in);
    int[] flat = {4};
    int[] out = NetworkSpec.outputShape("relu", flat);
    out[0] = 99;
    assertArrayEquals(new int[] {4}, flat);
  }

  @Test
  void cnnParameterCountAndStateDictKeys() {
    long conv1 = 32 * 1 * 3 * 3 + 32;
    long conv2 = 64 * 32 * 3 * 3 + 64;
    long fc = 128 * 3136 + 128;
    long out = 10 * 128 + 10;
    assertEquals(421_642, conv1 + conv2 + fc + out);
    try (Sequential model = NetworkSpec.build(CNN, MNIST, new Generator(0))) {
      assertEquals(11, model.size());
      assertEquals(conv1 + conv2 + fc + out, model.parameterCount());
      // conv 0, relu 1, pool 2, conv 3, relu 4, pool 5, flatten 6, linear 7, relu 8, dropout 9
      assertEquals(
          List.of(
              "0.weight",
              "0.bias",
              "3.weight",
              "3.bias",
              "7.weight",
              "7.bias",
              "10.weight",
              "10.bias"),
          List.copyOf(model.namedParameters().keySet()));
      Map<String, NDArray> sd = model.stateDict();
      try {
        assertEquals(List.copyOf(model.namedParameters().keySet()), List.copyOf(sd.keySet()));
        assertArrayEquals(new int[] {32, 1, 3, 3}, sd.get("0.weight").shape());
        assertArrayEquals(new int[] {64, 32, 3, 3}, sd.get("3.weight").shape());
        assertArrayEquals(new int[] {128, 3136}, sd.get("7.weight").shape());
        assertArrayEquals(new int[] {10, 128}, sd.get("10.weight").shape());
        assertArrayEquals(new int[] {10}, sd.get("10.bias").shape());
      } finally {
        sd.values().forEach(NDArray::close);
      }
      assertInstanceOf(Conv2d.class, model.get(0));
      assertInstanceOf(ReLU.class, model.get(1));
      assertInstanceOf(MaxPool2d.class, model.get(2));
      assertInstanceOf(Flatten.class, model.get(6));
      assertInstanceOf(Linear.class, model.get(7));
      assertEquals(0.25, ((Dropout) model.get(9)).p());
      Conv2d c = (Conv2d) model.get(3);
      assertEquals(32, c.inChannels());
      assertEquals(64, c.outChannels());
      assertArrayEquals(new int[] {1, 1}, c.padding());
      assertArrayEquals(new int[] {1, 1}, c.stride());
      assertArrayEquals(new int[] {2, 2}, ((MaxPool2d) model.get(5)).stride());
    }
  }

  @Test
  void forwardGivesTheInferredShape() {
    try (Sequential model = NetworkSpec.build(CNN, MNIST, new Generator(1));
        MemoryScope s = MemoryScope.open();
        NoGrad ng = NoGrad.enter()) {
      model.eval();
      Tensor x = Tensor.of(NDArray.randn(new Generator(2), DType.FLOAT32, 3, 1, 28, 28));
      Tensor y = model.forward(x);
      assertArrayEquals(new int[] {3, 10}, y.shape());
      for (float v : y.data().toFloatArray()) {
        assertTrue(Float.isFinite(v));
      }
    }
    String spec =
        "conv(4,k=3,s=2,p=1), batchnorm, leakyrelu(0.2), avgpool(3,s=2), flatten,"
            + " layernorm, linear(5), gelu, dropout(0), linear(2), sigmoid";
    int[] in = {3, 32, 32};
    int[] expected = NetworkSpec.outputShape(spec, in);
    assertArrayEquals(new int[] {2}, expected);
    try (Sequential model = NetworkSpec.build(spec, in, new Generator(3));
        MemoryScope s = MemoryScope.open()) {
      Tensor x = Tensor.of(NDArray.randn(new Generator(4), DType.FLOAT32, 2, 3, 32, 32));
      // training mode, with gradients: backward reaches every parameter
      Tensor y = model.forward(x);
      assertArrayEquals(new int[] {2, 2}, y.shape());
      y.sum().backward();
      for (Map.Entry<String, Parameter> e : model.namedParameters().entrySet()) {
        assertTrue(e.getValue().grad() != null, e.getKey() + " got a gradient");
      }
    }
  }

  @Test
  void normalizationAndActivationLayersFollowTheShape() {
    String spec = "conv(4,k=3), batchnorm, leakyrelu(0.2), flatten, batchnorm, layernorm, tanh";
    try (Sequential model = NetworkSpec.build(spec, new int[] {2, 5, 5}, new Generator(0))) {
      assertEquals(4, ((BatchNorm2d) model.get(1)).numFeatures());
      assertEquals(0.2, ((LeakyReLU) model.get(2)).negativeSlope());
      // (4, 3, 3) flattened is 36 features
      assertEquals(36, ((BatchNorm1d) model.get(4)).numFeatures());
      assertArrayEquals(new int[] {36}, ((LayerNorm) model.get(5)).normalizedShape());
      assertInstanceOf(Tanh.class, model.get(6));
      assertEquals(
          List.of(
              "0.weight",
              "0.bias",
              "1.weight",
              "1.bias",
              "1.running_mean",
              "1.running_var",
              "1.num_batches_tracked",
              "4.weight",
              "4.bias",
              "4.running_mean",
              "4.running_var",
              "4.num_batches_tracked",
              "5.weight",
              "5.bias"),
          stateDictKeys(model));
    }
    try (Sequential model =
        NetworkSpec.build(
            "leakyrelu, sigmoid, gelu, layernorm", new int[] {3, 4}, new Generator(0))) {
      assertEquals(0.01, ((LeakyReLU) model.get(0)).negativeSlope());
      assertInstanceOf(Sigmoid.class, model.get(1));
      assertInstanceOf(GELU.class, model.get(2));
      assertArrayEquals(new int[] {4}, ((LayerNorm) model.get(3)).normalizedShape());
    }
  }

  private static List<String> stateDictKeys(Module m) {
    Map<String, NDArray> sd = m.stateDict();
    try {
      return List.copyOf(sd.keySet());
    } finally {
      sd.values().forEach(NDArray::close);
    }
  }

  @Test
  void mlpFromLayerSizes() {
    int[] layers = {784, 256, 128, 10};
    String spec = NetworkSpec.mlp(layers);
    assertEquals(MLP, spec);
    assertEquals("linear(3)", NetworkSpec.mlp(new int[] {5, 3}));
    assertArrayEquals(new int[] {784, 256, 128, 10}, layers);
    try (Sequential model = NetworkSpec.build(spec, new int[] {layers[0]}, new Generator(0));
        MemoryScope s = MemoryScope.open();
        NoGrad ng = NoGrad.enter()) {
      assertEquals(784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10, model.parameterCount());
      assertEquals(235_146, model.parameterCount());
      assertEquals(5, model.size());
      assertInstanceOf(ReLU.class, model.get(3));
      assertInstanceOf(Linear.class, model.get(-1)); // nothing after the last layer
      assertEquals(
          List.of("0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"),
          List.copyOf(model.namedParameters().keySet()));
      Tensor y = model.forward(Tensor.of(NDArray.randn(new Generator(1), DType.FLOAT32, 7, 784)));
      assertArrayEquals(new int[] {7, 10}, y.shape());
    }
  }

  @Test
  void mlpRejectsTooFewOrNonPositiveSizes() {
    assertMentions(
        assertThrows(IllegalArgumentException.class, () -> NetworkSpec.mlp(new int[] {784}))
            .getMessage(),
        "at least 2",
        "[784]");
    assertThrows(IllegalArgumentException.class, () -> NetworkSpec.mlp(null));
    assertMentions(
        assertThrows(IllegalArgumentException.class, () -> NetworkSpec.mlp(new int[] {784, 0, 10}))
            .getMessage(),
        "positive",
        "index 1");
    assertThrows(IllegalArgumentException.class, () -> NetworkSpec.mlp(new int[] {-1, 10}));
  }

  @Test
  void whitespaceAndCaseAreIgnored() {
    String loose =
        "  CONV( 32 , K = 3 , P = 1 ) ,ReLU,MaxPool( 2 )\n, Conv(64,k=3,p=1),relu , maxpool(2),"
            + "\tFLATTEN , Linear (128), relu(), Dropout( 0.25 ), LINEAR(10)  ";
    assertArrayEquals(NetworkSpec.outputShape(CNN, MNIST), NetworkSpec.outputShape(loose, MNIST));
    try (Sequential a = NetworkSpec.build(CNN, MNIST, new Generator(5));
        Sequential b = NetworkSpec.build(loose, MNIST, new Generator(5))) {
      assertEquals(a.toString(), b.toString());
      Map<String, Parameter> pa = a.namedParameters();
      Map<String, Parameter> pb = b.namedParameters();
      assertEquals(pa.keySet(), pb.keySet());
      // the same seed gives the same weights: the same layers were built in the same order
      for (String k : pa.keySet()) {
        assertArrayEquals(
            pa.get(k).data().toFloatArray(), pb.get(k).data().toFloatArray(), k + " matches");
      }
    }
  }

  @Test
  void unknownLayersAreNamed() {
    String m = buildError("linear(10), softmaxx", 4);
    assertMentions(m, "layer 2", "'softmaxx'", "column 13", "unknown layer", "linear(OUT)");
    assertMentions(buildError("Dense(10)", 4), "'dense'", "'Dense(10)'", "column 1");
  }

  @Test
  void badOrMissingArgumentsAreNamed() {
    assertMentions(buildError("conv(32)", 1, 8, 8), "'conv(32)'", "k=", "conv(OUT, k=K");
    assertMentions(buildError("conv(k=3)", 1, 8, 8), "'conv(k=3)'", "missing", "conv(OUT");
    assertMentions(buildError("linear()", 4), "'linear()'", "missing", "linear(OUT)");
    assertMentions(buildError("relu, linear", 4), "layer 2", "'linear'", "missing");
    assertMentions(buildError("linear(ten)", 4), "'linear(ten)'", "'ten'", "integer");
    assertMentions(buildError("linear(3.5)", 4), "'3.5'", "integer");
    assertMentions(buildError("linear(10, 20)", 4), "'20'", "too many", "column 12");
    assertMentions(buildError("relu(2)", 4), "'relu(2)'", "no arguments");
    assertMentions(buildError("conv(8,k=3,q=1)", 1, 8, 8), "'q='", "unknown argument");
    assertMentions(buildError("conv(8,k=3,k=5)", 1, 8, 8), "'k='", "twice");
    assertMentions(buildError("maxpool(2, p=1)", 1, 8, 8), "'p='", "maxpool(K[, s=S])");
    assertMentions(buildError("dropout(half)", 4), "'half'", "number");
    assertMentions(buildError("leakyrelu(1e999)", 4), "'1e999'", "number");
    assertMentions(buildError("linear(99999999999)", 4), "'99999999999'", "integer");
  }

  @Test
  void nonPositiveSizesAreRejected() {
    assertMentions(buildError("linear(0)", 4), "'linear(0)'", "'0'", "positive");
    assertMentions(buildError("conv(-8,k=3)", 1, 8, 8), "'-8'", "positive");
    assertMentions(buildError("conv(8,k=0)", 1, 8, 8), "kernel size k", "'0'", "positive");
    assertMentions(buildError("conv(8,k=3,s=0)", 1, 8, 8), "stride s", "positive");
    assertMentions(buildError("conv(8,k=3,p=-1)", 1, 8, 8), "padding p", "'-1'", "non-negative");
    assertMentions(buildError("maxpool(0)", 1, 8, 8), "'maxpool(0)'", "positive");
    assertMentions(buildError("avgpool(2,s=0)", 1, 8, 8), "'avgpool(2,s=0)'", "stride s");
  }

  @Test
  void dropoutMustBeInZeroToOne() {
    assertMentions(buildError("dropout(1)", 4), "'dropout(1)'", "[0, 1)", "'1'");
    assertMentions(buildError("dropout(1.5)", 4), "'1.5'", "[0, 1)");
    assertMentions(buildError("dropout(-0.1)", 4), "'-0.1'", "[0, 1)");
    assertMentions(buildError("dropout", 4), "'dropout'", "missing", "dropout(P)");
    assertArrayEquals(
        new int[] {4}, NetworkSpec.outputShape("dropout(0), dropout(.999)", new int[] {4}));
  }

  @Test
  void shapesThatBecomeEmptyAreRejected() {
    String m = buildError("relu, conv(8,k=5)", 1, 4, 4);
    assertMentions(m, "layer 2", "'conv(8,k=5)'", "kernel 5", "(1, 4, 4)", "empty");
    // padding can make it fit: 4 + 2 - 5 = 1 >= 0
    assertArrayEquals(
        new int[] {8, 2, 2}, NetworkSpec.outputShape("conv(8,k=5,p=1)", new int[] {1, 4, 4}));
    assertMentions(buildError("conv(8,k=3), maxpool(3)", 1, 4, 4), "'maxpool(3)'", "(8, 2, 2)");
    // one dim too small is enough
    assertMentions(buildError("avgpool(5)", 1, 4, 16), "'avgpool(5)'", "empty");
  }

  @Test
  void layersOnTheWrongRankAreRejected() {
    String m = buildError("conv(8,k=3), relu, linear(10)", 1, 8, 8);
    assertMentions(m, "layer 3", "'linear(10)'", "(8, 6, 6)", "flatten");
    assertMentions(buildError("conv(8,k=3)", 784), "'conv(8,k=3)'", "(C, H, W)", "(784)");
    assertMentions(buildError("flatten, maxpool(2)", 1, 8, 8), "'maxpool(2)'", "(64)");
    assertMentions(buildError("batchnorm", 1, 2, 3, 4), "'batchnorm'", "(1, 2, 3, 4)");
  }

  @Test
  void emptyAndMalformedSpecsAreRejected() {
    for (String empty : new String[] {"", "   ", "\n\t", null}) {
      assertMentions(buildError(empty, 4), "empty");
    }
    assertMentions(buildError("relu,", 4), "column 6", "expected layer 2", "end of the spec");
    assertMentions(buildError("relu,,tanh", 4), "column 6", "expected layer 2", "','");
    assertMentions(buildError("linear(10", 4), "column 10", "')'", "end of the spec");
    assertMentions(buildError("linear(10,)", 4), "column 11", "argument", "')'");
    assertMentions(buildError("relu tanh", 4), "column 6", "','", "'tanh'");
    assertMentions(buildError("linear(10))", 4), "column 11", "')'");
    assertMentions(buildError("relu; tanh", 4), "column 5", "';");
    assertMentions(buildError("(3)", 4), "column 1", "layer name");
    assertMentions(buildError("conv(8, 3=k)", 1, 8, 8), "'3=k)'", "argument name");
    assertMentions(buildError("conv(8, k=)", 1, 8, 8), "'k='", "value");
  }

  @Test
  void invalidInputShapesAndGeneratorsAreRejected() {
    assertMentions(buildError("relu", new int[0]), "inputShape");
    assertMentions(buildError("relu", 1, 0, 28), "inputShape", "[1, 0, 28]");
    assertThrows(
        IllegalArgumentException.class, () -> NetworkSpec.outputShape("relu", (int[]) null));
    assertThrows(NullPointerException.class, () -> NetworkSpec.build("relu", new int[] {4}, null));
  }

  @Test
  void stateDictShapesAreWhatBuildRegistersWithoutAllocating() {
    // By hand: linear(3) on (4): weight (3, 4) = 48 bytes, bias (3) = 12; linear(2) on (3): weight
    // (2, 3) = 24, bias (2) = 8; relu (layer "1") has no state.
    assertEquals(
        List.of(
            new Safetensors.TensorInfo("0.weight", DType.FLOAT32, new int[] {3, 4}, 48),
            new Safetensors.TensorInfo("0.bias", DType.FLOAT32, new int[] {3}, 12),
            new Safetensors.TensorInfo("2.weight", DType.FLOAT32, new int[] {2, 3}, 24),
            new Safetensors.TensorInfo("2.bias", DType.FLOAT32, new int[] {2}, 8)),
        NetworkSpec.stateDictShapes("linear(3), relu, linear(2)", new int[] {4}));
    // A layer of 2e9 outputs on 784 inputs is described (6.27e12 bytes), not allocated.
    assertEquals(
        2_000_000_000L * 784 * 4,
        NetworkSpec.stateDictShapes("linear(2000000000)", new int[] {784}).get(0).bytes());

    // Every layer kind with state, against what build actually registers.
    String spec =
        "conv(4,k=3,p=1), batchnorm, relu, maxpool(2), layernorm, avgpool(2, s=1), flatten,"
            + " linear(6), batchnorm, gelu, dropout(0.1), layernorm, linear(3)";
    int[] in = {2, 8, 8};
    List<Safetensors.TensorInfo> expected = new java.util.ArrayList<>();
    try (Sequential net = NetworkSpec.build(spec, in, new Generator(0))) {
      Map<String, NDArray> state = net.stateDict();
      try {
        state.forEach(
            (k, v) ->
                expected.add(
                    new Safetensors.TensorInfo(
                        k, v.dtype(), v.shape(), v.numel() * v.dtype().byteSize())));
      } finally {
        state.values().forEach(NDArray::close);
      }
    }
    assertEquals(expected, NetworkSpec.stateDictShapes(spec, in));
    assertEquals(
        buildError("linear(3)", 2, 2, 2),
        assertThrows(
                IllegalArgumentException.class,
                () -> NetworkSpec.stateDictShapes("linear(3)", new int[] {2, 2, 2}))
            .getMessage());
  }
}
