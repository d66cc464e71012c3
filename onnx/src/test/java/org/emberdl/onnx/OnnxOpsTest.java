package org.emberdl.onnx;

import static org.emberdl.onnx.OnnxImportSafetyTest.assertMentions;
import static org.emberdl.onnx.TestModels.dims;
import static org.emberdl.onnx.TestModels.floats;
import static org.emberdl.onnx.TestModels.graph;
import static org.emberdl.onnx.TestModels.intAttr;
import static org.emberdl.onnx.TestModels.intsAttr;
import static org.emberdl.onnx.TestModels.longs;
import static org.emberdl.onnx.TestModels.model;
import static org.emberdl.onnx.TestModels.names;
import static org.emberdl.onnx.TestModels.node;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;
import org.emberdl.autograd.NoGrad;
import org.emberdl.autograd.Tensor;
import org.emberdl.nn.Dropout;
import org.emberdl.onnx.proto.GraphProto;
import org.emberdl.onnx.proto.ModelProto;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;

/**
 * Single ops on small inputs, with the values worked out by hand in the comments: the attribute and
 * opset variants the PyTorch fixtures do not reach.
 */
class OnnxOpsTest {

  /** Runs {@code m} (eval mode, no grad) on {@code inputs} in the graph's input order. */
  static NDArray run(ModelProto m, NDArray... inputs) throws Exception {
    try (OnnxModule module = Onnx.load(m.toByteArray());
        NoGrad ng = NoGrad.enter()) {
      Map<String, Tensor> in = new LinkedHashMap<>();
      for (int i = 0; i < inputs.length; i++) {
        in.put(module.inputNames().get(i), Tensor.of(inputs[i].share()));
      }
      Map<String, Tensor> out = module.forward(in);
      in.values().forEach(Tensor::close);
      Tensor first = out.values().iterator().next();
      NDArray result = first.data().copy();
      out.values().forEach(Tensor::close);
      return result;
    }
  }

  @Test
  void gemmTransposesScalesAndBroadcastsC() throws Exception {
    // A^T = [1, 2]; B^T = [[1, 0, 1], [0, 1, 1]]; A^T B^T = [1, 2, 3]; * alpha 2 = [2, 4, 6];
    // + beta 0.5 * C [10] = [7, 9, 11]
    GraphProto.Builder g =
        graph(
                names("a"),
                names("y"),
                node("Gemm", "g", names("a", "b", "c"), names("y"))
                    .addAttribute(intAttr("transA", 1))
                    .addAttribute(intAttr("transB", 1))
                    .addAttribute(TestModels.floatAttr("alpha", 2))
                    .addAttribute(TestModels.floatAttr("beta", 0.5f)))
            .addInitializer(floats("b", dims(3, 2), 1, 0, 0, 1, 1, 1))
            .addInitializer(floats("c", dims(1), 10));
    try (MemoryScope s = MemoryScope.open()) {
      NDArray y = run(model(g), NDArray.of(new float[] {1, 2}, 2, 1));
      assertArrayEquals(new int[] {1, 3}, y.shape());
      assertArrayEquals(new float[] {7, 9, 11}, y.toFloatArray());
    }
  }

  @Test
  void reshapeCopiesZerosAndInfersMinusOne() throws Exception {
    GraphProto.Builder g =
        graph(names("x"), names("y"), node("Reshape", "r", names("x", "s"), names("y")))
            .addInitializer(longs("s", dims(2), 0, -1));
    try (MemoryScope s = MemoryScope.open()) {
      NDArray y = run(model(g), NDArray.zeros(org.emberdl.tensor.DType.FLOAT32, 2, 3, 2));
      assertArrayEquals(new int[] {2, 6}, y.shape());
    }
    GraphProto.Builder twice =
        graph(names("x"), names("y"), node("Reshape", "r2", names("x", "s"), names("y")))
            .addInitializer(longs("s", dims(2), -1, -1));
    try (MemoryScope s = MemoryScope.open()) {
      OnnxExecutionException e =
          assertThrows(
              OnnxExecutionException.class,
              () -> run(model(twice), NDArray.zeros(org.emberdl.tensor.DType.FLOAT32, 4)));
      assertMentions(e, "node 'r2' (Reshape)", "more than one -1");
    }
  }

