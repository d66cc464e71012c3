package org.emberdl.nn;

import static org.emberdl.nn.NnTesting.d;
import static org.emberdl.nn.NnTesting.f32;
import static org.emberdl.nn.NnTesting.state;
import static org.emberdl.tensor.testing.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;

class EmbeddingTest {
  /** Rows [0, 1], [2, 3], [4, 5], [6, 7]. */
  private static void loadTable(Embedding emb) {
    emb.loadStateDict(
        state("weight", NDArray.of(new float[] {0, 1, 2, 3, 4, 5, 6, 7}, 4, 2)), true);
  }

  @Test
  void looksUpRowsForIndicesOfAnyShape() {
    try (Embedding emb = new Embedding(4, 2, new Generator(0));
        MemoryScope s = MemoryScope.open()) {
      loadTable(emb);
      assertEquals(List.of("weight"), List.copyOf(emb.namedParameters().keySet()));
      Tensor y = emb.forward(Tensor.of(NDArray.of(new long[] {1, 3, 0, 1}, 2, 2)));
      assertArrayEquals(new int[] {2, 2, 2}, y.shape());
      assertClose(d(2, 3, 6, 7, 0, 1, 2, 3), y.data(), 0);
      // a 0-d index gives one row; int32 indices work too
      Tensor one = emb.forward(Tensor.of(NDArray.scalar(2, DType.INT64)));
      assertArrayEquals(new int[] {2}, one.shape());
      assertClose(d(4, 5), one.data(), 0);
      Tensor i32 = emb.forward(Tensor.of(NDArray.of(new int[] {3})));
      assertClose(d(6, 7), i32.data(), 0);
      assertEquals("Embedding(4, 2)", emb.toString());
    }
  }

  @Test
  void repeatedIndicesAccumulateGradient() {
    try (Embedding emb = new Embedding(4, 2, new Generator(0));
        MemoryScope s = MemoryScope.open()) {
      emb.forward(Tensor.of(NDArray.of(new long[] {1, 1, 2}))).sum().backward();
      // row 1 used twice, row 2 once, rows 0 and 3 never
      assertClose(d(0, 0, 2, 2, 1, 1, 0, 0), emb.weight().grad(), 0);
    }
  }

  @Test
  void gradientsMatchFiniteDifferences() {
    try (Embedding emb = new Embedding(5, 3, DType.FLOAT64, new Generator(1));
        MemoryScope s = MemoryScope.open()) {
      NDArray idx = NDArray.of(new long[] {4, 0, 4, 2, 2, 2}, 2, 3);
      // the weight is the only differentiable input: check it through the module
      Tensor y = emb.forward(Tensor.of(idx));
      assertArrayEquals(new int[] {2, 3, 3}, y.shape());
      NnTesting.checkParameterGradients(emb, idx);
      org.emberdl.autograd.GradCheck.defaults()
          .check(t -> Embedding.embedding(idx, t[0]), emb.weight().data());
      // the padded lookup's own backward: every row but the (unused) padding row 1
      org.emberdl.autograd.GradCheck.defaults()
          .check(t -> Embedding.embedding(idx, t[0], 1), emb.weight().data());
    }
  }

  @Test
  void badIndicesAreRejectedNamingValueAndPosition() {
    try (Embedding emb = new Embedding(4, 2, new Generator(0));
        MemoryScope s = MemoryScope.open()) {
      IllegalArgumentException dtype =
          assertThrows(
              IllegalArgumentException.class,
              () -> emb.forward(Tensor.of(NDArray.of(new float[] {1}))));
      assertTrue(
          dtype.getMessage().contains("int64 or int32 indices, got float32"), dtype::getMessage);
      // 4 == num at row 1, column 0; the first bad one in row-major order is named
      IllegalArgumentException high =
          assertThrows(
              IllegalArgumentException.class,
              () -> emb.forward(Tensor.of(NDArray.of(new long[] {0, 3, 4, 9}, 2, 2))));
      assertEquals(
          "Embedding index 4 at position [1, 0] of the indices (shape [2, 2]) is out of range:"
              + " indices must be in [0, 4) for a table of 4 rows",
          high.getMessage());
      IllegalArgumentException negative =
          assertThrows(
              IllegalArgumentException.class,
              () -> emb.forward(Tensor.of(NDArray.of(new int[] {1, 2, -1}))));
      assertTrue(
          negative.getMessage().startsWith("Embedding index -1 at position [2] of the indices"),
          negative::getMessage);
    }
  }

  @Test
  void paddingRowIsZeroAtInitAndGetsNoGradient() {
    try (Embedding emb = new Embedding(4, 2, -2, DType.FLOAT32, new Generator(0));
        MemoryScope s = MemoryScope.open()) {
      // -2 counts from the end of 4 rows: row 2
      assertEquals(2, emb.paddingIdx().getAsInt());
      assertEquals("Embedding(4, 2, padding_idx=2)", emb.toString());
      try (Embedding plain = new Embedding(4, 2, new Generator(0))) {
        // the same draw as without padding, with row 2 zeroed
        float[] w = plain.weight().data().toFloatArray();
        w[4] = 0;
        w[5] = 0;
        assertClose(toDoubles(w), emb.weight().data(), 0);
      }
      loadTable(emb);
      // a loaded padding row is looked up as it is (as in PyTorch)...
      Tensor y = emb.forward(Tensor.of(NDArray.of(new long[] {2, 0, 2, 1})));
      assertClose(d(4, 5, 0, 1, 4, 5, 2, 3), y.data(), 0);
      // ...but gets no gradient: L = sum(y * v), v = [[1,2],[3,4],[5,6],[7,8]]
      // dL/dW row 0 = v[1] = [3, 4], row 1 = v[3] = [7, 8], row 2 (padding) = 0, row 3 unused
      y.mul(f32(d(1, 2, 3, 4, 5, 6, 7, 8), 4, 2)).sum().backward();
      assertClose(d(3, 4, 7, 8, 0, 0, 0, 0), emb.weight().grad(), 0);
    }
  }

  @Test
  void paddingIdxOutOfRangeIsRejected() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> new Embedding(4, 2, 4, DType.FLOAT32, new Generator(0)));
    assertEquals(
        "Embedding padding_idx must be in [-4, 4) for 4 embeddings, got 4", e.getMessage());
    assertThrows(
        IllegalArgumentException.class,
        () -> new Embedding(4, 2, -5, DType.FLOAT32, new Generator(0)));
  }

  private static double[] toDoubles(float[] v) {
    double[] out = new double[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = v[i];
    }
    return out;
  }
}
