package org.emberdl.nn;

import static org.emberdl.nn.NnTesting.d;
import static org.emberdl.nn.NnTesting.f32;
import static org.emberdl.nn.NnTesting.state;
import static org.emberdl.tensor.testing.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.emberdl.autograd.GradCheck;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;

class LinearTest {
  @Test
  void handComputedForwardAndBackward() {
    try (Linear fc = new Linear(3, 2, new Generator(0));
        MemoryScope s = MemoryScope.open()) {
      // W = [[1, 2, 3], [4, 5, 6]], b = [0.5, -1]
      fc.loadStateDict(
          state(
              "weight", NDArray.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3),
              "bias", NDArray.of(new float[] {0.5f, -1}, 2)),
          true);
      Tensor x = f32(d(1, 0, -1, 2, 1, 0), 2, 3);
      Tensor y = fc.forward(x);
      // row 0: [1 - 3 + 0.5, 4 - 6 - 1] = [-1.5, -3]; row 1: [2 + 2 + 0.5, 8 + 5 - 1] = [4.5, 12]
      assertArrayEquals(new int[] {2, 2}, y.shape());
      assertClose(d(-1.5, -3, 4.5, 12), y.data(), 1e-6);
      y.sum().backward();
      // dL/dW[o] = x0 + x1 = [3, 1, -1] for both outputs; dL/db = batch size
      assertClose(d(3, 1, -1, 3, 1, -1), fc.weight().grad(), 1e-6);
      assertClose(d(2, 2), fc.bias().grad(), 1e-6);
    }
  }

  @Test
  void inputGradientIsTheColumnSumOfW() {
    try (Linear fc = new Linear(3, 2, new Generator(0));
        MemoryScope s = MemoryScope.open()) {
      fc.loadStateDict(
          state(
              "weight", NDArray.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3),
              "bias", NDArray.of(new float[] {0, 0}, 2)),
          true);
      Tensor x = Tensor.of(NDArray.zeros(DType.FLOAT32, 2, 3), true);
      fc.forward(x).sum().backward();
      // sum over outputs of W rows: [1 + 4, 2 + 5, 3 + 6]
      assertClose(d(5, 7, 9, 5, 7, 9), x.grad(), 1e-6);
      x.close();
    }
  }

  @Test
  void leadingDimsAreBatchDims() {
    try (Linear fc = new Linear(3, 4, new Generator(1));
        MemoryScope s = MemoryScope.open()) {
      NDArray x = NDArray.randn(new Generator(2), DType.FLOAT32, 2, 5, 3);
      Tensor y = fc.forward(Tensor.of(x));
      assertArrayEquals(new int[] {2, 5, 4}, y.shape());
      // each row as its own 2-D batch gives the same values
      Tensor row = fc.forward(Tensor.of(x.select(0, 1)));
      assertClose(row.data().toDoubleArray(), y.data().select(0, 1), 1e-6);
    }
  }

  @Test
  void withoutBiasThereIsOnlyAWeight() {
    try (Linear fc = new Linear(3, 2, false, new Generator(0));
        MemoryScope s = MemoryScope.open()) {
      assertNull(fc.bias());
      assertEquals(List.of("weight"), List.copyOf(fc.namedParameters().keySet()));
      fc.loadStateDict(state("weight", NDArray.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3)), true);
      assertClose(d(-2, -2), fc.forward(f32(d(1, 0, -1), 1, 3)).data(), 1e-6);
      assertEquals("Linear(in_features=3, out_features=2, bias=False)", fc.toString());
    }
  }

  @Test
  void parameterNamesAndShapesAreTorchs() {
    try (Linear fc = new Linear(5, 7, new Generator(0))) {
      assertEquals(List.of("weight", "bias"), List.copyOf(fc.namedParameters().keySet()));
      assertArrayEquals(new int[] {7, 5}, fc.weight().shape());
      assertArrayEquals(new int[] {7}, fc.bias().shape());
      assertEquals(DType.FLOAT32, fc.weight().dtype());
      assertEquals("Linear(in_features=5, out_features=7, bias=True)", fc.toString());
    }
  }

  @Test
  void gradientsMatchFiniteDifferences() {
    try (Linear fc = new Linear(4, 3, true, DType.FLOAT64, new Generator(3));
        MemoryScope s = MemoryScope.open()) {
      NDArray x = NDArray.randn(new Generator(4), DType.FLOAT64, 5, 4);
      NnTesting.checkInputGradient(fc, x);
      NnTesting.checkParameterGradients(fc, x);
      // the functional form, with input, weight and bias as leaves
      GradCheck.defaults()
          .check(t -> Linear.linear(t[0], t[1], t[2]), x, fc.weight().data(), fc.bias().data());
    }
  }

  @Test
  void aWrongInputWidthIsRejected() {
    try (Linear fc = new Linear(3, 2, new Generator(0));
        MemoryScope s = MemoryScope.open()) {
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> fc.forward(Tensor.of(NDArray.zeros(DType.FLOAT32, 2, 4))));
      assertEquals("Linear expects input (*, 3), got [2, 4]", e.getMessage());
    }
  }
}