  @Test
  void gatherTakesNegativeIndicesOfAnyShapeAndRefusesOutOfRange() throws Exception {
    // rows -1 and 0 of [[1, 2], [3, 4], [5, 6]], indices shaped (1, 2): [[[5, 6], [1, 2]]]
    GraphProto.Builder g =
        graph(names("x"), names("y"), node("Gather", "take", names("x", "i"), names("y")))
            .addInitializer(longs("i", dims(1, 2), -1, 0));
    try (MemoryScope s = MemoryScope.open()) {
      NDArray y = run(model(g), NDArray.of(new float[] {1, 2, 3, 4, 5, 6}, 3, 2));
      assertArrayEquals(new int[] {1, 2, 2}, y.shape());
      assertArrayEquals(new float[] {5, 6, 1, 2}, y.toFloatArray());
    }
    GraphProto.Builder bad =
        graph(names("x"), names("y"), node("Gather", "take", names("x", "i"), names("y")))
            .addInitializer(longs("i", dims(1), 3));
    try (MemoryScope s = MemoryScope.open()) {
      OnnxExecutionException e =
          assertThrows(
              OnnxExecutionException.class,
              () -> run(model(bad), NDArray.of(new float[] {1, 2, 3, 4, 5, 6}, 3, 2)));
      assertMentions(e, "node 'take' (Gather)", "index 3 is out of range for axis 0 of size 3");
    }
  }

  @Test
  void sliceClampsBoundsAndStepsBothWays() throws Exception {
    // [0, 1, 2, 3, 4][-100 : max : 2] = [0, 2, 4]; [-1 : -max : -2] = [4, 2, 0]
    for (long[] spec :
        new long[][] {{-100, Long.MAX_VALUE, 2, 0, 2, 4}, {-1, -Long.MAX_VALUE, -2, 4, 2, 0}}) {
      GraphProto.Builder g =
          graph(
                  names("x"),
                  names("y"),
                  node("Slice", "sl", names("x", "st", "en", "ax", "sp"), names("y")))
              .addInitializer(longs("st", dims(1), spec[0]))
              .addInitializer(longs("en", dims(1), spec[1]))
              .addInitializer(longs("ax", dims(1), 1))
              .addInitializer(longs("sp", dims(1), spec[2]));
      try (MemoryScope s = MemoryScope.open()) {
        NDArray y = run(model(g), NDArray.of(new float[] {0, 1, 2, 3, 4}, 1, 5));
        assertArrayEquals(
            new float[] {spec[3], spec[4], spec[5]},
            y.toFloatArray(),
            java.util.Arrays.toString(spec));
      }
    }
  }

  @Test
  void integerDivisionTruncatesAndCastTruncates() throws Exception {
    GraphProto.Builder div =
        graph(names(), names("y"), node("Div", "d", names("a", "b"), names("y")))
            .addInitializer(longs("a", dims(2), 7, -7))
            .addInitializer(longs("b", dims(2), 2, 2));
    try (MemoryScope s = MemoryScope.open()) {
      assertArrayEquals(new long[] {3, -3}, run(model(div)).toLongArray());
    }
    GraphProto.Builder cast =
        graph(
            names("x"),
            names("y"),
            node("Cast", "c", names("x"), names("y")).addAttribute(intAttr("to", 7)));
    try (MemoryScope s = MemoryScope.open()) {
      assertArrayEquals(
          new long[] {1, -1},
          run(model(cast), NDArray.of(new float[] {1.7f, -1.7f})).toLongArray());
    }
  }

  @Test
  void softmaxBeforeOpset13FlattensAtTheAxis() throws Exception {
    // x = [[[0, ln 3], [0, 0]]]; opset 11, axis 1: one softmax over all four values,
    // exp = [1, 3, 1, 1] / 6; opset 13, axis 1: per column, [0, 0] -> [1/2, 1/2] and
    // [ln 3, 0] -> [3/4, 1/4]
    float ln3 = (float) Math.log(3);
    for (int opset : new int[] {11, 13}) {
      GraphProto.Builder g =
          graph(
              names("x"),
              names("y"),
              node("Softmax", "sm", names("x"), names("y")).addAttribute(intAttr("axis", 1)));
      try (MemoryScope s = MemoryScope.open()) {
        float[] y =
            run(model(opset, g), NDArray.of(new float[] {0, ln3, 0, 0}, 1, 2, 2)).toFloatArray();
        float[] want =
            opset == 11
                ? new float[] {1 / 6f, 1 / 2f, 1 / 6f, 1 / 6f}
                : new float[] {0.5f, 0.75f, 0.5f, 0.25f};
        assertArrayEquals(want, y, 1e-6f, "opset " + opset);
      }
    }
  }

