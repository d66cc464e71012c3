package org.emberdl.nn;

import static org.emberdl.tensor.testing.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.io.Safetensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code embedding(V, D[, pad=P])} in {@link NetworkSpec}: token ids, fixed and padded. */
class NetworkSpecTokenTest {
  private static String error(String spec, int... inputShape) {
    String built =
        assertThrows(
                IllegalArgumentException.class,
                () -> NetworkSpec.build(spec, inputShape, new Generator(0)).close())
            .getMessage();
    assertEquals(
        built,
        assertThrows(
                IllegalArgumentException.class, () -> NetworkSpec.outputShape(spec, inputShape))
            .getMessage());
    return built;
  }

  private static Tensor ids(int n, int t, float... values) {
    return Tensor.of(NDArray.of(values, n, t));
  }

  @Test
  void shapesAndStateDict() {
    assertArrayEquals(new int[] {5, 4}, NetworkSpec.outputShape("embedding(10, 4)", new int[] {5}));
    String spec = "embedding(10, 4, pad=0), gru(6), lastStep, linear(3)";
    assertArrayEquals(new int[] {3}, NetworkSpec.outputShape(spec, new int[] {5}));
    List<Safetensors.TensorInfo> shapes = NetworkSpec.stateDictShapes(spec, new int[] {5});
    // the table is (V, D) = (10, 4) float32: 160 bytes; the GRU reads D = 4 features
    assertEquals(
        new Safetensors.TensorInfo("0.weight", DType.FLOAT32, new int[] {10, 4}, 160),
        shapes.get(0));
    assertEquals(
        new Safetensors.TensorInfo("1.weight_ih_l0", DType.FLOAT32, new int[] {18, 4}, 288),
        shapes.get(1));
    try (Sequential net = NetworkSpec.build(spec, new int[] {5}, new Generator(0))) {
      assertTrue(net instanceof PaddedSequenceNetwork);
      java.util.Map<String, NDArray> state = net.stateDict();
      assertEquals(
          shapes.stream().map(Safetensors.TensorInfo::name).toList(), List.copyOf(state.keySet()));
      state.values().forEach(NDArray::close);
      Embedding emb = (Embedding) net.get(0);
      assertEquals(0, emb.paddingIdx().getAsInt());
    }
    // a negative pad counts from the end of V
    try (Sequential net =
        NetworkSpec.build("embedding(10, 4, pad=-1), meanPool", new int[] {3}, new Generator(0))) {
      assertEquals(9, ((PaddedSequenceNetwork) net).paddingId());
    }
    try (Sequential net =
        NetworkSpec.build("embedding(10, 4), lstm(3)", new int[] {3}, new Generator(0))) {
      assertFalse(net instanceof PaddedSequenceNetwork);
    }
  }

  @Test
  void floatIdsLookUpTheirRows() {
    try (Sequential net = NetworkSpec.build("embedding(5, 2)", new int[] {3}, new Generator(0));
        MemoryScope s = MemoryScope.open()) {
      float[] w = ((Embedding) net.get(0)).weight().data().toFloatArray();
      Tensor y = net.forward(ids(1, 3, 4, 0, 4));
      // rows 4, 0, 4 of the table
      assertClose(new double[] {w[8], w[9], w[0], w[1], w[8], w[9]}, y.data(), 0);
      // int64 ids work too
      Tensor yl = net.forward(Tensor.of(NDArray.of(new long[] {4, 0, 4}, 1, 3)));
      assertClose(y.data().toDoubleArray(), yl.data(), 0);
    }
  }

  @Test
  void badIdsAreNamed() {
    try (Sequential net = NetworkSpec.build("embedding(5, 2)", new int[] {3}, new Generator(0));
        MemoryScope s = MemoryScope.open()) {
      assertEquals(
          "Embedding index 5 at position [1, 2] of the indices (shape [2, 3]) is out of range:"
              + " indices must be in [0, 5) for a table of 5 rows",
          assertThrows(
                  IllegalArgumentException.class, () -> net.forward(ids(2, 3, 0, 1, 2, 3, 4, 5)))
              .getMessage());
      assertEquals(
          "token id 1.5 at position [0, 1] of the input (shape [1, 3]) is not a whole number;"
              + " token ids must be integers",
          assertThrows(IllegalArgumentException.class, () -> net.forward(ids(1, 3, 0, 1.5f, 2)))
              .getMessage());
      assertTrue(
          assertThrows(
                  IllegalArgumentException.class, () -> net.forward(ids(1, 3, 0, Float.NaN, 2)))
              .getMessage()
              .startsWith("token id NaN at position [0, 1]"));
    }
  }

