package org.emberdl.nn;

import static org.emberdl.tensor.testing.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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

class MultiheadAttentionTest {
  @Test
  void parametersHavePytorchNamesShapesAndInit() {
    try (MultiheadAttention m = new MultiheadAttention(8, 2, new Generator(1))) {
      assertEquals(
          List.of("in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"),
          List.copyOf(m.namedParameters().keySet()));
      assertArrayEquals(new int[] {24, 8}, m.inProjWeight().shape());
      // xavier uniform: bound sqrt(6 / (fan_in + fan_out)) = sqrt(6 / 32)
      double bound = Math.sqrt(6.0 / 32);
      double max = 0;
      for (double v : m.inProjWeight().data().toDoubleArray()) {
        assertTrue(Math.abs(v) <= bound, "in_proj_weight " + v + " outside +-" + bound);
        max = Math.max(max, Math.abs(v));
      }
      assertTrue(max > 0.8 * bound, "spread over the range");
      // out_proj as a Linear: U(-1/sqrt(8), 1/sqrt(8)); both biases zero
      for (double v : m.outProj().weight().data().toDoubleArray()) {
        assertTrue(Math.abs(v) <= 1 / Math.sqrt(8));
      }
      assertClose(new double[24], m.inProjBias().data(), 0);
      assertClose(new double[8], m.outProj().bias().data(), 0);
      assertEquals(
          "MultiheadAttention(embed_dim=8, num_heads=2, dropout=0.0, batch_first=False)",
          m.toString());
    }
  }

  /**
   * Identity projections, one head, E = 2: the output is softmax(x x^T / sqrt(2)) x; for x = the
   * identity rows, row 0 is (a, 1 - a) with a = 1 / (1 + exp(-1 / sqrt(2))) = 0.66976154932665...
   */
  @Test
  void handComputedAttention() {
    try (MultiheadAttention m =
            new MultiheadAttention(2, 1, 0.0, true, true, DType.FLOAT64, new Generator(1));
        MemoryScope scope = MemoryScope.open()) {
      double[] eye3 = {1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1};
      m.inProjWeight().data().copyFrom(NDArray.of(eye3, 6, 2));
      m.outProj().weight().data().copyFrom(NDArray.of(new double[] {1, 0, 0, 1}, 2, 2));
      Tensor x = Tensor.of(NDArray.of(new double[] {1, 0, 0, 1}, 1, 2, 2));
      double a = 0.6697615493266569;
      AttentionOutput r = m.attend(x, x, x, null, null, true, true);
      assertClose(new double[] {a, 1 - a, 1 - a, a}, r.output().data(), 1e-15);
      assertClose(new double[] {a, 1 - a, 1 - a, a}, r.weights().data(), 1e-15);
      // with a causal mask, query 0 sees only key 0
      AttentionOutput c =
          m.attend(x, x, x, null, AttentionMasks.causal(2, DType.FLOAT64), true, true);
      assertClose(new double[] {1, 0, 1 - a, a}, c.weights().data(), 1e-15);
      assertClose(new double[] {1, 0, 1 - a, a}, c.output().data(), 1e-15);
    }
  }

  /**
   * Lengths mask the padded keys: the identity projections of {@link #handComputedAttention} on a
   * second, padded sequence of length 1 (its step 1 is padding holding junk) give that sequence its
   * own value at every query, whatever the junk.
   */
  @Test
  void lengthsMaskThePaddedKeys() {
    try (MultiheadAttention m =
            new MultiheadAttention(2, 1, 0.0, true, true, DType.FLOAT64, new Generator(1));
        MemoryScope scope = MemoryScope.open()) {
      double[] eye3 = {1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1};
      m.inProjWeight().data().copyFrom(NDArray.of(eye3, 6, 2));
      m.outProj().weight().data().copyFrom(NDArray.of(new double[] {1, 0, 0, 1}, 2, 2));
      Tensor x = Tensor.of(NDArray.of(new double[] {1, 0, 0, 1, 3, -2, 50, 70}, 2, 2, 2));
      double a = 0.6697615493266569;
      Tensor y = m.forward(x, new int[] {2, 1});
      assertClose(new double[] {a, 1 - a, 1 - a, a, 3, -2, 3, -2}, y.data(), 1e-15);
      assertClose(
          new double[] {0, 0, 0, Double.NEGATIVE_INFINITY},
          AttentionMasks.keyPadding(new int[] {2, 1}, 2, DType.FLOAT64),
          0);
      assertEquals(
          "MultiheadAttention: length of sequence 1 is 3; lengths must be in [1, 2] (the number"
              + " of time steps)",
          assertThrows(IllegalArgumentException.class, () -> m.forward(x, new int[] {2, 3}))
              .getMessage());
    }
    try (MultiheadAttention seqFirst = new MultiheadAttention(2, 1, new Generator(1));
        MemoryScope scope = MemoryScope.open()) {
      Tensor x = Tensor.of(NDArray.zeros(DType.FLOAT32, 2, 1, 2));
      assertEquals(
          "MultiheadAttention takes sequence lengths only batch-first, on (N, T, E) input; got"
              + " batch_first=false and shape [2, 1, 2]",
          assertThrows(IllegalArgumentException.class, () -> seqFirst.forward(x, new int[] {1}))
              .getMessage());
    }
  }

