package org.emberdl.tensor;

import static org.emberdl.tensor.testing.Approx.assertClose;
import static org.emberdl.tensor.testing.Approx.assertShape;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class IndexingTest {
  // x = [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]
  static NDArray x() {
    return NDArray.arange(0, 12, 1, DType.FLOAT32).reshape(4, 3);
  }

  @Test
  void indexSelectRowsAndColumns() {
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray x = x();
      NDArray rows = x.indexSelect(0, NDArray.of(new long[] {3, 0, 3}));
      assertClose(new double[] {9, 10, 11, 0, 1, 2, 9, 10, 11}, rows, 0);
      NDArray cols = x.indexSelect(1, NDArray.of(new int[] {2, 0}));
      assertClose(new double[] {2, 0, 5, 3, 8, 6, 11, 9}, cols, 0);
      // from a transposed (non-contiguous) input
      NDArray t = x.t().indexSelect(0, NDArray.of(new long[] {1}));
      assertClose(new double[] {1, 4, 7, 10}, t, 0);
      assertShape(x.indexSelect(0, NDArray.zeros(DType.INT64, 0)), 0, 3);
      assertThrows(
          IndexOutOfBoundsException.class, () -> x.indexSelect(0, NDArray.of(new long[] {4})));
      assertThrows(
          IndexOutOfBoundsException.class, () -> x.indexSelect(0, NDArray.of(new long[] {-1})));
      assertThrows(
          IllegalArgumentException.class, () -> x.indexSelect(0, NDArray.of(new float[] {0})));
    }
  }

  @Test
  void gatherPicksPerRow() {
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray x = x();
      // cross-entropy style: x[i][label[i]]
      NDArray labels = NDArray.of(new long[] {2, 0, 1, 1}, 4, 1);
      assertClose(new double[] {2, 3, 7, 10}, x.gather(1, labels), 0);
      // dim 0: out[i][j] = x[idx[i][j]][j]
      NDArray idx = NDArray.of(new long[] {3, 0, 1}, 1, 3);
      assertClose(new double[] {9, 1, 5}, x.gather(0, idx), 0);
      assertThrows(
          IndexOutOfBoundsException.class, () -> x.gather(1, NDArray.of(new long[] {3}, 1, 1)));
      assertThrows(IllegalArgumentException.class, () -> x.gather(1, NDArray.of(new long[] {0})));
    }
  }

  @Test
  void scatterAddAccumulatesDuplicates() {
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray target = NDArray.zeros(DType.FLOAT64, 2, 4);
      NDArray index = NDArray.of(new long[] {0, 0, 3, 1, 1, 1}, 2, 3);
      NDArray src = NDArray.of(new double[] {1, 2, 3, 4, 5, 6}, 2, 3);
      // row 0: [1 + 2, 0, 0, 3]; row 1: [0, 4 + 5 + 6, 0, 0]
      NDArray out = target.scatterAdd(1, index, src);
      assertClose(new double[] {3, 0, 0, 3, 0, 15, 0, 0}, out, 0);
      assertClose(new double[8], target, 0); // out of place left target alone
      target.scatterAddInPlace(1, index, src);
      assertClose(new double[] {3, 0, 0, 3, 0, 15, 0, 0}, target, 0);
      NDArray counts = NDArray.zeros(DType.INT64, 3);
      counts.scatterAddInPlace(
          0, NDArray.of(new long[] {2, 2, 0}), NDArray.of(new long[] {1, 1, 1}));
      assertArrayEquals(new long[] {1, 0, 2}, counts.toLongArray());
    }
  }

  @Test
  void oneHotAndMaskedFill() {
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray labels = NDArray.of(new long[] {1, 0, 2});
      NDArray oh = labels.oneHot(3, DType.FLOAT32);
      assertShape(oh, 3, 3);
      assertClose(new double[] {0, 1, 0, 1, 0, 0, 0, 0, 1}, oh, 0);
      assertThrows(IndexOutOfBoundsException.class, () -> labels.oneHot(2, DType.FLOAT32));
      NDArray x = x();
      NDArray filled = x.maskedFill(x.gt(8), -1);
      assertClose(new double[] {0, 1, 2, 3, 4, 5, 6, 7, 8, -1, -1, -1}, filled, 0);
    }
  }
}
