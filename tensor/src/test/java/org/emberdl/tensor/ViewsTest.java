package org.emberdl.tensor;

import static org.emberdl.tensor.testing.Approx.assertClose;
import static org.emberdl.tensor.testing.Approx.assertShape;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Views share storage and never copy; copies happen only where a view is impossible. */
class ViewsTest {
  static NDArray iota(int... shape) {
    return NDArray.arange(0, Shape.numel(shape), 1, DType.FLOAT64).reshape(shape);
  }

  /**
   * Copies between strided views with a dense last dim (attention's head merge and head-gradient
   * writes) run row by row: every element lands where index arithmetic says, in float32 and
   * float64, with 1 and 3 threads, and the elements of the destination outside the view are left
   * alone. A short last dim (4) takes the general loop and gives the same.
   */
  @Test
  void stridedCopiesWithDenseRows() {
    int n = 5;
    int h = 3;
    int t = 7;
    int saved = EmberConfig.threads();
    try (MemoryScope scope = MemoryScope.open()) {
      for (DType dt : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
        for (int d : new int[] {16, 4}) {
          double[] v = new double[n * h * t * d];
          for (int i = 0; i < v.length; i++) {
            v[i] = i;
          }
          NDArray heads = NDArray.of(v, n, h, t, d).cast(dt);
          for (int threads : new int[] {1, 3}) {
            EmberConfig.setThreads(threads);
            // merge: (n, h, t, d) -> (n, t, h * d), element [a, c, b * d + e] = heads[a, b, c, e]
            double[] merged = heads.permute(0, 2, 1, 3).contiguous().toDoubleArray();
            for (int a = 0; a < n; a++) {
              for (int b = 0; b < h; b++) {
                for (int c = 0; c < t; c++) {
                  for (int e = 0; e < d; e++) {
                    double want = ((a * h + b) * t + c) * d + e;
                    assertEquals(want, merged[(a * t + c) * h * d + b * d + e], 0);
                  }
                }
              }
            }
            // write into the middle third of a packed (n, t, 3 * h * d) array, the rest -1
            NDArray packed = NDArray.full(dt, -1, n, t, 3 * h * d);
            packed.narrow(2, h * d, h * d).view(n, t, h, d).permute(0, 2, 1, 3).copyFrom(heads);
            double[] p = packed.toDoubleArray();
            for (int a = 0; a < n; a++) {
              for (int c = 0; c < t; c++) {
                for (int j = 0; j < 3 * h * d; j++) {
                  int b = j / d - h;
                  double want = b < 0 || b >= h ? -1 : ((a * h + b) * t + c) * d + j % d;
                  assertEquals(
                      want, p[(a * t + c) * 3 * h * d + j], 0, "at " + a + "," + c + "," + j);
                }
              }
            }
          }
        }
      }
    } finally {
      EmberConfig.setThreads(saved);
    }
  }