  @Test
  void causalMaskIsGenerateSquareSubsequentMask() {
    try (NDArray m = AttentionMasks.causal(3)) {
      double inf = Double.NEGATIVE_INFINITY;
      assertEquals(DType.FLOAT32, m.dtype());
      assertClose(new double[] {0, inf, inf, 0, 0, inf, 0, 0, 0}, m, 0);
    }
  }

  /** As PyTorch 1.13: a query whose keys are all padding gets NaN weights and output. */
  @Test
  void aFullyMaskedRowIsNaNAsInPytorch() {
    try (MultiheadAttention m =
            new MultiheadAttention(4, 2, 0.0, true, true, DType.FLOAT64, new Generator(1));
        MemoryScope scope = MemoryScope.open()) {
      Tensor x = Tensor.of(NDArray.randn(new Generator(2), DType.FLOAT64, 2, 3, 4));
      NDArray pad = NDArray.of(new boolean[] {false, false, true, true, true, true}, 2, 3);
      AttentionOutput r = m.attend(x, x, x, pad, null, true, true);
      double[] out = r.output().data().toDoubleArray();
      for (int i = 0; i < 12; i++) {
        assertFalse(Double.isNaN(out[i]), "sample 0 has keys to attend to");
      }
      for (int i = 12; i < 24; i++) {
        assertTrue(Double.isNaN(out[i]), "sample 1 has none");
      }
    }
  }

  @Test
  void unbatchedEqualsBatchOfOne() {
    try (MultiheadAttention m =
            new MultiheadAttention(4, 2, 0.0, true, false, DType.FLOAT64, new Generator(1));
        MemoryScope scope = MemoryScope.open()) {
      Tensor x = Tensor.of(NDArray.randn(new Generator(2), DType.FLOAT64, 3, 4));
      NDArray pad = NDArray.of(new boolean[] {false, false, true}, 3);
      AttentionOutput u = m.attend(x, x, x, pad, null, true, true);
      Tensor xb = x.unsqueeze(1);
      AttentionOutput b =
          m.attend(
              xb, xb, xb, NDArray.of(new boolean[] {false, false, true}, 1, 3), null, true, true);
      assertArrayEquals(new int[] {3, 4}, u.output().shape());
      assertArrayEquals(new int[] {3, 3}, u.weights().shape());
      assertClose(b.output().data().toDoubleArray(), u.output().data(), 0);
      assertClose(b.weights().data().toDoubleArray(), u.weights().data(), 0);
    }
  }

