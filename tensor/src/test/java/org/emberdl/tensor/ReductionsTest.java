package org.emberdl.tensor;

import static org.emberdl.tensor.testing.Approx.assertClose;
import static org.emberdl.tensor.testing.Approx.assertShape;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** Reductions against sums written out by hand or computed with plain loops. */
class ReductionsTest {
  // a = [[1, 2, 3], [4, 5, 6]]
  static NDArray a() {
    return NDArray.of(new double[] {1, 2, 3, 4, 5, 6}, 2, 3);
  }

  /**
   * A sum over the leading dims of a row-major block (a bias gradient: (N, T, C) summed over N and
   * T) adds whole rows into per-column accumulators. Checked against exact column sums of small
   * integers (exact in float32 too), on a contiguous block, on a column slice (rows wider than the
   * output) and with every thread count giving the same bits on random data.
   */
  @Test
  void columnSumsOfRowMajorBlocks() {
    int n = 6;
    int t = 7;
    int c = 37;
    double[] v = new double[n * t * c];
    double[] expected = new double[c];
    for (int i = 0; i < v.length; i++) {
      v[i] = (i * 7919 % 201) - 100; // integers in [-100, 100]
      expected[i % c] += v[i];
    }
    int saved = EmberConfig.threads();
    try (MemoryScope scope = MemoryScope.open()) {
      for (DType dt : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
        NDArray x = NDArray.of(v, n, t, c).cast(dt);
        NDArray s = x.sum(new int[] {0, 1}, false);
        assertShape(s, c);
        assertClose(expected, s, 0);
        NDArray kept = x.sum(new int[] {0, 1}, true);
        assertShape(kept, 1, 1, c);
        assertClose(expected, kept, 0);
        // columns 5..24 of each row: rows of 37 elements, 20 outputs
        double[] sliced = new double[20];
        System.arraycopy(expected, 5, sliced, 0, 20);
        assertClose(sliced, x.narrow(2, 5, 20).sum(new int[] {0, 1}, false), 0);
        NDArray r = NDArray.randn(new Generator(3), dt, 300, 130);
        EmberConfig.setThreads(1);
        double[] one = r.sum(0).toDoubleArray();
        double[] exact = new double[130];
        double[] rv = r.toDoubleArray();
        for (int i = 0; i < rv.length; i++) {
          exact[i % 130] += rv[i];
        }
        assertClose(exact, one, dt == DType.FLOAT32 ? 1e-6 : 1e-13);
        EmberConfig.setThreads(3);
        assertClose(one, r.sum(0), 0);
      }
    } finally {
      EmberConfig.setThreads(saved);
    }
  }

