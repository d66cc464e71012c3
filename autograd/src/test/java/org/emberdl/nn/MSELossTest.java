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

class MSELossTest {
  /**
   * x = [1, 2, 3], y = [1.5, 2, 1]: differences [-0.5, 0, 2], squares [0.25, 0, 4], sum 4.25, mean
   * 4.25 / 3 = 1.4166666667; d(mean)/dx = 2 (x - y) / 3 = [-1/3, 0, 4/3].
   */
  @Test
  void handWorkedValuesAndGradient() {
    try (MemoryScope s = MemoryScope.open()) {
      NDArray y = NDArray.of(new float[] {1.5f, 2, 1});
      Tensor x = Tensor.of(NDArray.of(new float[] {1, 2, 3}), true);
      Tensor mean = new MSELoss().apply(x, y);
      assertEquals(1.4166666666666667, mean.item(), 1e-6);
      assertEquals(4.25, new MSELoss(Reduction.SUM).apply(x, y).item(), 1e-6);
      assertClose(new double[] {0.25, 0, 4}, new MSELoss(Reduction.NONE).apply(x, y).data(), 1e-6);
      mean.backward();
      assertClose(new double[] {-1.0 / 3, 0, 4.0 / 3}, x.grad(), 1e-6);
      x.zeroGrad(true);
    }
  }

  @Test
  void targetOfAnotherDtypeIsConverted() {
    try (MemoryScope s = MemoryScope.open()) {
      Tensor x = Tensor.of(NDArray.of(new float[] {1, 2, 3}));
      Tensor l = new MSELoss().apply(x, NDArray.of(new long[] {1, 2, 1}));
      assertEquals(DType.FLOAT32, l.dtype());
      assertEquals(4.0 / 3, l.item(), 1e-6);
    }
  }

  @Test
  void gradientsForInputAndTarget() {
    try (MemoryScope s = MemoryScope.open()) {
      NDArray a = NDArray.randn(new Generator(5), DType.FLOAT64, 3, 4);
      NDArray b = NDArray.randn(new Generator(6), DType.FLOAT64, 3, 4);
      GradCheck.defaults().check(in -> new MSELoss().apply(in[0], in[1]), a, b);
      GradCheck.defaults().check(in -> new MSELoss(Reduction.NONE).apply(in[0], b), a);
    }
  }

  @Test
  void rejectsShapeMismatch() {
    try (MemoryScope s = MemoryScope.open()) {
      Tensor x = Tensor.of(NDArray.zeros(DType.FLOAT32, 3, 1));
      assertThrows(
          IllegalArgumentException.class,
          () -> new MSELoss().apply(x, NDArray.zeros(DType.FLOAT32, 3)));
    }
  }
}