  /**
   * A right-padded row gives exactly what its unpadded tokens give alone: the padding reaches
   * neither the recurrent state, nor the mean, nor the last step.
   */
  @ParameterizedTest
  @ValueSource(
      strings = {
        "lstm(6), lastStep, linear(3)",
        "gru(5, layers=2, bidirectional), lastStep, linear(3)",
        "lstm(4, bidirectional), meanPool, linear(2)",
        "meanPool, linear(2)",
        "tanh, lastStep",
        "attention(2), meanPool, linear(3)",
        "posEmbedding(sinusoidal), attention(4), lastStep",
        "transformer(4, 2, 8, layers=2, dropout=0), meanPool, linear(2)",
        "clsToken, transformer(4, 2, 6, dropout=0, prenorm, gelu), clsPool, linear(3)",
        "linear(6), attention(3), lstm(5), lastStep",
      })
  void paddedRowsEqualTheirTrimmedSequences(String rest) {
    String padded = "embedding(9, 4, pad=0), " + rest;
    try (Sequential net = NetworkSpec.build(padded, new int[] {5}, new Generator(3));
        MemoryScope s = MemoryScope.open()) {
      net.eval();
      // rows of lengths 2, 5, 1, 3
      Tensor batch = ids(4, 5, 3, 5, 0, 0, 0, 7, 1, 2, 4, 8, 6, 0, 0, 0, 0, 2, 8, 1, 0, 0);
      Tensor y = net.forward(batch);
      float[][] rows = {{3, 5}, {7, 1, 2, 4, 8}, {6}, {2, 8, 1}};
      int width = y.shape(1);
      double[] all = y.data().toDoubleArray();
      for (int r = 0; r < rows.length; r++) {
        // the same weights (same seed; the table does not depend on T), without padding
        try (Sequential alone =
            NetworkSpec.build(padded, new int[] {rows[r].length}, new Generator(3))) {
          alone.eval();
          double[] expected = alone.forward(ids(1, rows[r].length, rows[r])).data().toDoubleArray();
          double[] got = java.util.Arrays.copyOfRange(all, r * width, (r + 1) * width);
          assertClose(expected, NDArray.of(got), 1e-6);
        }
      }
    }
  }

  @Test
  void paddingRowGetsNoGradientThroughTheNetwork() {
    try (Sequential net =
            NetworkSpec.build(
                "embedding(6, 3, pad=0), lstm(4), meanPool, linear(2)",
                new int[] {4},
                new Generator(1));
        MemoryScope s = MemoryScope.open()) {
      net.forward(ids(2, 4, 1, 2, 0, 0, 3, 0, 0, 0)).sum().backward();
      NDArray g = ((Embedding) net.get(0)).weight().grad();
      double[] grad = g.toDoubleArray();
      for (int j = 0; j < 3; j++) {
        assertEquals(0.0, grad[j], 0, "padding row");
        assertTrue(grad[3 + j] != 0, "row 1 is used");
      }
    }
  }

  @Test
  void badPaddingIsNamed() {
    try (Sequential net =
            NetworkSpec.build("embedding(6, 3, pad=0), meanPool", new int[] {4}, new Generator(1));
        MemoryScope s = MemoryScope.open()) {
      assertEquals(
          "token sequence 1 is empty: it starts with the padding id 0 (sequences need at least"
              + " one token)",
          assertThrows(
                  IllegalArgumentException.class,
                  () -> net.forward(ids(2, 4, 1, 0, 0, 0, 0, 0, 0, 0)))
              .getMessage());
      assertEquals(
          "token sequence 1 has token 5 at step 3 after the padding id 0; sequences must be"
              + " right-padded (all padding at the end)",
          assertThrows(
                  IllegalArgumentException.class,
                  () -> net.forward(ids(2, 4, 1, 0, 0, 0, 2, 3, 0, 5)))
              .getMessage());
    }
  }

  @Test
  void specErrorsAreNamed() {
    assertEquals(
        "network spec, layer 2 'embedding(5, 2)' at column 12: embedding must be the first layer,"
            + " on an inputShape (T) of T token ids; the shape here is (3) after layer 1",
        error("linear(3), embedding(5, 2)", 3));
    assertEquals(
        "network spec, layer 1 'embedding(5, 2)' at column 1: embedding must be the first layer,"
            + " on an inputShape (T) of T token ids; the shape here is (3, 4)",
        error("embedding(5, 2)", 3, 4));
    assertEquals(
        "network spec, layer 1 'embedding(16777217, 2)' at column 11: vocabulary size V must be at"
            + " most 2^24 = 16777216 (token ids travel as float32, exact only up to 2^24), got"
            + " '16777217'; expected embedding(V, D[, pad=P])",
        error("embedding(16777217, 2)", 3));
    assertEquals(
        "network spec, layer 1 'embedding(5, 2, pad=5)' at column 21: padding id P must be in"
            + " [-V, V) = [-5, 5), got '5'; expected embedding(V, D[, pad=P])",
        error("embedding(5, 2, pad=5)", 3));
    assertTrue(
        error("embedding(5)", 3).contains("missing argument; expected embedding(V, D[, pad=P])"));
  }
}