  @Test
  void reshapeOfContiguousIsAView() {
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray a = iota(2, 3, 4);
      NDArray r = a.reshape(4, -1);
      assertShape(r, 4, 6);
      assertEquals(a.storage(), r.storage());
      r.select(0, 0).fill(-1);
      assertEquals(-1.0, a.toDoubleArray()[5]);
      assertThrows(IllegalArgumentException.class, () -> a.reshape(5, -1));
      assertThrows(IllegalArgumentException.class, () -> a.reshape(-1, -1));
    }
  }

  @Test
  void reshapeOfTransposeCopiesButViewMergesCompatibleDims() {
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray a = iota(2, 3, 4);
      NDArray t = a.transpose(0, 2); // (4, 3, 2), not contiguous
      assertFalse(t.isContiguous());
      NDArray flat = t.reshape(-1);
      assertNotEquals(a.storage(), flat.storage());
      // t[i][j][k] = a[k][j][i] = 12k + 4j + i
      double[] expected = new double[24];
      for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 3; j++) {
          for (int k = 0; k < 2; k++) {
            expected[(i * 3 + j) * 2 + k] = 12 * k + 4 * j + i;
          }
        }
      }
      assertClose(expected, flat, 0);
      assertThrows(IllegalArgumentException.class, () -> t.view(-1));
      // a slice along the last dim keeps the first two dims mergeable: a view
      NDArray s = a.narrow(2, 1, 2); // (2, 3, 2) with strides (12, 4, 1)
      NDArray v = s.view(6, 2);
      assertEquals(a.storage(), v.storage());
      assertClose(new double[] {1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22}, v, 0);
      // splitting a dim of a strided view is a view too
      NDArray cols = iota(4, 6).slice(1, 0, 6, 2); // (4, 3) strides (6, 2)
      NDArray split = cols.view(2, 2, 3);
      assertEquals(cols.storage(), split.storage());
      assertClose(cols.toDoubleArray(), split, 0);
    }
  }

  @Test
  void transposePermuteAndContiguous() {
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray a = iota(2, 3);
      NDArray t = a.t();
      assertShape(t, 3, 2);
      assertClose(new double[] {0, 3, 1, 4, 2, 5}, t, 0);
      NDArray c = t.contiguous();
      assertTrue(c.isContiguous());
      assertNotEquals(a.storage(), c.storage());
      NDArray same = a.contiguous(); // already contiguous: a view, no copy
      assertEquals(a.storage(), same.storage());
      NDArray p = iota(2, 3, 4).permute(2, 0, 1);
      assertShape(p, 4, 2, 3);
      assertArrayEquals(new long[] {1, 12, 4}, p.layout().strides());
      assertThrows(IllegalArgumentException.class, () -> a.permute(0, 0));
    }
  }

  @Test
  void expandBroadcastsWithoutCopying() {
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray a = NDArray.of(new double[] {1, 2, 3}, 3, 1);
      NDArray e = a.expand(2, 3, 4);
      assertShape(e, 2, 3, 4);
      assertArrayEquals(new long[] {0, 1, 0}, e.layout().strides());
      assertEquals(a.storage(), e.storage());
      assertClose(new double[] {1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3}, e.select(0, 1), 0);
      assertShape(a.expand(-1, 5), 3, 5);
      assertThrows(IllegalArgumentException.class, () -> a.expand(2, 4));
    }
  }

  @Test
  void sliceNarrowSelectSqueeze() {
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray a = iota(10);
      assertClose(new double[] {1, 4, 7}, a.slice(0, 1, 9, 3), 0);
      assertClose(new double[] {7, 8}, a.slice(0, -3, -1, 1), 0); // negative bounds
      assertClose(new double[] {}, a.slice(0, 5, 2, 1), 0); // empty
      assertClose(new double[] {2, 3, 4}, a.narrow(0, 2, 3), 0);
      assertThrows(IndexOutOfBoundsException.class, () -> a.narrow(0, 8, 3));
      assertThrows(IllegalArgumentException.class, () -> a.slice(0, 0, 5, 0));
      NDArray m = iota(3, 4);
      assertClose(new double[] {8, 9, 10, 11}, m.select(0, -1), 0);
      assertClose(new double[] {1, 5, 9}, m.select(1, 1), 0);
      assertThrows(IndexOutOfBoundsException.class, () -> m.select(1, 4));
      NDArray u = m.unsqueeze(1).unsqueeze(-1);
      assertShape(u, 3, 1, 4, 1);
      assertShape(u.squeeze(), 3, 4);
      assertShape(u.squeeze(1), 3, 4, 1);
      assertShape(u.squeeze(0), 3, 1, 4, 1); // size 3: unchanged, as torch
      assertShape(iota(2, 3, 4).flatten(1, 2), 2, 12);
      assertShape(iota(2, 3, 4).flatten(), 24);
      assertShape(NDArray.scalar(1, DType.FLOAT32).flatten(), 1);
    }
  }

  @Test
  void catStackSplitChunk() {
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray a = iota(2, 2);
      NDArray b = NDArray.of(new float[] {9, 8}, 1, 2); // promoted to float64 by cat
      NDArray c = NDArray.cat(0, a, b);
      assertEquals(DType.FLOAT64, c.dtype());
      assertClose(new double[] {0, 1, 2, 3, 9, 8}, c, 0);
      NDArray d = NDArray.cat(1, a, a.t()); // non-contiguous input
      assertClose(new double[] {0, 1, 0, 2, 2, 3, 1, 3}, d, 0);
      NDArray s = NDArray.stack(0, a, a);
      assertShape(s, 2, 2, 2);
      NDArray s1 = NDArray.stack(2, a, a.mul(10));
      assertClose(new double[] {0, 0, 1, 10, 2, 20, 3, 30}, s1, 0);
      List<NDArray> parts = iota(7).split(3, 0);
      assertEquals(3, parts.size());
      assertClose(new double[] {6}, parts.get(2), 0);
      assertEquals(a.storage(), a.split(1, 0).get(1).storage()); // views
      List<NDArray> chunks = iota(5, 2).chunk(2, 0);
      assertShape(chunks.get(0), 3, 2);
      assertShape(chunks.get(1), 2, 2);
      assertThrows(IllegalArgumentException.class, () -> NDArray.cat(0, a, iota(2, 3)));
      assertThrows(IllegalArgumentException.class, () -> NDArray.stack(0, a, iota(2, 3)));
    }
  }

  @Test
  void castConvertsLikeCasts() {
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray a = NDArray.of(new double[] {-1.7, -0.2, 0, 2.9, 1e10});
      // float -> int truncates toward zero, as C casts do (out-of-range values are undefined)
      assertArrayEquals(new int[] {-1, 0, 0, 2}, a.narrow(0, 0, 4).cast(DType.INT32).toIntArray());
      assertArrayEquals(new long[] {-1, 0, 0, 2, 10000000000L}, a.cast(DType.INT64).toLongArray());
      assertArrayEquals(
          new boolean[] {true, true, false, true, true}, a.cast(DType.BOOL).toBooleanArray());
      assertClose(new double[] {-1.7, -0.2, 0, 2.9, 1e10}, a.cast(DType.FLOAT32), 1e-7);
      assertEquals(a.storage(), a.cast(DType.FLOAT64).storage()); // same dtype: a view
    }
  }
}
