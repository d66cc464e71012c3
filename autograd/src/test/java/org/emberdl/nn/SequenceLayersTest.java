package org.emberdl.nn;

import static org.emberdl.tensor.testing.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.emberdl.autograd.NoGrad;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;

/** Positional embeddings, the CLS token and pool, and patchify. */
class SequenceLayersTest {
  private static NDArray randn(long seed, int... shape) {
    return NDArray.randn(new Generator(seed), DType.FLOAT64, shape);
  }

  /** Entries worked out by hand: sin(pos * 10000^(-2i/d)) and its cosine, d = 4 and d = 3. */
  @Test
  void sinusoidalTableMatchesTheFormula() {
    try (MemoryScope scope = MemoryScope.open()) {
      double[] t = SinusoidalPositionalEncoding.table(3, 4, DType.FLOAT64).toDoubleArray();
      // pos 0: sin 0, cos 0, sin 0, cos 0
      assertClose(new double[] {0, 1, 0, 1}, java.util.Arrays.copyOfRange(t, 0, 4), 0);
      // pos 1: sin(1), cos(1), sin(1/100), cos(1/100)
      assertClose(
          new double[] {
            0.8414709848078965, 0.5403023058681398, 0.009999833334166664, 0.9999500004166653
          },
          java.util.Arrays.copyOfRange(t, 4, 8),
          1e-15);
      assertEquals(0.01999866669333308, t[2 * 4 + 2], 1e-15); // sin(2/100)
      // odd d = 3: columns sin(p), cos(p), sin(p * 10000^(-2/3)); at p = 5
      double[] odd = SinusoidalPositionalEncoding.table(6, 3, DType.FLOAT64).toDoubleArray();
      assertClose(
          new double[] {-0.9589242746631385, 0.28366218546322625, 0.010771965118034832},
          java.util.Arrays.copyOfRange(odd, 15, 18),
          1e-15);
    }
  }

  @Test
  void sinusoidalAddsTheTableAndHasNoState() {
    try (SinusoidalPositionalEncoding pe = new SinusoidalPositionalEncoding(10, 4, DType.FLOAT64);
        MemoryScope scope = MemoryScope.open()) {
      assertTrue(pe.stateDict().isEmpty());
      assertTrue(pe.parameters().isEmpty());
      Tensor x = Tensor.of(NDArray.zeros(DType.FLOAT64, 2, 3, 4));
      double[] y = pe.forward(x).data().toDoubleArray();
      double[] table = SinusoidalPositionalEncoding.table(3, 4, DType.FLOAT64).toDoubleArray();
      assertClose(table, java.util.Arrays.copyOfRange(y, 0, 12), 0);
      assertClose(table, java.util.Arrays.copyOfRange(y, 12, 24), 0);
      NnTesting.checkInputGradient(pe, randn(1, 2, 3, 4));
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> pe.forward(Tensor.of(NDArray.zeros(DType.FLOAT64, 2, 11, 4))));
      assertEquals(
          "SinusoidalPositionalEncoding expects a batch-first (N, T, 4) or (T, 4) input with"
              + " T <= max_len = 10, got [2, 11, 4]",
          e.getMessage());
    }
  }

  @Test
  void learnedEmbeddingAddsItsRowsAndLearnsThem() {
    try (LearnedPositionalEmbedding pe =
            new LearnedPositionalEmbedding(6, 3, 1.0, DType.FLOAT64, new Generator(1));
        MemoryScope scope = MemoryScope.open()) {
      assertEquals(List.of("weight"), List.copyOf(pe.namedParameters().keySet()));
      assertArrayEquals(new int[] {6, 3}, pe.weight().shape());
      Tensor x = Tensor.of(NDArray.zeros(DType.FLOAT64, 1, 4, 3));
      assertClose(
          java.util.Arrays.copyOfRange(pe.weight().data().toDoubleArray(), 0, 12),
          pe.forward(x).data(),
          0);
      NnTesting.checkInputGradient(pe, randn(2, 2, 4, 3));
      NnTesting.checkParameterGradients(pe, randn(2, 2, 4, 3));
    }
  }

  @Test
  void clsTokenPrependsAndClsPoolTakesItBack() {
    try (ClsToken cls = new ClsToken(3, DType.FLOAT64);
        MemoryScope scope = MemoryScope.open()) {
      assertEquals(List.of("cls_token"), List.copyOf(cls.namedParameters().keySet()));
      assertArrayEquals(new int[] {1, 1, 3}, cls.token().shape());
      cls.token().data().copyFrom(NDArray.of(new double[] {7, 8, 9}, 1, 1, 3));
      Tensor x = Tensor.of(randn(3, 2, 4, 3));
      Tensor y = cls.forward(x);
      assertArrayEquals(new int[] {2, 5, 3}, y.shape());
      Tensor pooled = new ClsPool().forward(y);
      assertClose(new double[] {7, 8, 9, 7, 8, 9}, pooled.data(), 0);
      NnTesting.checkInputGradient(cls, randn(4, 2, 4, 3));
      NnTesting.checkParameterGradients(cls, randn(4, 2, 4, 3));
    }
  }

  /** x[c, h, w] = 16c + 4h + w; patch 1 (top row, right) is x[:, 0:2, 2:4] flattened (C, P, P). */
  @Test
  void patchifyOrdersPatchesRowMajorAndPixelsAsConvWeights() {
    try (MemoryScope scope = MemoryScope.open()) {
      double[] v = new double[32];
      for (int i = 0; i < 32; i++) {
        v[i] = i;
      }
      Tensor x = Tensor.of(NDArray.of(v, 1, 2, 4, 4));
      Tensor p = new Patchify(2).forward(x);
      assertArrayEquals(new int[] {1, 4, 8}, p.shape());
      double[] got = p.data().toDoubleArray();
      assertClose(
          new double[] {2, 3, 6, 7, 18, 19, 22, 23}, java.util.Arrays.copyOfRange(got, 8, 16), 0);
      NnTesting.checkInputGradient(new Patchify(2), randn(5, 2, 2, 4, 6));
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> new Patchify(3).forward(Tensor.of(NDArray.zeros(DType.FLOAT64, 1, 1, 4, 6))));
      assertEquals(
          "Patchify(3) expects (N, C, H, W) images with H and W multiples of 3, got [1, 1, 4, 6]",
          e.getMessage());
    }
  }

  /** A Linear on the patches is the strided convolution ViT's patch embedding is. */
  @Test
  void patchifyThenLinearEqualsAStridedConv() {
    Generator g = new Generator(6);
    try (Conv2d conv =
            new Conv2d(
                2,
                5,
                new int[] {2},
                new int[] {2},
                new int[] {0},
                new int[] {1},
                1,
                true,
                DType.FLOAT64,
                g);
        Linear lin = new Linear(8, 5, true, DType.FLOAT64, g);
        MemoryScope scope = MemoryScope.open();
        NoGrad ng = NoGrad.enter()) {
      lin.weight().data().copyFrom(conv.weight().data().reshape(5, 8));
      lin.bias().data().copyFrom(conv.bias().data());
      Tensor x = Tensor.of(randn(7, 3, 2, 4, 6));
      // conv: (3, 5, 2, 3) -> (3, 6, 5) as patches x channels
      Tensor c = conv.forward(x).reshape(3, 5, 6).transpose(1, 2);
      Tensor l = lin.forward(new Patchify(2).forward(x));
      assertClose(c.contiguous().data().toDoubleArray(), l.data(), 1e-12);
    }
  }
}
