package org.emberdl.nn;

import static org.emberdl.tensor.testing.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.emberdl.autograd.GradCheck;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;

/** The fused ReLU + max pooling op and Sequential's use of it. */
class ReluMaxPoolTest {
  private static final int[] TWO = {2};
  private static final int[] ZERO = {0};

  /**
   * One 4x4 plane whose four 2x2 windows cover the cases, values and gradients worked out by hand:
   * a positive maximum, a tie of positives, a window of negatives only, and zeros with negatives.
   */
  @Test
  void valuesAndGradientsByHand() {
    double[] plane = {
      1, 3, /**/ 2, 2, //
      -1, 0.5, /**/ 2, -4, //
      -3, -1, /**/ 0, -2, //
      -2, -5, /**/ -1, 0
    };
    try (MemoryScope s = MemoryScope.open()) {
      Tensor x = Tensor.of(NDArray.of(plane, 1, 1, 4, 4).cast(DType.FLOAT32), true);
      Tensor y = x.reluMaxPool2d(TWO, TWO, ZERO);
      // maxima 3, 2 (first of three 2s), -1 -> relu 0, 0 -> 0
      assertClose(new double[] {3, 2, 0, 0}, y.data(), 0);
      assertEquals("reluMaxPool2d", y.gradFn().name());
      Tensor w =
          Tensor.of(NDArray.of(new double[] {10, 20, 30, 40}, 1, 1, 2, 2).cast(DType.FLOAT32));
      y.mul(w).sum().backward();
      double[] expected = new double[16];
      expected[1] = 10; // the 3
      expected[2] = 20; // the first 2 of its window
      // windows whose maximum is not positive send nothing back
      assertClose(expected, x.grad(), 0);
    }
  }

  /** The fused op against relu() then maxPool2d() on random data with ties and zeros. */
  @Test
  void matchesReluThenMaxPool() {
    try (MemoryScope s = MemoryScope.open()) {
      // rounded to halves: many ties and exact zeros
      NDArray data =
          NDArray.randint(new Generator(7), -4, 5, 3, 4, 9, 7).cast(DType.FLOAT32).div(2);
      NDArray g = NDArray.randn(new Generator(8), DType.FLOAT32, 3, 4, 4, 3);
      Tensor a = Tensor.of(data.copy(), true);
      Tensor b = Tensor.of(data.copy(), true);
      Tensor fused = a.reluMaxPool2d(TWO, TWO, ZERO);
      Tensor plain = b.relu().maxPool2d(TWO, TWO, ZERO);
      assertClose(plain.data().toDoubleArray(), fused.data(), 0);
      fused.mul(Tensor.of(g)).sum().backward();
      plain.mul(Tensor.of(g)).sum().backward();
      assertClose(b.grad().toDoubleArray(), a.grad(), 0);
    }
  }

  @Test
  void gradCheck() {
    try (MemoryScope s = MemoryScope.open()) {
      NDArray x = NDArray.randn(new Generator(9), DType.FLOAT64, 2, 3, 6, 5);
      GradCheck.defaults()
          .check(t -> t[0].reluMaxPool2d(new int[] {3, 2}, new int[] {2, 1}, new int[] {1, 0}), x);
    }
  }

  /** Sequential runs ReLU + MaxPool2d as the fused op, with the values and gradients of the two. */
  @Test
  void sequentialFusesReluFollowedByMaxPool() {
    try (Sequential fused = new Sequential(new ReLU(), new MaxPool2d(2));
        Sequential separate = new Sequential(new ReLU(), new Identity(), new MaxPool2d(2));
        MemoryScope s = MemoryScope.open()) {
      NDArray data = NDArray.randn(new Generator(10), DType.FLOAT32, 2, 3, 6, 6);
      Tensor a = Tensor.of(data.copy(), true);
      Tensor b = Tensor.of(data.copy(), true);
      Tensor ya = fused.forward(a);
      Tensor yb = separate.forward(b);
      assertEquals("reluMaxPool2d", ya.gradFn().name());
      assertEquals("maxPool2d", yb.gradFn().name());
      assertArrayEquals(yb.shape(), ya.shape());
      assertClose(yb.data().toDoubleArray(), ya.data(), 0);
      ya.sum().backward();
      yb.sum().backward();
      assertClose(b.grad().toDoubleArray(), a.grad(), 0);
    }
  }

  /** A subclass may change what its forward does, so only the plain classes are fused. */
  @Test
  void subclassesAreNotFused() {
    ReLU leaky =
        new ReLU() {
          @Override
          public Tensor forward(Tensor input) {
            return input.leakyRelu(0.5);
          }
        };
    try (Sequential net = new Sequential(leaky, new MaxPool2d(2));
        MemoryScope s = MemoryScope.open()) {
      Tensor x = Tensor.of(NDArray.of(new double[] {-2, -4, -6, -8}, 1, 1, 2, 2), true);
      Tensor y = net.forward(x);
      assertClose(new double[] {-1}, y.data(), 0);
      assertTrue(y.gradFn().name().equals("maxPool2d"));
    }
  }
}
