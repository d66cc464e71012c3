package org.emberdl.nn;

import static org.emberdl.tensor.testing.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.emberdl.autograd.GradCheck;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;

/**
 * Cross-entropy on a 2x3 example worked out by hand:
 *
 * <pre>
 *   logits = [[1, 2, 3], [1, 0, -1]],  targets = [2, 1]
 *   row 0: lse = 3 + log(1 + e^-1 + e^-2) = 3 + log(1.5032147244) = 3.4076059644
 *          -lp = lse - x = [2.4076059644, 1.4076059644, 0.4076059644];  nll_0 = 0.4076059644
 *   row 1: lse = 1 + log(1 + e^-1 + e^-2) = 1.4076059644
 *          -lp = [0.4076059644, 1.4076059644, 2.4076059644];            nll_1 = 1.4076059644
 *   mean = (0.4076059644 + 1.4076059644) / 2 = 0.9076059644,  sum = 1.8152119289
 * </pre>
 */
class CrossEntropyLossTest {
  static final double NLL0 = 0.4076059644443806;
  static final double NLL1 = 1.4076059644443804;

  static NDArray logits() {
    return NDArray.of(new double[] {1, 2, 3, 1, 0, -1}, 2, 3);
  }

  static NDArray targets() {
    return NDArray.of(new long[] {2, 1});
  }

  static double value(CrossEntropyLoss loss, NDArray logits, NDArray target) {
    try (Tensor x = Tensor.of(logits.share());
        Tensor l = loss.apply(x, target)) {
      return l.item();
    }
  }

  @Test
  void meanSumAndNone() {
    try (MemoryScope s = MemoryScope.open()) {
      assertEquals((NLL0 + NLL1) / 2, value(new CrossEntropyLoss(), logits(), targets()), 1e-6);
      assertEquals(
          NLL0 + NLL1, value(new CrossEntropyLoss(Reduction.SUM), logits(), targets()), 1e-6);
      Tensor none = new CrossEntropyLoss(Reduction.NONE).apply(Tensor.of(logits()), targets());
      assertArrayEquals(new int[] {2}, none.shape());
      assertClose(new double[] {NLL0, NLL1}, none.data(), 1e-6);
    }
  }

  @Test
  void float32LogitsAndInt32Targets() {
    try (MemoryScope s = MemoryScope.open()) {
      NDArray x = NDArray.of(new float[] {1, 2, 3, 1, 0, -1}, 2, 3);
      NDArray t = NDArray.of(new int[] {2, 1});
      Tensor l = new CrossEntropyLoss().apply(Tensor.of(x), t);
      assertEquals(DType.FLOAT32, l.dtype());
      assertEquals((NLL0 + NLL1) / 2, l.item(), 1e-6);
    }
  }

  /**
   * Label smoothing 0.1 over C = 3 classes: l = 0.9 nll + 0.1 * mean_c(-lp).
   *
   * <pre>
   *   row 0: mean_c(-lp) = (2.4076 + 1.4076 + 0.4076) / 3 = 1.4076059644
   *          l_0 = 0.9 * 0.4076059644 + 0.1 * 1.4076059644 = 0.3668453680 + 0.1407605964 = 0.5076059644
   *   row 1: mean_c(-lp) = 1.4076059644 = nll_1, so l_1 = 1.4076059644
   *   mean = (0.5076059644 + 1.4076059644) / 2 = 0.9576059644
   * </pre>
   */
  @Test
  void labelSmoothing() {
    try (MemoryScope s = MemoryScope.open()) {
      CrossEntropyLoss mean = CrossEntropyLoss.builder().labelSmoothing(0.1).build();
      assertEquals(0.9576059644443805, value(mean, logits(), targets()), 1e-6);
      CrossEntropyLoss none =
          CrossEntropyLoss.builder().labelSmoothing(0.1).reduction(Reduction.NONE).build();
      Tensor l = none.apply(Tensor.of(logits()), targets());
      assertClose(new double[] {0.5076059644443807, 1.4076059644443804}, l.data(), 1e-6);
      assertThrows(
          IllegalArgumentException.class,
          () -> CrossEntropyLoss.builder().labelSmoothing(1.0).build());
      assertThrows(
          IllegalArgumentException.class,
          () -> CrossEntropyLoss.builder().labelSmoothing(-0.1).build());
    }
  }

  /**
   * Class weights [1, 2, 3]: the targets 2 and 1 weigh 3 and 2, and the mean divides by their sum:
   * (3 * 0.4076059644 + 2 * 1.4076059644) / 5 = (1.2228178933 + 2.8152119289) / 5 = 0.8076059644.
   */
  @Test
  void classWeights() {
    try (MemoryScope s = MemoryScope.open()) {
      NDArray w = NDArray.of(new double[] {1, 2, 3});
      try (CrossEntropyLoss loss = CrossEntropyLoss.builder().weight(w).build()) {
        w.close(); // the loss keeps its own reference
        assertEquals(0.8076059644443806, value(loss, logits(), targets()), 1e-6);
      }
    }
  }