  @Test
  void reduceMeanTakesAxesFromTheInputAtOpset18() throws Exception {
    // mean over axis 1 of [[1, 3], [5, 7]] = [2, 6]
    GraphProto.Builder g =
        graph(
                names("x"),
                names("y"),
                node("ReduceMean", "rm", names("x", "ax"), names("y"))
                    .addAttribute(intAttr("keepdims", 0)))
            .addInitializer(longs("ax", dims(1), 1));
    try (MemoryScope s = MemoryScope.open()) {
      NDArray y = run(model(18, g), NDArray.of(new float[] {1, 3, 5, 7}, 2, 2));
      assertArrayEquals(new int[] {2}, y.shape());
      assertArrayEquals(new float[] {2, 6}, y.toFloatArray());
    }
    // before opset 18 the axes are an attribute
    GraphProto.Builder attr =
        graph(
            names("x"),
            names("y"),
            node("ReduceMean", "rm", names("x"), names("y")).addAttribute(intsAttr("axes", 0)));
    try (MemoryScope s = MemoryScope.open()) {
      NDArray y = run(model(13, attr), NDArray.of(new float[] {1, 3, 5, 7}, 2, 2));
      assertArrayEquals(new int[] {1, 2}, y.shape());
      assertArrayEquals(new float[] {3, 5}, y.toFloatArray());
    }
  }

  @Test
  void squeezeUnsqueezeAndShapeAcrossOpsets() throws Exception {
    GraphProto.Builder g11 =
        graph(
            names("x"),
            names("y"),
            node("Squeeze", "sq", names("x"), names("s")).addAttribute(intsAttr("axes", 0)),
            node("Unsqueeze", "un", names("s"), names("y")).addAttribute(intsAttr("axes", 0, -1)));
    try (MemoryScope s = MemoryScope.open()) {
      assertArrayEquals(
          new int[] {1, 2, 1}, run(model(11, g11), NDArray.of(new float[] {4, 5}, 1, 2)).shape());
    }
    GraphProto.Builder g13 =
        graph(
                names("x"),
                names("y"),
                node("Unsqueeze", "un", names("x", "ax"), names("u")),
                node("Shape", "sh", names("u"), names("y"))
                    .addAttribute(intAttr("start", 1))
                    .addAttribute(intAttr("end", -1)))
            .addInitializer(longs("ax", dims(2), 0, -1));
    try (MemoryScope s = MemoryScope.open()) {
      // (3, 4) -> (1, 3, 4, 1); dims 1 .. -1 = [3, 4]
      NDArray y = run(model(15, g13), NDArray.zeros(org.emberdl.tensor.DType.FLOAT32, 3, 4));
      assertArrayEquals(new long[] {3, 4}, y.toLongArray());
    }
  }

  @Test
  void geluTanhApproximation() throws Exception {
    // 0.5 (1 + tanh(sqrt(2/pi) (1 + 0.044715))) = 0.8411919906...
    GraphProto.Builder g =
        graph(
            names("x"),
            names("y"),
            node("Gelu", "ge", names("x"), names("y"))
                .addAttribute(TestModels.stringAttr("approximate", "tanh")));
    try (MemoryScope s = MemoryScope.open()) {
      assertEquals(
          0.8411919906f, run(model(20, g), NDArray.of(new float[] {1})).toFloatArray()[0], 1e-6f);
    }
  }

  @Test
  void whereNeedsABoolCondition() throws Exception {
    GraphProto.Builder g =
        graph(names("c", "a"), names("y"), node("Where", "pick", names("c", "a", "a"), names("y")));
    try (MemoryScope s = MemoryScope.open()) {
      OnnxExecutionException e =
          assertThrows(
              OnnxExecutionException.class,
              () -> run(model(g), NDArray.of(new float[] {1}), NDArray.of(new float[] {2})));
      assertMentions(e, "node 'pick' (Where)", "must be a bool tensor, got float32");
    }
  }

