package org.emberdl.nn;

import static org.emberdl.nn.NnTesting.d;
import static org.emberdl.nn.NnTesting.f32;
import static org.emberdl.tensor.testing.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;

/** MaxPool2d, AvgPool2d and Flatten. */
class PoolingTest {
  /** 4x4 plane 0..15 row-major. */
  private static Tensor ramp() {
    double[] v = new double[16];
    for (int i = 0; i < 16; i++) {
      v[i] = i;
    }
    return Tensor.of(NDArray.of(v, 1, 1, 4, 4).cast(DType.FLOAT32), true);
  }

  @Test
  void maxPoolTakesEachWindowsMaximum() {
    try (MaxPool2d pool = new MaxPool2d(2);
        MemoryScope s = MemoryScope.open()) {
      Tensor x = ramp();
      Tensor y = pool.forward(x);
      // windows {0,1,4,5} {2,3,6,7} {8,9,12,13} {10,11,14,15}: maxima at the bottom-right
      assertArrayEquals(new int[] {1, 1, 2, 2}, y.shape());
      assertClose(d(5, 7, 13, 15), y.data(), 0);
      y.sum().backward();
      double[] g = new double[16];
      g[5] = g[7] = g[13] = g[15] = 1;
      assertClose(g, x.grad(), 0);
      assertEquals(
          "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)",
          pool.toString());
    }
  }

  @Test
  void maxPoolStrideAndPadding() {
    try (MaxPool2d pool = new MaxPool2d(3, 2, 1);
        MemoryScope s = MemoryScope.open()) {
      // out = (4 + 2 - 3) / 2 + 1 = 2; windows rows/cols {-1..1}, {1..3}
      Tensor y = pool.forward(ramp());
      assertClose(d(5, 7, 13, 15), y.data(), 0);
      // padding is never the maximum, even when every value is negative
      Tensor neg = pool.forward(f32(d(-1, -2, -3, -4), 1, 2, 2));
      assertArrayEquals(new int[] {1, 1, 1}, neg.shape());
      assertClose(d(-1), neg.data(), 0);
    }
  }

  @Test
  void avgPoolAveragesWindowsCountingPadding() {
    try (AvgPool2d pool = new AvgPool2d(2);
        AvgPool2d padded = new AvgPool2d(2, 2, 1);
        MemoryScope s = MemoryScope.open()) {
      Tensor x = ramp();
      Tensor y = pool.forward(x);
      // (0 + 1 + 4 + 5) / 4 = 2.5, then 4.5, 10.5, 12.5
      assertClose(d(2.5, 4.5, 10.5, 12.5), y.data(), 1e-6);
      y.sum().backward();
      double[] quarter = new double[16];
      java.util.Arrays.fill(quarter, 0.25);
      assertClose(quarter, x.grad(), 1e-7);
      // padded: out (4 + 2 - 2) / 2 + 1 = 3; corner window holds only x[0,0] = 0, divided by 4;
      // top-middle window {1, 2} / 4 = 0.75; centre {5, 6, 9, 10} / 4 = 7.5
      Tensor p = padded.forward(ramp());
      assertArrayEquals(new int[] {1, 1, 3, 3}, p.shape());
      assertClose(d(0, 0.75, 0.75, 3, 7.5, 4.5, 3, 6.75, 3.75), p.data(), 1e-6);
      assertEquals("AvgPool2d(kernel_size=2, stride=2, padding=1)", padded.toString());
    }
  }

  @Test
  void poolingGradientsMatchFiniteDifferences() {
    try (MaxPool2d max = new MaxPool2d(new int[] {2, 3}, new int[] {1, 2}, new int[] {1});
        AvgPool2d avg = new AvgPool2d(new int[] {3}, null, new int[] {1});
        MemoryScope s = MemoryScope.open()) {
      NDArray x = NDArray.randn(new Generator(1), DType.FLOAT64, 2, 2, 5, 5);
      NnTesting.checkInputGradient(max, x);
      NnTesting.checkInputGradient(avg, x);
      assertArrayEquals(new int[] {3, 3}, avg.stride());
    }
  }

  @Test
  void paddingBeyondHalfTheKernelIsRejected() {
    assertThrows(IllegalArgumentException.class, () -> new MaxPool2d(2, 2, 2));
    assertThrows(IllegalArgumentException.class, () -> new AvgPool2d(3, 1, 2));
    assertThrows(IllegalArgumentException.class, () -> new MaxPool2d(0));
  }

  @Test
  void flattenKeepsTheBatchDim() {
    try (Flatten flat = new Flatten();
        Flatten all = new Flatten(0, -1);
        Flatten middle = new Flatten(1, 2);
        MemoryScope s = MemoryScope.open()) {
      Tensor x = Tensor.of(NDArray.randn(new Generator(2), DType.FLOAT32, 2, 3, 4, 5), true);
      Tensor y = flat.forward(x);
      assertArrayEquals(new int[] {2, 60}, y.shape());
      assertArrayEquals(x.data().toFloatArray(), y.data().toFloatArray());
      assertArrayEquals(new int[] {120}, all.forward(x).shape());
      assertArrayEquals(new int[] {2, 12, 5}, middle.forward(x).shape());
      y.sum().backward();
      assertTrue(x.grad().eq(1).all().item() != 0);
      assertArrayEquals(new int[] {2, 3, 4, 5}, x.grad().shape());
      assertEquals("Flatten(start_dim=1, end_dim=-1)", flat.toString());
    }
  }
}
