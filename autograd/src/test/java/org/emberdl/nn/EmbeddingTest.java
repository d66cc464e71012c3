package org.emberdl.nn;

import static org.emberdl.nn.NnTesting.d;
import static org.emberdl.nn.NnTesting.state;
import static org.emberdl.tensor.testing.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

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
    }
  }

  @Test
  void badIndicesAreRejected() {
    try (Embedding emb = new Embedding(4, 2, new Generator(0));
        MemoryScope s = MemoryScope.open()) {
      assertThrows(
          IllegalArgumentException.class,
          () -> emb.forward(Tensor.of(NDArray.of(new float[] {1}))));
      assertThrows(
          RuntimeException.class, () -> emb.forward(Tensor.of(NDArray.of(new long[] {4}))));
    }
  }
}
