package org.emberdl.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.io.Safetensors;
import org.junit.jupiter.api.Test;

/** The attention tokens of NetworkSpec: patches, linear per step, clsToken, posEmbedding, ... */
class NetworkSpecAttentionTest {
  static final String VIT =
      "patches(7), linear(64), clsToken, posEmbedding, transformer(64, 4, 128, layers=2, prenorm,"
          + " gelu), clsPool, linear(10)";
  static final int[] IMAGE = {1, 28, 28};

  private static String buildError(String spec, int... shape) {
    return assertThrows(
            IllegalArgumentException.class,
            () -> NetworkSpec.build(spec, shape, new Generator(0)).close())
        .getMessage();
  }

  @Test
  void shapesFollowAPatchTransformer() {
    // 28 / 7 = 4 patches a side: 16 patches of 1 * 7 * 7 = 49 pixels; + the CLS token = 17 steps
    assertArrayEquals(new int[] {16, 49}, NetworkSpec.outputShape("patches(7)", IMAGE));
    assertArrayEquals(new int[] {16, 64}, NetworkSpec.outputShape("patches(7), linear(64)", IMAGE));
    assertArrayEquals(
        new int[] {17, 64},
        NetworkSpec.outputShape("patches(7), linear(64), clsToken, posEmbedding", IMAGE));
    assertArrayEquals(new int[] {10}, NetworkSpec.outputShape(VIT, IMAGE));
    assertArrayEquals(
        new int[] {6, 8},
        NetworkSpec.outputShape("attention(2), posEmbedding(sinusoidal)", new int[] {6, 8}));
  }

  @Test
  void stateDictHasPytorchKeysAndMatchesWhatBuildRegisters() {
    List<Safetensors.TensorInfo> shapes = NetworkSpec.stateDictShapes(VIT, IMAGE);
    Map<String, int[]> byKey = new java.util.LinkedHashMap<>();
    shapes.forEach(t -> byKey.put(t.name(), t.shape()));
    // by hand: linear(64) on 49 pixels, a (1, 1, 64) token, 17 positions, 2 layers, final norm
    assertArrayEquals(new int[] {64, 49}, byKey.get("1.weight"));
    assertArrayEquals(new int[] {1, 1, 64}, byKey.get("2.cls_token"));
    assertArrayEquals(new int[] {17, 64}, byKey.get("3.weight"));
    assertArrayEquals(new int[] {192, 64}, byKey.get("4.layers.0.self_attn.in_proj_weight"));
    assertArrayEquals(new int[] {128, 64}, byKey.get("4.layers.1.linear1.weight"));
    assertArrayEquals(new int[] {64, 128}, byKey.get("4.layers.1.linear2.weight"));
    assertArrayEquals(new int[] {64}, byKey.get("4.norm.bias"));
    assertArrayEquals(new int[] {10, 64}, byKey.get("6.weight"));
    assertEquals(2 + 1 + 1 + 2 * 12 + 2 + 2, shapes.size());
    for (String s :
        List.of(
            VIT,
            "attention(2), posEmbedding(sinusoidal), transformer(8, 2, 16, dropout=0), meanPool",
            "clsToken, posEmbedding(learned), transformer(8, 4, 4, layers=3), clsPool")) {
      int[] in = s.equals(VIT) ? IMAGE : new int[] {5, 8};
      List<Safetensors.TensorInfo> built = new ArrayList<>();
      try (Sequential net = NetworkSpec.build(s, in, new Generator(0))) {
        Map<String, NDArray> state = net.stateDict();
        state.forEach(
            (k, v) ->
                built.add(
                    new Safetensors.TensorInfo(
                        k, v.dtype(), v.shape(), v.numel() * v.dtype().byteSize())));
        state.values().forEach(NDArray::close);
      }
      assertEquals(built, NetworkSpec.stateDictShapes(s, in), s);
    }
  }

