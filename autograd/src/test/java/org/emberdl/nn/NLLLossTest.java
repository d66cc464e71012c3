package org.emberdl.nn;

import static org.emberdl.tensor.testing.Approx.assertClose;
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

class NLLLossTest {
  /**
   * Probabilities [[0.2, 0.3, 0.5], [0.1, 0.6, 0.3]], targets [2, 0]: the loss picks -log 0.5 =
   * 0.6931471806 and -log 0.1 = 2.3025850930; mean = 1.4978661368, sum = 2.9957322736.
   */
  @Test
  void pickedLogProbabilities() {
    try (MemoryScope s = MemoryScope.open()) {
      NDArray lp = NDArray.of(new double[] {0.2, 0.3, 0.5, 0.1, 0.6, 0.3}, 2, 3).log();
      NDArray t = NDArray.of(new long[] {2, 0});
      assertEquals(1.4978661367769954, new NLLLoss().apply(Tensor.of(lp), t).item(), 1e-6);
      assertEquals(
          2.995732273553991, new NLLLoss(Reduction.SUM).apply(Tensor.of(lp), t).item(), 1e-6);
      assertClose(
          new double[] {0.6931471805599453, 2.302585092994046},
          new NLLLoss(Reduction.NONE).apply(Tensor.of(lp), t).data(),
          1e-6);
    }
  }

  /** Weights [2, 1, 1]: (1 * 0.6931 + 2 * 2.3026) / (1 + 2) = 5.2983173665 / 3 = 1.7661057888. */
  @Test
  void weightedMean() {
    try (MemoryScope s = MemoryScope.open()) {
      NDArray lp = NDArray.of(new double[] {0.2, 0.3, 0.5, 0.1, 0.6, 0.3}, 2, 3).log();
      NDArray t = NDArray.of(new long[] {2, 0});
      try (NLLLoss loss = new NLLLoss(Reduction.MEAN, NDArray.of(new double[] {2, 1, 1}), -100)) {
        assertEquals(1.7661057887826814, loss.apply(Tensor.of(lp), t).item(), 1e-6);
      }
    }
  }

  /** The same as cross-entropy on the logits the log-probabilities came from. */
  @Test
  void matchesCrossEntropyOfLogits() {
    try (MemoryScope s = MemoryScope.open()) {
      NDArray x = NDArray.randn(new Generator(3), DType.FLOAT64, 5, 4);
      NDArray t = NDArray.of(new long[] {0, 3, 3, 1, 2});
      double ce = new CrossEntropyLoss().apply(Tensor.of(x.share()), t).item();
      double nll = new NLLLoss().apply(Tensor.of(x.logSoftmax(1)), t).item();
      assertEquals(ce, nll, 1e-12);
    }
  }

  @Test
  void gradients() {
    try (MemoryScope s = MemoryScope.open()) {
      NDArray x = NDArray.randn(new Generator(4), DType.FLOAT64, 3, 4);
      NDArray t = NDArray.of(new long[] {1, -100, 3});
      GradCheck.defaults().check(in -> new NLLLoss().apply(in[0], t), x);
      GradCheck.defaults().check(in -> new NLLLoss().apply(in[0].logSoftmax(1), t), x);
    }
  }

  @Test
  void rejectsOutOfRangeClass() {
    try (MemoryScope s = MemoryScope.open()) {
      NDArray lp = NDArray.zeros(DType.FLOAT32, 2, 3);
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> new NLLLoss().apply(Tensor.of(lp), NDArray.of(new long[] {0, 7})));
      assertTrue(e.getMessage().contains("7"), e.getMessage());
      assertTrue(e.getMessage().startsWith("NLLLoss"), e.getMessage());
    }
  }
}