  @Test
  void sizesTheFileChoosesAreBounded() throws Exception {
    GraphProto.Builder pad =
        graph(names("x"), names("y"), node("Pad", "grow", names("x", "p"), names("y")))
            .addInitializer(longs("p", dims(4), 0, 0, 2_000_000, 2_000_000));
    try (MemoryScope s = MemoryScope.open()) {
      assertMentions(
          assertThrows(
              OnnxExecutionException.class,
              () -> run(model(pad), NDArray.zeros(org.emberdl.tensor.DType.FLOAT32, 1, 1))),
          "node 'grow' (Pad)",
          "at most 16 times the input");
    }
    GraphProto.Builder fill =
        graph(names(), names("y"), node("ConstantOfShape", "fill", names("s"), names("y")))
            .addInitializer(longs("s", dims(2), 1 << 20, 1 << 20));
    try (MemoryScope s = MemoryScope.open()) {
      assertMentions(
          assertThrows(OnnxExecutionException.class, () -> run(model(fill))),
          "node 'fill' (ConstantOfShape)",
          "more than 16777216 elements");
    }
    GraphProto.Builder conv =
        graph(
                names("x"),
                names("y"),
                node("Conv", "wide", names("x", "w"), names("y"))
                    .addAttribute(intsAttr("pads", 100, 100, 100, 100)))
            .addInitializer(floats("w", dims(1, 1, 1, 1), 1));
    try (MemoryScope s = MemoryScope.open()) {
      assertMentions(
          assertThrows(
              OnnxExecutionException.class,
              () -> run(model(conv), NDArray.zeros(org.emberdl.tensor.DType.FLOAT32, 1, 1, 2, 2))),
          "node 'wide' (Conv)",
          "exceed the kernel extent 1");
    }
  }

  /** Dropout(x, ratio 0.5) -> d; BatchNormalization(d) over one channel -> y. */
  private static ModelProto dropoutAndBatchNorm(boolean dropout) {
    GraphProto.Builder g =
        graph(
                names("x"),
                names("y"),
                node(
                        "BatchNormalization",
                        "bn",
                        names(dropout ? "d" : "x", "scale", "bias", "mean", "var"),
                        names("y"))
                    .addAttribute(TestModels.floatAttr("epsilon", 0))
                    .addAttribute(TestModels.floatAttr("momentum", 0.9f)))
            .addInitializer(floats("scale", dims(1), 1))
            .addInitializer(floats("bias", dims(1), 0))
            .addInitializer(floats("mean", dims(1), 0))
            .addInitializer(floats("var", dims(1), 1));
    if (dropout) {
      g.addNode(0, node("Dropout", "drop", names("x", "ratio"), names("d")))
          .addInitializer(floats("ratio", dims(), 0.5f));
    }
    return model(g);
  }

  @Test
  void evalModeIsOnnxInference() throws Exception {
    try (MemoryScope s = MemoryScope.open()) {
      // dropout is the identity, (x - 0) / sqrt(1 + 0) * 1 + 0 = x
      NDArray y = run(dropoutAndBatchNorm(true), NDArray.of(new float[] {1, 2, 3, 4}, 4, 1));
      assertArrayEquals(new float[] {1, 2, 3, 4}, y.toFloatArray());
    }
  }

  @Test
  void trainingModeBatchNormUsesBatchStatisticsAndMovesTheRunningOnes() throws Exception {
    try (OnnxModule m = Onnx.load(dropoutAndBatchNorm(false).toByteArray());
        NoGrad ng = NoGrad.enter();
        MemoryScope s = MemoryScope.open()) {
      assertEquals(java.util.Set.of("mean", "var"), m.namedBuffers().keySet());
      assertEquals(java.util.Set.of("scale", "bias"), m.namedParameters().keySet());
      m.train();
      Tensor y = m.forward(Tensor.of(NDArray.of(new float[] {1, 2, 3, 4}, 4, 1)));
      // batch mean 2.5, biased variance 1.25: (x - 2.5) / sqrt(1.25)
      double r = Math.sqrt(1.25);
      assertArrayEquals(
          new float[] {
            (float) (-1.5 / r), (float) (-0.5 / r), (float) (0.5 / r), (float) (1.5 / r)
          },
          y.data().toFloatArray(),
          1e-6f);
      // running = 0.9 running + 0.1 batch (unbiased variance 5/3): mean 0.25, var 1.0666...
      assertEquals(0.25f, m.namedBuffers().get("mean").toFloatArray()[0], 1e-7f);
      assertEquals(0.9f + 0.1f * 5 / 3, m.namedBuffers().get("var").toFloatArray()[0], 1e-6f);
    }
  }

