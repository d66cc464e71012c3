package org.emberdl.nn;

import static org.emberdl.nn.NnTesting.d;
import static org.emberdl.nn.NnTesting.f32;
import static org.emberdl.nn.NnTesting.state;
import static org.emberdl.tensor.testing.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.emberdl.autograd.GradCheck;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;

class Conv2dTest {
  /** x = [[1, 2, 3], [4, 5, 6], [7, 8, 9]], one channel. */
  private static Tensor image() {
    return f32(d(1, 2, 3, 4, 5, 6, 7, 8, 9), 1, 1, 3, 3);
  }

  private static void loadKernel(Conv2d conv) {
    // w = [[1, 2], [0, -1]], b = 0.5
    conv.loadStateDict(
        state(
            "weight", NDArray.of(new float[] {1, 2, 0, -1}, 1, 1, 2, 2),
            "bias", NDArray.of(new float[] {0.5f}, 1)),
        true);
  }

  @Test
  void handComputedValidConvolution() {
    try (Conv2d conv = new Conv2d(1, 1, 2, new Generator(0));
        MemoryScope s = MemoryScope.open()) {
      loadKernel(conv);
      Tensor y = conv.forward(image());
      // out[i, j] = x[i, j] + 2 x[i, j + 1] - x[i + 1, j + 1] + 0.5
      // [1 + 4 - 5, 2 + 6 - 6; 4 + 10 - 8, 5 + 12 - 9] + 0.5
      assertArrayEquals(new int[] {1, 1, 2, 2}, y.shape());
      assertClose(d(0.5, 2.5, 6.5, 8.5), y.data(), 1e-6);
    }
  }

  @Test
  void handComputedPaddedStridedConvolution() {
    try (Conv2d conv = new Conv2d(1, 1, 2, 2, 1, new Generator(0));
        MemoryScope s = MemoryScope.open()) {
      loadKernel(conv);
      Tensor y = conv.forward(image());
      // padded 5x5, windows at rows/cols {-1, 1} of x:
      // (-1,-1): -x[0,0] = -1;  (-1,1): -x[0,2] = -3;  (1,-1): 2 x[1,0] - x[2,0] = 1;
      // (1,1): x[1,1] + 2 x[1,2] - x[2,2] = 8; each + 0.5
      assertClose(d(-0.5, -2.5, 1.5, 8.5), y.data(), 1e-6);
    }
  }

  @Test
  void unbatchedInputGivesAnUnbatchedOutput() {
    try (Conv2d conv = new Conv2d(1, 1, 2, new Generator(0));
        MemoryScope s = MemoryScope.open()) {
      loadKernel(conv);
      Tensor y = conv.forward(f32(d(1, 2, 3, 4, 5, 6, 7, 8, 9), 1, 3, 3));
      assertArrayEquals(new int[] {1, 2, 2}, y.shape());
      assertClose(d(0.5, 2.5, 6.5, 8.5), y.data(), 1e-6);
    }
  }

  @Test
  void shapesNamesAndRepr() {
    try (Conv2d conv = new Conv2d(4, 6, 3, 2, 1, 1, 2, true, new Generator(0));
        Conv2d plain = new Conv2d(1, 8, 3, new Generator(0));
        Conv2d rect =
            new Conv2d(
                2,
                2,
                new int[] {3, 1},
                new int[] {1},
                new int[] {0},
                new int[] {2},
                1,
                false,
                DType.FLOAT32,
                new Generator(0));
        MemoryScope s = MemoryScope.open()) {
      assertEquals(List.of("weight", "bias"), List.copyOf(conv.namedParameters().keySet()));
      assertArrayEquals(new int[] {6, 2, 3, 3}, conv.weight().shape());
      assertArrayEquals(new int[] {6}, conv.bias().shape());
      // (5 + 2 - 3) / 2 + 1 = 3
      Tensor y = conv.forward(Tensor.of(NDArray.zeros(DType.FLOAT32, 2, 4, 5, 5)));
      assertArrayEquals(new int[] {2, 6, 3, 3}, y.shape());
      assertEquals(
          "Conv2d(4, 6, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), groups=2)",
          conv.toString());
      assertEquals("Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1))", plain.toString());
      assertArrayEquals(new int[] {2, 2, 3, 1}, rect.weight().shape());
      assertEquals(List.of("weight"), List.copyOf(rect.namedParameters().keySet()));
      assertEquals(
          "Conv2d(2, 2, kernel_size=(3, 1), stride=(1, 1), dilation=(2, 2), bias=False)",
          rect.toString());
      // dilated 3x1 kernel spans 5 rows: (6 - 5) + 1 = 2 rows, 4 columns
      Tensor r = rect.forward(Tensor.of(NDArray.zeros(DType.FLOAT32, 1, 2, 6, 4)));
      assertArrayEquals(new int[] {1, 2, 2, 4}, r.shape());
    }
  }

  @Test
  void invalidConfigurationsAreRejected() {
    Generator g = new Generator(0);
    assertThrows(IllegalArgumentException.class, () -> new Conv2d(3, 6, 3, 1, 0, 1, 2, true, g));
    assertThrows(IllegalArgumentException.class, () -> new Conv2d(4, 6, 3, 1, 0, 1, 4, true, g));
    assertThrows(IllegalArgumentException.class, () -> new Conv2d(4, 6, 0, g));
    assertThrows(IllegalArgumentException.class, () -> new Conv2d(4, 6, 3, 1, -1, g));
    try (Conv2d conv = new Conv2d(3, 2, 3, g);
        MemoryScope s = MemoryScope.open()) {
      assertThrows(
          IllegalArgumentException.class,
          () -> conv.forward(Tensor.of(NDArray.zeros(DType.FLOAT32, 1, 2, 5, 5))));
    }
  }

  @Test
  void gradientsMatchFiniteDifferences() {
    try (Conv2d conv =
            new Conv2d(
                4,
                6,
                new int[] {3, 2},
                new int[] {2, 1},
                new int[] {1, 0},
                new int[] {1},
                2,
                true,
                DType.FLOAT64,
                new Generator(3));
        MemoryScope s = MemoryScope.open()) {
      NDArray x = NDArray.randn(new Generator(4), DType.FLOAT64, 2, 4, 5, 4);
      NnTesting.checkInputGradient(conv, x);
      NnTesting.checkParameterGradients(conv, x);
      GradCheck.defaults()
          .check(
              t ->
                  Tensor.conv2d(
                      t[0], t[1], t[2], conv.stride(), conv.padding(), conv.dilation(), 2),
              x,
              conv.weight().data(),
              conv.bias().data());
    }
  }
}