  /** An ignored row contributes 0 and does not count in the mean: mean = nll_0 alone. */
  @Test
  void ignoreIndex() {
    try (MemoryScope s = MemoryScope.open()) {
      NDArray t = NDArray.of(new long[] {2, -100});
      assertEquals(NLL0, value(new CrossEntropyLoss(), logits(), t), 1e-6);
      Tensor none = new CrossEntropyLoss(Reduction.NONE).apply(Tensor.of(logits()), t);
      assertClose(new double[] {NLL0, 0}, none.data(), 1e-6);
      CrossEntropyLoss custom = CrossEntropyLoss.builder().ignoreIndex(1).build();
      assertEquals(NLL0, value(custom, logits(), targets()), 1e-6);
    }
  }

  @Test
  void unbatchedInput() {
    try (MemoryScope s = MemoryScope.open()) {
      NDArray row = NDArray.of(new double[] {1, 2, 3});
      NDArray t = NDArray.scalar(2, DType.INT64);
      assertEquals(NLL0, value(new CrossEntropyLoss(), row, t), 1e-6);
      Tensor none = new CrossEntropyLoss(Reduction.NONE).apply(Tensor.of(row.share()), t);
      assertEquals(0, none.ndim());
      assertEquals(NLL0, none.item(), 1e-6);
    }
  }

  /** (N, C, d) logits give the same losses as the (N * d, C) rows they hold. */
  @Test
  void spatialDimsMatchFlattenedRows() {
    try (MemoryScope s = MemoryScope.open()) {
      NDArray x = NDArray.randn(new Generator(7), DType.FLOAT64, 2, 4, 3);
      NDArray t = NDArray.of(new long[] {0, 3, 1, 2, 2, 0}, 2, 3);
      Tensor none = new CrossEntropyLoss(Reduction.NONE).apply(Tensor.of(x.share()), t);
      assertArrayEquals(new int[] {2, 3}, none.shape());
      NDArray rows = x.permute(0, 2, 1).reshape(6, 4);
      Tensor flat = new CrossEntropyLoss(Reduction.NONE).apply(Tensor.of(rows), t.reshape(6));
      assertClose(flat.data().toDoubleArray(), none.data(), 1e-12);
    }
  }

  @Test
  void gradients() {
    try (MemoryScope s = MemoryScope.open()) {
      NDArray x = NDArray.randn(new Generator(1), DType.FLOAT64, 4, 5);
      NDArray t = NDArray.of(new long[] {4, 0, 2, 2});
      GradCheck.defaults().check(in -> new CrossEntropyLoss().apply(in[0], t), x);
      GradCheck.defaults().check(in -> new CrossEntropyLoss(Reduction.NONE).apply(in[0], t), x);
      NDArray w = NDArray.of(new double[] {0.5, 1, 2, 1, 3});
      NDArray ti = NDArray.of(new long[] {4, -100, 2, 1});
      try (CrossEntropyLoss loss =
          CrossEntropyLoss.builder().weight(w).labelSmoothing(0.2).build()) {
        GradCheck.defaults().check(in -> loss.apply(in[0], ti), x);
      }
      NDArray spatial = NDArray.randn(new Generator(2), DType.FLOAT64, 2, 3, 2, 2);
      NDArray ts = NDArray.of(new long[] {0, 1, 2, 1, 2, 2, 0, 0}, 2, 2, 2);
      GradCheck.defaults()
          .check(
              in -> CrossEntropyLoss.builder().labelSmoothing(0.1).build().apply(in[0], ts),
              spatial);
    }
  }

  /** d(mean CE)/dx = (softmax(x) - one_hot(y)) / N, checked against the analytic form. */
  @Test
  void gradientIsSoftmaxMinusOneHot() {
    try (MemoryScope s = MemoryScope.open()) {
      Tensor x = Tensor.of(logits(), true);
      new CrossEntropyLoss().apply(x, targets()).backward();
      NDArray expected = x.data().softmax(1).sub(targets().oneHot(3, DType.FLOAT64)).div(2);
      assertClose(expected.toDoubleArray(), x.grad(), 1e-12);
      x.zeroGrad(true);
    }
  }

  @Test
  void rejectsBadTargets() {
    try (MemoryScope s = MemoryScope.open()) {
      CrossEntropyLoss loss = new CrossEntropyLoss();
      Tensor x = Tensor.of(logits());
      IllegalArgumentException dtype =
          assertThrows(
              IllegalArgumentException.class, () -> loss.apply(x, NDArray.of(new float[] {2, 1})));
      assertTrue(dtype.getMessage().contains("int64"), dtype.getMessage());
      IllegalArgumentException shape =
          assertThrows(
              IllegalArgumentException.class,
              () -> loss.apply(x, NDArray.of(new long[] {2, 1, 0})));
      assertTrue(shape.getMessage().contains("[2]"), shape.getMessage());
      IllegalArgumentException high =
          assertThrows(
              IllegalArgumentException.class, () -> loss.apply(x, NDArray.of(new long[] {2, 3})));
      assertTrue(high.getMessage().contains("index 3"), high.getMessage());
      IllegalArgumentException negative =
          assertThrows(
              IllegalArgumentException.class, () -> loss.apply(x, NDArray.of(new long[] {-1, 0})));
      assertTrue(negative.getMessage().contains("index -1"), negative.getMessage());
      try (CrossEntropyLoss twoWeights =
          CrossEntropyLoss.builder().weight(NDArray.of(new double[] {1, 2})).build()) {
        assertThrows(IllegalArgumentException.class, () -> twoWeights.apply(x, targets()));
      }
    }
  }
}