  @Test
  void trainingModeDropoutDropsThroughASeedableDropoutChild() throws Exception {
    try (OnnxModule m = Onnx.load(dropoutAndBatchNorm(true).toByteArray());
        NoGrad ng = NoGrad.enter();
        MemoryScope s = MemoryScope.open()) {
      Dropout drop =
          (Dropout)
              m.children().values().stream()
                  .filter(c -> c instanceof Dropout)
                  .findFirst()
                  .orElseThrow();
      assertEquals(0.5, drop.p());
      float[] ones = new float[4000];
      java.util.Arrays.fill(ones, 1);
      m.train();
      drop.setGenerator(new org.emberdl.tensor.Generator(5));
      // BatchNorm runs in training mode too; its input is what Dropout let through
      float[] first = m.forward(Tensor.of(NDArray.of(ones, 4000, 1))).data().toFloatArray();
      drop.setGenerator(new org.emberdl.tensor.Generator(5));
      float[] again = m.forward(Tensor.of(NDArray.of(ones, 4000, 1))).data().toFloatArray();
      assertArrayEquals(first, again, "the same generator draws the same masks");
      // kept values (2) and dropped ones (0) normalize to two values, about half each
      int low = 0;
      for (float f : first) {
        low += f < 0 ? 1 : 0;
      }
      assertTrue(low > 1800 && low < 2200, "dropped " + low + " of 4000");
    }
  }

  @Test
  void clipMaxMinSplitExpand() throws Exception {
    GraphProto.Builder g =
        graph(
                names("x"),
                names("y"),
                node("Clip", "clip", names("x", "lo", ""), names("c")),
                node("Max", "max", names("c", "x", "half"), names("m")),
                node("Split", "split", names("m", "sizes"), names("p", "q"))
                    .addAttribute(intAttr("axis", 1)),
                node("Expand", "grow", names("q", "shape"), names("e")),
                node("Min", "min", names("e", "p"), names("y")))
            .addInitializer(floats("lo", dims(), -1))
            .addInitializer(floats("half", dims(1), 0.5f))
            .addInitializer(longs("sizes", dims(2), 1, 2))
            .addInitializer(longs("shape", dims(2), 2, 1));
    // x = [[-3, 0, 2]]: clip below -1 -> [-1, 0, 2]; max with x and 0.5 -> [0.5, 0.5, 2];
    // split 1 | 2 -> p = [[0.5]], q = [[0.5, 2]]; expand q to (2, 2); min with p (1, 1)
    // -> [[0.5, 0.5], [0.5, 0.5]]
    try (MemoryScope s = MemoryScope.open()) {
      NDArray y = run(model(g), NDArray.of(new float[] {-3, 0, 2}, 1, 3));
      assertArrayEquals(new int[] {2, 2}, y.shape());
      assertArrayEquals(new float[] {0.5f, 0.5f, 0.5f, 0.5f}, y.toFloatArray());
    }
    GraphProto.Builder huge =
        graph(names("x"), names("y"), node("Expand", "big", names("x", "shape"), names("y")))
            .addInitializer(longs("shape", dims(2), 1 << 16, 1 << 16));
    try (MemoryScope s = MemoryScope.open()) {
      assertMentions(
          assertThrows(
              OnnxExecutionException.class,
              () -> run(model(huge), NDArray.of(new float[] {1}, 1, 1))),
          "node 'big' (Expand)",
          "more than 16777216 elements");
    }
  }

  @Test
  void declaredInputAndOutputShapesAreReported() throws Exception {
    try (OnnxModule m = Onnx.load(OnnxFixtureTest.fixture("resnet.onnx"))) {
      assertArrayEquals(new long[] {-1, 3, 10, 10}, m.inputShape("input"));
      assertEquals(org.emberdl.tensor.DType.FLOAT32, m.inputType("input"));
      assertArrayEquals(new long[] {-1, 5}, m.outputShape("output"));
      assertMentions(
          assertThrows(IllegalArgumentException.class, () -> m.inputShape("x")),
          "no input 'x'",
          "[input]");
    }
  }
}
