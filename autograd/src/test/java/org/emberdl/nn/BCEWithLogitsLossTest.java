package org.emberdl.nn;

import static org.emberdl.tensor.testing.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.emberdl.autograd.GradCheck;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;

class BCEWithLogitsLossTest {
  /**
   * l = max(x, 0) - x y + log1p(exp(-|x|)) for x = [0, 2, -1], y = [1, 0, 1]:
   *
   * <pre>
   *   x = 0,  y = 1: 0 - 0 + log 2                   = 0.6931471806
   *   x = 2,  y = 0: 2 - 0 + log1p(e^-2) = 2 + 0.1269280110 = 2.1269280110
   *   x = -1, y = 1: 0 + 1 + log1p(e^-1) = 1 + 0.3132616875 = 1.3132616875
   *   mean = 4.1333368791 / 3 = 1.3777789597
   * </pre>
   */
  @Test
  void handWorkedValues() {
    try (MemoryScope s = MemoryScope.open()) {
      Tensor x = Tensor.of(NDArray.of(new float[] {0, 2, -1}));
      NDArray y = NDArray.of(new float[] {1, 0, 1});
      assertEquals(1.3777789597070471, new BCEWithLogitsLoss().apply(x, y).item(), 1e-6);
      assertClose(
          new double[] {0.6931471805599453, 2.1269280110429727, 1.3132616875182228},
          new BCEWithLogitsLoss(Reduction.NONE).apply(x, y).data(),
          1e-6);
    }
  }

  /** |x| = 1000: exp only sees -1000, so the losses are exactly 1000 or 0, never inf or NaN. */
  @Test
  void largeLogitsStayFinite() {
    try (MemoryScope s = MemoryScope.open()) {
      Tensor x = Tensor.of(NDArray.of(new float[] {1000, -1000, 1000, -1000}), true);
      NDArray y = NDArray.of(new float[] {0, 1, 1, 0});
      Tensor none = new BCEWithLogitsLoss(Reduction.NONE).apply(x, y);
      assertClose(new double[] {1000, 1000, 0, 0}, none.data(), 1e-6);
      Tensor sum = new BCEWithLogitsLoss(Reduction.SUM).apply(x, y);
      assertEquals(2000, sum.item(), 1e-3);
      sum.backward();
      // d/dx = sigmoid(x) - y = [1, -1, 0, 0]
      assertClose(new double[] {1, -1, 0, 0}, x.grad(), 1e-6);
      x.zeroGrad(true);
    }
  }

  /**
   * At x = 0 exactly the gradient is sigmoid(0) - y = 0.5 - y (abs and relu's subgradient 0 at 0
   * must not leak into it).
   */
  @Test
  void gradientAtZeroLogit() {
    try (MemoryScope s = MemoryScope.open()) {
      Tensor x = Tensor.of(NDArray.of(new double[] {0, 0}), true);
      NDArray y = NDArray.of(new double[] {0, 1});
      new BCEWithLogitsLoss(Reduction.SUM).apply(x, y).backward();
      assertClose(new double[] {0.5, -0.5}, x.grad(), 1e-12);
      x.zeroGrad(true);
    }
  }

  /**
   * pos_weight p = 3: l = (1 - y) x + (1 + (p - 1) y) log1p(exp(-x))-stable softplus(-x). x = 0, y
   * = 1: 3 log 2 = 2.0794415417; x = 2, y = 0: 2 + softplus(-2) = 2.1269280110; sum = 4.2063695527.
   * An element weight [1, 0.5] gives 2.0794415417 + 1.0634640055 = 3.1429055472.
   */
  @Test
  void posWeightAndWeight() {
    try (MemoryScope s = MemoryScope.open()) {
      Tensor x = Tensor.of(NDArray.of(new double[] {0, 2}));
      NDArray y = NDArray.of(new double[] {1, 0});
      try (BCEWithLogitsLoss loss =
          new BCEWithLogitsLoss(Reduction.SUM, null, NDArray.of(new double[] {3}))) {
        assertEquals(4.206369552722808, loss.apply(x, y).item(), 1e-6);
      }
      try (BCEWithLogitsLoss loss =
          new BCEWithLogitsLoss(
              Reduction.SUM, NDArray.of(new double[] {1, 0.5}), NDArray.of(new double[] {3}))) {
        assertEquals(2.0794415416798357 + 2.1269280110429727 / 2, loss.apply(x, y).item(), 1e-6);
      }
    }
  }

  @Test
  void gradients() {
    try (MemoryScope s = MemoryScope.open()) {
      NDArray x = NDArray.randn(new Generator(8), DType.FLOAT64, 3, 4).mul(3);
      NDArray y = NDArray.rand(new Generator(9), DType.FLOAT64, 3, 4);
      NDArray pw = NDArray.of(new double[] {0.5, 1, 2, 4});
      GradCheck.defaults().check(in -> new BCEWithLogitsLoss().apply(in[0], y), x);
      // gradients with respect to the target too
      GradCheck.defaults()
          .check(in -> new BCEWithLogitsLoss(Reduction.NONE).apply(in[0], in[1]), x, y);
      try (BCEWithLogitsLoss loss = new BCEWithLogitsLoss(Reduction.MEAN, null, pw)) {
        GradCheck.defaults().check(in -> loss.apply(in[0], in[1]), x, y);
      }
    }
  }

  @Test
  void rejectsMismatchedShapes() {
    try (MemoryScope s = MemoryScope.open()) {
      Tensor x = Tensor.of(NDArray.zeros(DType.FLOAT32, 2, 3));
      assertThrows(
          IllegalArgumentException.class,
          () -> new BCEWithLogitsLoss().apply(x, NDArray.zeros(DType.FLOAT32, 3)));
      try (BCEWithLogitsLoss loss =
          new BCEWithLogitsLoss(Reduction.MEAN, null, NDArray.ones(DType.FLOAT32, 2))) {
        assertThrows(
            IllegalArgumentException.class,
            () -> loss.apply(x, NDArray.zeros(DType.FLOAT32, 2, 3)));
      }
    }
  }
}