  /**
   * Inference frees everything it allocated once the outputs are closed (no MemoryScope: the leak
   * check after the test sees anything left behind).
   */
  @Test
  void aNoGradRunFreesEverythingWithItsOutputs() {
    Generator g = new Generator(1);
    TransformerEncoderLayer.Config c =
        new TransformerEncoderLayer.Config(8, 2).withDimFeedforward(16).withBatchFirst(true);
    try (MultiheadAttention m = new MultiheadAttention(8, 2, 0.1, true, true, DType.FLOAT32, g);
        TransformerEncoder enc =
            new TransformerEncoder(
                new TransformerEncoderLayer(c.withNormFirst(true), g), 2, new LayerNorm(8), g);
        Tensor x = Tensor.of(NDArray.uniform(g, DType.FLOAT32, -1, 1, 3, 5, 8));
        Tensor y = Tensor.of(NDArray.uniform(g, DType.FLOAT32, -1, 1, 3, 4, 8));
        NDArray pad = NDArray.of(new boolean[15], 3, 5);
        NDArray causal = AttentionMasks.causal(5);
        NoGrad ng = NoGrad.enter()) {
      enc.eval();
      try (AttentionOutput r = m.attend(y, x, x, pad, null, true, false)) {
        assertArrayEquals(new int[] {3, 2, 4, 5}, r.weights().shape());
      }
      try (Tensor out = m.forward(x)) {
        assertArrayEquals(new int[] {3, 5, 8}, out.shape());
      }
      try (Tensor out = enc.forward(x, causal, pad)) {
        assertArrayEquals(new int[] {3, 5, 8}, out.shape());
      }
    }
  }

  @Test
  void dropoutActsOnTheWeightsInTrainingOnly() {
    try (MultiheadAttention m =
            new MultiheadAttention(4, 1, 0.5, true, true, DType.FLOAT64, new Generator(1));
        MemoryScope scope = MemoryScope.open()) {
      Tensor x = Tensor.of(NDArray.randn(new Generator(2), DType.FLOAT64, 1, 6, 4));
      double[] w = m.attend(x, x, x, null, null, true, true).weights().data().toDoubleArray();
      int zeros = 0;
      for (double v : w) {
        zeros += v == 0 ? 1 : 0;
        // survivors are scaled by 1 / (1 - p) = 2
      }
      assertTrue(zeros > 0 && zeros < w.length, "some weights dropped, got " + zeros);
      m.eval();
      double[] e1 = m.attend(x, x, x, null, null, true, true).weights().data().toDoubleArray();
      double[] e2 = m.attend(x, x, x, null, null, true, true).weights().data().toDoubleArray();
      assertClose(e1, e2, 0);
      for (int row = 0; row < 6; row++) {
        double s = 0;
        for (int j = 0; j < 6; j++) {
          s += e1[row * 6 + j];
        }
        assertEquals(1.0, s, 1e-12, "eval weights are a distribution");
      }
    }
  }

  @Test
  void errorsNameWhatWasExpected() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> new MultiheadAttention(10, 3, null));
    assertEquals(
        "MultiheadAttention needs embed_dim divisible by num_heads (both positive), got"
            + " embed_dim=10, num_heads=3",
        e.getMessage());
    try (MultiheadAttention m =
            new MultiheadAttention(4, 2, 0.0, true, true, DType.FLOAT32, new Generator(1));
        MemoryScope scope = MemoryScope.open()) {
      Tensor x = Tensor.of(NDArray.zeros(DType.FLOAT32, 2, 3, 4));
      Tensor bad = Tensor.of(NDArray.zeros(DType.FLOAT32, 2, 3, 5));
      e = assertThrows(IllegalArgumentException.class, () -> m.forward(bad));
      assertEquals(
          "MultiheadAttention with embed_dim=4 expects query, key and value shaped (N, L, 4)"
              + " (batch_first), got query [2, 3, 5], key [2, 3, 5], value [2, 3, 5]",
          e.getMessage());
      NDArray pad = NDArray.of(new boolean[3], 1, 3);
      e =
          assertThrows(
              IllegalArgumentException.class, () -> m.attend(x, x, x, pad, null, false, true));
      assertEquals(
          "key_padding_mask must be (N, S) = (2, 3) (true = a padded key to ignore), got [1, 3]",
          e.getMessage());
      NDArray mask = NDArray.zeros(DType.FLOAT32, 3, 4);
      e =
          assertThrows(
              IllegalArgumentException.class, () -> m.attend(x, x, x, null, mask, false, true));
      assertEquals(
          "attn_mask must be (L, S) = (3, 3) or (N * num_heads, L, S) = (4, 3, 3), got [3, 4]",
          e.getMessage());
      NDArray intMask = NDArray.of(new int[9], 3, 3);
      e =
          assertThrows(
              IllegalArgumentException.class, () -> m.attend(x, x, x, null, intMask, false, true));
      assertEquals(
          "attn_mask must be bool (true = ignore) or floating (added to the scores), got int32",
          e.getMessage());
    }
  }
}
