package org.emberdl.tensor;

import static org.emberdl.tensor.testing.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.SplittableRandom;
import org.emberdl.tensor.ops.UnaryOp;
import org.junit.jupiter.api.Test;

/**
 * {@link FusedOps#linear}: bias, GEMM and epilogue in one pass, against hand-worked values and a
 * plain float64 triple loop, across the CPU kernel's paths (threads, the inner dimension sliced
 * above 512, a null bias or epilogue, k = 0, views that must be copied).
 */
class FusedLinearTest {
  // x = [[1, 2], [3, -4]], W = [[1, 0], [2, -1], [0.5, 0.5]], b = [0.5, -10, 1]
  // x W^T = [[1, 0, 1.5], [3, 10, -0.5]]; + b = [[1.5, -10, 2.5], [3.5, 0, 0.5]]
  private static final double[] X = {1, 2, 3, -4};
  private static final double[] W = {1, 0, 2, -1, 0.5, 0.5};
  private static final double[] B = {0.5, -10, 1};

  @Test
  void handWorkedValuesWithAndWithoutBiasAndRelu() {
    for (DType t : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
      try (MemoryScope s = MemoryScope.open()) {
        NDArray x = NDArray.of(X, 2, 2).cast(t);
        NDArray w = NDArray.of(W, 3, 2).cast(t);
        NDArray b = NDArray.of(B, 3).cast(t);
        NDArray plain = FusedOps.linear(x, w, b, null);
        assertArrayEquals(new int[] {2, 3}, plain.shape());
        assertEquals(t, plain.dtype());
        assertClose(new double[] {1.5, -10, 2.5, 3.5, 0, 0.5}, plain, 1e-6);
        assertClose(
            new double[] {1.5, 0, 2.5, 3.5, 0, 0.5}, FusedOps.linear(x, w, b, UnaryOp.RELU), 1e-6);
        // no bias: relu(x W^T) = [[1, 0, 1.5], [3, 10, 0]]
        assertClose(
            new double[] {1, 0, 1.5, 3, 10, 0}, FusedOps.linear(x, w, null, UnaryOp.RELU), 1e-6);
      }
    }
  }

  @Test
  void matchesAFloat64ReferenceOnEveryPath() {
    int saved = EmberConfig.threads();
    try {
      // k = 784 > 512: the GEMM runs in slices that add onto the bias; m = 37 splits unevenly
      for (int threads : new int[] {1, 2, 3}) {
        EmberConfig.setThreads(threads);
        check(37, 784, 19, true, UnaryOp.RELU, 1e-4);
        check(64, 130, 10, true, null, 1e-4);
        check(5, 3, 7, false, UnaryOp.RELU, 1e-5);
        check(33, 600, 12, false, UnaryOp.TANH, 1e-4);
      }
    } finally {
      EmberConfig.setThreads(saved);
    }
  }

  /** The fused result against sum_j x[i][j] w[o][j] + b[o] in double, then the epilogue. */
  private static void check(int m, int k, int n, boolean withBias, UnaryOp epilogue, double tol) {
    SplittableRandom r = new SplittableRandom(m * 1000L + k * 10L + n);
    double[] x = gaussian(r, m * k);
    double[] w = gaussian(r, n * k);
    double[] b = gaussian(r, n);
    double[] expected = new double[m * n];
    for (int i = 0; i < m; i++) {
      for (int o = 0; o < n; o++) {
        double sum = withBias ? b[o] : 0;
        for (int j = 0; j < k; j++) {
          sum += x[i * k + j] * w[o * k + j];
        }
        expected[i * n + o] = epilogue == null ? sum : apply(epilogue, sum);
      }
    }
    try (MemoryScope s = MemoryScope.open()) {
      for (DType t : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
        NDArray y =
            FusedOps.linear(
                NDArray.of(x, m, k).cast(t),
                NDArray.of(w, n, k).cast(t),
                withBias ? NDArray.of(b, n).cast(t) : null,
                epilogue);
        // float32: inputs rounded to float and k products summed in float (|sum| ~ sqrt(k))
        assertClose(expected, y, t == DType.FLOAT64 ? 1e-10 : tol * Math.sqrt(k));
      }
    }
  }