  @Test
  void learnedPositionsDrawFromTheGivenStd() {
    try (Sequential a =
            NetworkSpec.build("posEmbedding(std=0.02)", new int[] {50, 40}, new Generator(3));
        Sequential b = NetworkSpec.build("posEmbedding", new int[] {50, 40}, new Generator(3))) {
      double[] small = a.namedParameters().get("0.weight").data().toDoubleArray();
      double[] unit = b.namedParameters().get("0.weight").data().toDoubleArray();
      // 2000 draws: the sample std is within a few percent of 0.02 and 1
      assertEquals(0.02, std(small), 0.002);
      assertEquals(1.0, std(unit), 0.1);
    }
  }

  private static double std(double[] v) {
    double s = 0;
    double q = 0;
    for (double x : v) {
      s += x;
      q += x * x;
    }
    double m = s / v.length;
    return Math.sqrt(q / v.length - m * m);
  }

  @Test
  void aBuiltPatchTransformerTrainsEndToEnd() {
    try (Sequential net = NetworkSpec.build(VIT, IMAGE, new Generator(1));
        MemoryScope scope = MemoryScope.open()) {
      Tensor x = Tensor.of(NDArray.uniform(new Generator(2), DType.FLOAT32, 0, 1, 3, 1, 28, 28));
      Tensor y = net.forward(x);
      assertArrayEquals(new int[] {3, 10}, y.shape());
      y.sum().backward();
      for (Map.Entry<String, Parameter> e : net.namedParameters().entrySet()) {
        assertTrue(e.getValue().gradOrNull() != null, "gradient of " + e.getKey());
      }
      // the CLS token is read by clsPool, so it learns
      double g = 0;
      for (double v : net.namedParameters().get("2.cls_token").grad().toDoubleArray()) {
        g += Math.abs(v);
      }
      assertTrue(g > 0);
    }
  }

  @Test
  void errorsNameTheLayerAndWhatWasExpected() {
    assertEquals(
        "network spec, layer 2 'transformer(32, 4, 64)' at column 13: transformer with D = 32"
            + " needs (T, 32) inputs but the shape here is (16, 64) (put linear(32) before it)",
        buildError("linear(64), transformer(32, 4, 64)", 16, 10));
    assertEquals(
        "network spec, layer 1 'attention(3)' at column 1: 3 heads must divide the 8 features"
            + " (each head gets D / HEADS of them)",
        buildError("attention(3)", 5, 8));
    assertEquals(
        "network spec, layer 1 'patches(5)' at column 1: patches(5) needs an image whose height"
            + " and width are multiples of 5, the shape here is (1, 28, 28)",
        buildError("patches(5)", IMAGE));
    String both = buildError("posEmbedding(learned, sinusoidal)", 5, 8);
    assertTrue(both.contains("give either 'learned' or 'sinusoidal'"), both);
    assertTrue(both.contains("posEmbedding[(learned[, std=S]|sinusoidal)]"), both);
    String std = buildError("posEmbedding(sinusoidal, std=0.1)", 5, 8);
    assertTrue(std.contains("std= is the init of a learned embedding"), std);
    std = buildError("posEmbedding(std=0)", 5, 8);
    assertTrue(std.contains("init standard deviation S must be positive, got '0'"), std);
    String flat = buildError("clsToken", 8);
    assertTrue(flat.contains("clstoken needs a (T, F) sequence input"), flat);
    String image = buildError("linear(4)", IMAGE);
    assertTrue(
        image.contains(
            "linear needs a flat (F) or a sequence (T, F) input but the shape here is (1, 28, 28);"
                + " add 'flatten' (or 'patches(P)') before it"),
        image);
    String missing = buildError("transformer(8, 2)", 5, 8);
    assertTrue(missing.contains("missing argument; expected transformer(D, HEADS, FF"), missing);
    String dropout = buildError("transformer(8, 2, 4, dropout=1.5)", 5, 8);
    assertTrue(dropout.contains("dropout probability P must be in [0, 1), got '1.5'"), dropout);
  }
}