  @Test
  void sumAndMeanOverDims() {
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray a = a();
      assertClose(new double[] {21}, a.sum(), 0);
      assertClose(new double[] {5, 7, 9}, a.sum(0), 0);
      assertClose(new double[] {6, 15}, a.sum(-1), 0);
      NDArray k = a.sum(new int[] {1}, true);
      assertShape(k, 2, 1);
      assertClose(new double[] {3.5}, a.mean(), 0);
      assertClose(new double[] {2.5, 3.5, 4.5}, a.mean(new int[] {0}, false), 0);
      // over a transposed view and over every dim explicitly
      assertClose(new double[] {6, 15}, a.t().sum(0), 0);
      assertShape(a.sum(new int[] {0, 1}, true), 1, 1);
      // int sums are int64
      assertEquals(DType.INT64, NDArray.of(new int[] {1, 2}).sum().dtype());
      assertEquals(2, NDArray.of(new boolean[] {true, false, true}).sum().toLongArray()[0]);
      assertThrows(IllegalArgumentException.class, () -> NDArray.of(new int[] {1}).mean());
      assertThrows(IllegalArgumentException.class, () -> a.sum(new int[] {1, 1}, false));
      // empty sum is 0, empty mean NaN
      NDArray e = NDArray.zeros(DType.FLOAT32, 0, 3);
      assertClose(new double[] {0, 0, 0}, e.sum(0), 0);
      assertClose(new double[] {Double.NaN}, e.mean(), 0);
    }
  }

  @Test
  void sumOverMiddleDimsOfA4dArray() {
    try (MemoryScope scope = MemoryScope.open()) {
      int[] shape = {2, 3, 4, 5};
      NDArray x = NDArray.arange(0, 120, 1, DType.FLOAT64).reshape(shape);
      NDArray s = x.sum(new int[] {1, 3}, false);
      assertShape(s, 2, 4);
      double[] expected = new double[8];
      for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 3; j++) {
          for (int k = 0; k < 4; k++) {
            for (int l = 0; l < 5; l++) {
              expected[i * 4 + k] += ((i * 3 + j) * 4 + k) * 5 + l;
            }
          }
        }
      }
      assertClose(expected, s, 0);
    }
  }

  @Test
  void largeSumIsAccurateAndThreadIndependent() {
    int n = 3_000_001;
    try (MemoryScope scope = MemoryScope.open()) {
      // float32 0.1 summed 3M times: accumulated in double, the result is n * (float) 0.1
      NDArray x = NDArray.full(DType.FLOAT32, 0.1, n);
      double expected = n * (double) 0.1f;
      assertEquals(expected, x.sum().item(), expected * 1e-7);
      int saved = EmberConfig.threads();
      try {
        EmberConfig.setThreads(1);
        double one = x.sum().item();
        EmberConfig.setThreads(3);
        assertEquals(one, x.sum().item(), Math.abs(one) * 1e-12);
      } finally {
        EmberConfig.setThreads(saved);
      }
    }
  }

  @Test
  void varianceAndStd() {
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray a = a();
      // row 0: mean 2, squared deviations 1 + 0 + 1 = 2; unbiased var 2 / 2 = 1
      assertClose(new double[] {1, 1}, a.var(new int[] {1}, false), 1e-15);
      // population variance: 2 / 3
      assertClose(new double[] {2.0 / 3, 2.0 / 3}, a.var(new int[] {1}, 0, false), 1e-15);
      // all six: mean 3.5, sum sq dev = 17.5, unbiased 3.5
      assertClose(new double[] {Math.sqrt(3.5)}, a.std(new int[0], false), 1e-15);
    }
  }

  @Test
  void maxMinArgmaxWithIndices() {
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray x = NDArray.of(new double[] {3, 7, 7, -1, 0, 2}, 2, 3);
      assertEquals(7.0, x.max().item());
      assertEquals(-1.0, x.min().item());
      assertEquals(1, x.argmax().toLongArray()[0]); // first of the tied maxima
      assertEquals(3, x.argmin().toLongArray()[0]);
      try (ValuesIndices vi = x.max(1, false)) {
        assertClose(new double[] {7, 2}, vi.values(), 0);
        assertArrayEquals(new long[] {1, 2}, vi.indices().toLongArray());
      }
      try (ValuesIndices vi = x.min(0, true)) {
        assertShape(vi.values(), 1, 3);
        assertClose(new double[] {-1, 0, 2}, vi.values(), 0);
        assertArrayEquals(new long[] {1, 1, 1}, vi.indices().toLongArray());
      }
      assertClose(new double[] {3, 7, 7}, x.amax(new int[] {0}, false), 0);
      assertArrayEquals(new long[] {1, 2}, x.argmax(1, false).toLongArray());
      // NaN propagates through max and is its argmax
      NDArray n = NDArray.of(new double[] {1, Double.NaN, 5});
      assertEquals(Double.NaN, n.max().item());
      assertEquals(1, n.argmax().toLongArray()[0]);
      // ints keep their dtype
      assertEquals(DType.INT64, NDArray.of(new long[] {4, 9}).max().dtype());
      assertThrows(IllegalArgumentException.class, () -> NDArray.zeros(DType.FLOAT32, 0).max());
    }
  }

  @Test
  void allAnyNorm() {
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray b = NDArray.of(new boolean[] {true, false, true, true}, 2, 2);
      assertArrayEquals(new boolean[] {false}, b.all().toBooleanArray());
      assertArrayEquals(new boolean[] {true}, b.any().toBooleanArray());
      assertArrayEquals(new boolean[] {false, true}, b.all(new int[] {1}, false).toBooleanArray());
      NDArray v = NDArray.of(new double[] {3, -4});
      assertEquals(5.0, v.norm().item());
      assertEquals(7.0, v.norm(1, new int[0], false).item());
      assertEquals(4.0, v.norm(Double.POSITIVE_INFINITY, new int[0], false).item());
      assertEquals(Math.cbrt(27 + 64), v.norm(3, new int[0], false).item(), 1e-12);
    }
  }

  @Test
  void softmaxLogSoftmaxLogsumexpAreStable() {
    try (MemoryScope scope = MemoryScope.open()) {
      // rows [0, ln 2, ln 3] -> exp = [1, 2, 3], softmax = [1/6, 2/6, 3/6]
      double l2 = Math.log(2);
      double l3 = Math.log(3);
      NDArray x = NDArray.of(new double[] {0, l2, l3, 1000, 1000 + l2, 1000 + l3}, 2, 3);
      double[] p = {1 / 6.0, 2 / 6.0, 3 / 6.0};
      // 1e-12: 1000 + ln 2 is itself rounded to ~1e-13
      assertClose(new double[] {p[0], p[1], p[2], p[0], p[1], p[2]}, x.softmax(1), 1e-12);
      double[] lp = {Math.log(p[0]), Math.log(p[1]), Math.log(p[2])};
      assertClose(new double[] {lp[0], lp[1], lp[2], lp[0], lp[1], lp[2]}, x.logSoftmax(-1), 1e-12);
      // logsumexp = log 6 and 1000 + log 6
      assertClose(
          new double[] {Math.log(6), 1000 + Math.log(6)}, x.logsumexp(new int[] {1}, false), 1e-14);
      NDArray ninf = NDArray.full(DType.FLOAT64, Double.NEGATIVE_INFINITY, 2);
      assertEquals(Double.NEGATIVE_INFINITY, ninf.logsumexp(new int[] {0}, false).item());
      // softmax along dim 0 of a transposed view
      NDArray t = x.t(); // (3, 2)
      assertClose(new double[] {p[0], p[0], p[1], p[1], p[2], p[2]}, t.softmax(0), 1e-12);
      assertShape(x.logsumexp(new int[] {0, 1}, true), 1, 1);
    }
  }
}