  private static double apply(UnaryOp op, double v) {
    return switch (op) {
      case RELU -> Math.max(v, 0);
      case TANH -> Math.tanh(v);
      default -> throw new IllegalArgumentException("no reference for " + op);
    };
  }

  private static double[] gaussian(SplittableRandom r, int n) {
    double[] v = new double[n];
    for (int i = 0; i < n; i++) {
      v[i] = r.nextGaussian();
    }
    return v;
  }

  @Test
  void batchDimsAndViewsThatMustBeCopied() {
    try (MemoryScope s = MemoryScope.open()) {
      // input (2, 1, 2) = the hand-worked rows; leading dims are kept
      NDArray x3 = NDArray.of(X, 2, 1, 2);
      NDArray w = NDArray.of(W, 3, 2);
      NDArray b = NDArray.of(B, 3);
      NDArray y3 = FusedOps.linear(x3, w, b, UnaryOp.RELU);
      assertArrayEquals(new int[] {2, 1, 3}, y3.shape());
      assertClose(new double[] {1.5, 0, 2.5, 3.5, 0, 0.5}, y3, 1e-12);
      // x as a transposed view (column stride 2) and W as the transpose of a (2, 3) array
      // (column stride 3): both are copied before the GEMM
      NDArray xt = NDArray.of(new double[] {1, 3, 2, -4}, 2, 2).transpose(0, 1);
      NDArray wt = NDArray.of(new double[] {1, 2, 0.5, 0, -1, 0.5}, 2, 3).transpose(0, 1);
      assertClose(
          new double[] {1.5, -10, 2.5, 3.5, 0, 0.5}, FusedOps.linear(xt, wt, b, null), 1e-12);
      // a bias expanded from one element (stride 0) is made contiguous
      NDArray b1 = NDArray.of(new double[] {2}, 1).expand(3);
      assertClose(
          new double[] {3, 2, 3.5, 5, 12, 1.5},
          FusedOps.linear(NDArray.of(X, 2, 2), w, b1, null),
          1e-12);
    }
  }

  @Test
  void emptyInnerDimensionGivesTheBias() {
    try (MemoryScope s = MemoryScope.open()) {
      NDArray x = NDArray.zeros(DType.FLOAT32, 2, 0);
      NDArray w = NDArray.zeros(DType.FLOAT32, 2, 0);
      NDArray b = NDArray.of(new float[] {-1, 2}, 2);
      assertClose(new double[] {0, 2, 0, 2}, FusedOps.linear(x, w, b, UnaryOp.RELU), 0);
      assertClose(new double[] {0, 0, 0, 0}, FusedOps.linear(x, w, null, null), 0);
      assertArrayEquals(
          new int[] {0, 2},
          FusedOps.linear(NDArray.zeros(DType.FLOAT32, 0, 0), w, b, null).shape());
    }
  }

  @Test
  void rejectsShapesAndDtypesThatDoNotFit() {
    try (MemoryScope s = MemoryScope.open()) {
      NDArray x = NDArray.zeros(DType.FLOAT32, 4, 3);
      NDArray w = NDArray.zeros(DType.FLOAT32, 2, 5);
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> FusedOps.linear(x, w, null, null));
      assertEquals(
          "linear needs input (*, in), weight (out, in) and bias (out) or null; got input [4, 3],"
              + " weight [2, 5], bias null",
          e.getMessage());
      NDArray w3 = NDArray.zeros(DType.FLOAT32, 2, 3);
      NDArray b64 = NDArray.zeros(DType.FLOAT64, 2);
      e = assertThrows(IllegalArgumentException.class, () -> FusedOps.linear(x, w3, b64, null));
      assertEquals(
          "linear needs input, weight and bias of one dtype and device; got input float32 on cpu,"
              + " bias float64 on cpu",
          e.getMessage());
      NDArray xi = NDArray.zeros(DType.INT32, 4, 3);
      NDArray wi = NDArray.zeros(DType.INT32, 2, 3);
      e = assertThrows(IllegalArgumentException.class, () -> FusedOps.linear(xi, wi, null, null));
      assertEquals("linear needs float32 or float64 arrays, got int32", e.getMessage());
    }
  }
}
