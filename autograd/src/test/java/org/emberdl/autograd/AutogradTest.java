package org.emberdl.autograd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.emberdl.tensor.DType;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.memory.Allocators;
import org.junit.jupiter.api.Test;

/** The engine's semantics, with gradients worked out by hand. */
class AutogradTest {
  static Tensor leaf(double... v) {
    return Tensor.of(NDArray.of(v), true);
  }

  @Test
  void polynomialGradient() {
    try (MemoryScope scope = MemoryScope.open()) {
      // y = x^2 + 5x + 4, dy/dx = 2x + 5 -> at x = [3, 1, 4]: [11, 7, 13]
      Tensor x = leaf(3, 1, 4);
      Tensor y = x.square().add(x.mul(5)).add(4).sum();
      y.backward();
      assertArrayEquals(new double[] {11, 7, 13}, x.grad().toDoubleArray());
      assertEquals(9 + 15 + 4 + 1 + 5 + 4 + 16 + 20 + 4, y.item());
    }
  }

  @Test
  void gradientsAccumulateAcrossUsesAndCalls() {
    try (MemoryScope scope = MemoryScope.open()) {
      // z = x * x + x: x used three times; dz/dx = 2x + 1 = [5]
      Tensor x = leaf(2);
      x.mul(x).add(x).sum().backward();
      assertArrayEquals(new double[] {5}, x.grad().toDoubleArray());
      // a second backward adds to the existing gradient, as torch does
      x.mul(3).sum().backward();
      assertArrayEquals(new double[] {8}, x.grad().toDoubleArray());
      x.zeroGrad(false);
      assertArrayEquals(new double[] {0}, x.grad().toDoubleArray());
      x.zeroGrad(true);
      assertNull(x.gradOrNull());
    }
  }

  @Test
  void backwardWithAGradientForNonScalars() {
    try (MemoryScope scope = MemoryScope.open()) {
      Tensor x = leaf(1, 2, 3);
      Tensor y = x.mul(x); // dy_i/dx_i = 2 x_i
      assertThrows(IllegalStateException.class, y::backward);
      y.backward(NDArray.of(new double[] {1, 0.5, -1}));
      assertArrayEquals(new double[] {2, 2, -6}, x.grad().toDoubleArray());
      assertThrows(
          IllegalArgumentException.class, () -> y.backward(NDArray.of(new double[] {1, 2})));
    }
  }

  @Test
  void detachNoGradAndConstants() {
    try (MemoryScope scope = MemoryScope.open()) {
      Tensor x = leaf(2);
      Tensor c = Tensor.of(NDArray.of(new double[] {10}));
      assertFalse(c.requiresGrad());
      Tensor d = x.mul(3).detach();
      assertTrue(d.isLeaf());
      assertFalse(d.requiresGrad());
      // y = x * detach(3x): only the first factor carries the gradient -> d/dx = 6
      x.mul(d).add(c).sum().backward();
      assertArrayEquals(new double[] {6}, x.grad().toDoubleArray());
      try (NoGrad ignored = NoGrad.enter()) {
        Tensor z = x.mul(2);
        assertFalse(z.requiresGrad());
        assertTrue(z.isLeaf());
      }
      assertTrue(x.mul(2).requiresGrad());
      assertThrows(IllegalArgumentException.class, () -> Tensor.of(NDArray.arange(3), true));
    }
  }

  @Test
  void savedArraysAreReleasedAfterBackward() {
    long before = Allocators.cpuAllocatedBytes();
    Tensor x = leaf(new double[1000]);
    long withInput = Allocators.cpuAllocatedBytes();
    try (Tensor e = x.exp();
        Tensor s = e.sum()) {
      s.backward();
    }
    // the input and its gradient (same size) remain; every intermediate and saved array is gone
    long remaining = Allocators.cpuAllocatedBytes() - before;
    x.close();
    assertEquals(2 * (withInput - before), remaining);
    assertEquals(before, Allocators.cpuAllocatedBytes());
  }

  @Test
  void leafGradientLivesAsLongAsTheLeaf() {
    long before = Allocators.cpuAllocatedBytes();
    try (MemoryScope scope = MemoryScope.open()) {
      Tensor x = leaf(1, 2);
      x.exp().sum().backward();
      assertEquals(2, x.grad().numel());
    }
    // the scope closed x's data and, with it, x's gradient
    assertEquals(before, Allocators.cpuAllocatedBytes());
  }

  @Test
  void float32GraphsWork() {
    try (MemoryScope scope = MemoryScope.open()) {
      Tensor w = Tensor.of(NDArray.of(new float[] {1, 2, 3, 4}, 2, 2), true);
      Tensor x = Tensor.of(NDArray.of(new float[] {1, 1}, 1, 2));
      // y = sum(x @ w) = sum over j of (w_0j + w_1j); dy/dw = ones
      x.matmul(w).sum().backward();
      assertEquals(DType.FLOAT32, w.grad().dtype());
      assertArrayEquals(new float[] {1, 1, 1, 1}, w.grad().toFloatArray());
    }
  }
}
