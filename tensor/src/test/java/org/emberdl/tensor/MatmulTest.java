package org.emberdl.tensor;

import static org.emberdl.tensor.testing.Approx.assertClose;
import static org.emberdl.tensor.testing.Approx.assertShape;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** matmul against a plain triple loop in double on the same values. */
class MatmulTest {
  /** Reference: (b, m, k) x (b, k, n) on row-major double arrays. */
  static double[] naive(double[] a, double[] b, int batch, int m, int k, int n, boolean shareB) {
    double[] c = new double[batch * m * n];
    for (int t = 0; t < batch; t++) {
      int bo = shareB ? 0 : t * k * n;
      for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
          double s = 0;
          for (int p = 0; p < k; p++) {
            s += a[(t * m + i) * k + p] * b[bo + p * n + j];
          }
          c[(t * m + i) * n + j] = s;
        }
      }
    }
    return c;
  }

  static NDArray randn(long seed, DType dtype, int... shape) {
    return NDArray.randn(new Generator(seed), dtype, shape);
  }

  @Test
  void handWorked2x2() {
    try (MemoryScope scope = MemoryScope.open()) {
      // [[1, 2], [3, 4]] @ [[5, 6], [7, 8]] = [[19, 22], [43, 50]]
      NDArray a = NDArray.of(new float[] {1, 2, 3, 4}, 2, 2);
      NDArray b = NDArray.of(new float[] {5, 6, 7, 8}, 2, 2);
      assertClose(new double[] {19, 22, 43, 50}, a.matmul(b), 0);
      // a^T b = [[1, 3], [2, 4]] @ b = [[26, 30], [38, 44]], through the transpose flag
      assertClose(new double[] {26, 30, 38, 44}, a.t().matmul(b), 0);
      // a b^T = [[17, 23], [39, 53]]
      assertClose(new double[] {17, 23, 39, 53}, a.matmul(b.t()), 0);
    }
  }

  @Test
  void everyTransposeComboAndOddSizes() {
    int m = 37;
    int k = 129;
    int n = 65;
    for (DType dt : new DType[] {DType.FLOAT64, DType.FLOAT32}) {
      double tol = dt == DType.FLOAT64 ? 1e-12 : 1e-5;
      try (MemoryScope scope = MemoryScope.open()) {
        NDArray a = randn(1, dt, m, k);
        NDArray b = randn(2, dt, k, n);
        double[] expected = naive(a.toDoubleArray(), b.toDoubleArray(), 1, m, k, n, false);
        assertClose(expected, a.matmul(b), tol);
        NDArray at = a.t().contiguous().t(); // same values, column-major storage
        NDArray bt = b.t().contiguous().t();
        assertClose(expected, at.matmul(b), tol);
        assertClose(expected, a.matmul(bt), tol);
        assertClose(expected, at.matmul(bt), tol);
        // a view BLAS cannot describe (column step 2) is copied first
        NDArray wide = randn(3, dt, k, 2 * n);
        NDArray stepped = wide.slice(1, 0, 2 * n, 2);
        double[] e2 = naive(a.toDoubleArray(), stepped.toDoubleArray(), 1, m, k, n, false);
        assertClose(e2, a.matmul(stepped), tol);
      }
    }
  }

  /**
   * Inner dimensions past CpuGemm's split (512) run as several BLAS calls accumulating into C: 1111
   * = slices of 370, 370 and 371, in every transpose combination, a batch of two, and the row split
   * over threads (where the slices of each block's rows stay the same). The sums must match an
   * exact reduction.
   */
  @Test
  void longInnerDimensionSplitIntoSlices() {
    int m = 40;
    int k = 1111;
    int n = 19;
    int saved = EmberConfig.threads();
    for (DType dt : new DType[] {DType.FLOAT64, DType.FLOAT32}) {
      double tol = dt == DType.FLOAT64 ? 1e-12 : 2e-5;
      try (MemoryScope scope = MemoryScope.open()) {
        NDArray a = randn(11, dt, 2, m, k);
        NDArray b = randn(12, dt, 2, k, n);
        double[] expected = naive(a.toDoubleArray(), b.toDoubleArray(), 2, m, k, n, false);
        NDArray at = a.transpose(1, 2).contiguous().transpose(1, 2);
        NDArray bt = b.transpose(1, 2).contiguous().transpose(1, 2);
        for (int threads : new int[] {1, 3}) {
          EmberConfig.setThreads(threads);
          NDArray c = a.matmul(b);
          assertClose(expected, c, tol);
          assertClose(expected, at.matmul(b), tol);
          assertClose(expected, a.matmul(bt), tol);
          assertClose(expected, at.matmul(bt), tol);
          // one matrix: the rows split over the threads instead of the batch
          NDArray a0 = a.select(0, 0);
          NDArray b0 = b.select(0, 0);
          double[] e0 = naive(a0.toDoubleArray(), b0.toDoubleArray(), 1, m, k, n, false);
          assertClose(e0, a0.matmul(b0), tol);
        }
      } finally {
        EmberConfig.setThreads(saved);
      }
    }
  }

  @Test
  void batchedAndBroadcast() {
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray a = randn(4, DType.FLOAT64, 3, 5, 4);
      NDArray b = randn(5, DType.FLOAT64, 3, 4, 6);
      NDArray c = a.matmul(b);
      assertShape(c, 3, 5, 6);
      assertClose(naive(a.toDoubleArray(), b.toDoubleArray(), 3, 5, 4, 6, false), c, 1e-12);
      // (3, 5, 4) @ (4, 6): b shared across the batch (folded into one GEMM)
      NDArray w = randn(6, DType.FLOAT64, 4, 6);
      assertClose(
          naive(a.toDoubleArray(), w.toDoubleArray(), 3, 5, 4, 6, true), a.matmul(w), 1e-12);
      // broadcast batch dims: (2, 1, 5, 4) @ (3, 4, 6) -> (2, 3, 5, 6)
      NDArray a2 = randn(7, DType.FLOAT64, 2, 1, 5, 4);
      NDArray out = a2.matmul(b);
      assertShape(out, 2, 3, 5, 6);
      double[] a2v = a2.toDoubleArray();
      double[] bv = b.toDoubleArray();
      double[] ov = out.toDoubleArray();
      for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 3; j++) {
          double[] ai = java.util.Arrays.copyOfRange(a2v, i * 20, i * 20 + 20);
          double[] bj = java.util.Arrays.copyOfRange(bv, j * 24, j * 24 + 24);
          double[] e = naive(ai, bj, 1, 5, 4, 6, false);
          assertClose(
              e, java.util.Arrays.copyOfRange(ov, (i * 3 + j) * 30, (i * 3 + j) * 30 + 30), 1e-12);
        }
      }
    }
  }

  @Test
  void vectorsFollowTorchRules() {
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray v = NDArray.of(new double[] {1, 2, 3});
      NDArray m = NDArray.of(new double[] {1, 0, 0, 1, 1, 1}, 3, 2);
      assertShape(v.matmul(v), new int[0]);
      assertClose(new double[] {14}, v.matmul(v), 0);
      assertClose(new double[] {4, 5}, v.matmul(m), 0); // (3) @ (3, 2) -> (2)
      // [[1, 0, 1], [0, 1, 1]] @ [1, 2, 3] = [4, 5]
      assertClose(new double[] {4, 5}, m.t().matmul(v), 0); // (2, 3) @ (3) -> (2)
      NDArray batch = NDArray.stack(0, m.t(), m.t()); // (2, 2, 3)
      assertShape(batch.matmul(v), 2, 2);
    }
  }

  @Test
  void badShapesAndDtypes() {
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray a = NDArray.zeros(DType.FLOAT32, 2, 3);
      assertThrows(IllegalArgumentException.class, () -> a.matmul(a));
      assertThrows(
          IllegalArgumentException.class, () -> a.matmul(NDArray.zeros(DType.FLOAT64, 3, 2)));
      assertThrows(
          IllegalArgumentException.class,
          () -> NDArray.of(new int[] {1}).matmul(NDArray.of(new int[] {1})));
      assertThrows(
          IllegalArgumentException.class, () -> NDArray.scalar(1, DType.FLOAT32).matmul(a));
      // k = 0 gives zeros; m = 0 gives an empty result
      assertClose(
          new double[] {0, 0, 0, 0},
          NDArray.zeros(DType.FLOAT32, 2, 0).matmul(NDArray.zeros(DType.FLOAT32, 0, 2)),
          0);
      assertShape(
          NDArray.zeros(DType.FLOAT32, 0, 3).matmul(NDArray.zeros(DType.FLOAT32, 3, 2)), 0, 2);
    }
  }
}
