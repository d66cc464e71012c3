package org.emberdl.tensor;

import static org.emberdl.tensor.testing.Approx.assertClose;
import static org.emberdl.tensor.testing.Approx.assertShape;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class CreationTest {
  @Test
  void ofFirstTakesAPrefixOfAHeapBuffer() {
    try (MemoryScope scope = MemoryScope.open()) {
      float[] buffer = {1, 2, 3, 4, 5, 6, 7};
      NDArray a = NDArray.ofFirst(buffer, 6, 3, 2);
      assertShape(a, new int[] {3, 2});
      assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, a.toFloatArray());
      assertEquals(0, NDArray.ofFirst(buffer, 0, 0, 2).numel());
      assertThrows(IllegalArgumentException.class, () -> NDArray.ofFirst(buffer, 8, 8));
      assertThrows(IllegalArgumentException.class, () -> NDArray.ofFirst(buffer, -1, 1));
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> NDArray.ofFirst(buffer, 6, 2, 2));
      assertTrue(e.getMessage().contains("needs 4 values, got 6"), e.getMessage());
    }
  }

  @Test
  void toFloatArrayWritesIntoABufferOfTheRightSizeOnly() {
    try (MemoryScope scope = MemoryScope.open()) {
      // a transposed int view: the copy casts and makes it dense, as toFloatArray() does
      NDArray a = NDArray.of(new int[] {1, 2, 3, 4, 5, 6}, 2, 3).transpose(0, 1);
      float[] buffer = new float[6];
      assertSame(buffer, a.toFloatArray(buffer));
      assertArrayEquals(new float[] {1, 4, 2, 5, 3, 6}, buffer);
      float[] small = new float[5];
      float[] fresh = a.toFloatArray(small);
      assertNotSame(small, fresh);
      assertArrayEquals(new float[5], small, "a buffer of another size is left alone");
      assertArrayEquals(buffer, fresh);
      assertArrayEquals(buffer, a.toFloatArray(null));
    }
  }

  @Test
  void constantsAndRanges() {
    try (MemoryScope scope = MemoryScope.open()) {
      assertClose(new double[] {0, 0, 0, 0}, NDArray.zeros(DType.FLOAT32, 2, 2), 0);
      assertClose(new double[] {1, 1}, NDArray.ones(DType.INT32, 2), 0);
      assertClose(new double[] {2.5, 2.5}, NDArray.full(DType.FLOAT64, 2.5, 2), 0);
      assertShape(NDArray.scalar(3, DType.FLOAT32), new int[0]);
      assertArrayEquals(new long[] {0, 1, 2, 3, 4}, NDArray.arange(5).toLongArray());
      // torch.arange(1, 2, 0.3) = [1.0, 1.3, 1.6, 1.9]
      assertClose(new double[] {1, 1.3, 1.6, 1.9}, NDArray.arange(1, 2, 0.3, DType.FLOAT64), 1e-15);
      assertClose(new double[] {5, 3}, NDArray.arange(5, 1, -2, DType.FLOAT64), 0);
      // linspace(0, 1, 5) = [0, .25, .5, .75, 1], ends exact
      NDArray l = NDArray.linspace(0, 1, 5, DType.FLOAT32);
      assertClose(new double[] {0, 0.25, 0.5, 0.75, 1}, l, 0);
      assertClose(new double[] {1, 0, 0, 0, 1, 0, 0, 0, 1}, NDArray.eye(3, DType.FLOAT64), 0);
      assertThrows(IllegalArgumentException.class, () -> NDArray.of(new float[] {1, 2, 3}, 2, 2));
      assertThrows(IllegalArgumentException.class, () -> NDArray.zeros(DType.FLOAT32, -1));
      assertThrows(IllegalArgumentException.class, () -> NDArray.arange(0, 1, 0, DType.FLOAT32));
    }
  }

  @Test
  void randomArraysAreReproducibleAndThreadIndependent() {
    int saved = EmberConfig.threads();
    try (MemoryScope scope = MemoryScope.open()) {
      EmberConfig.setThreads(1);
      float[] a = NDArray.randn(new Generator(7), DType.FLOAT32, 100_000).toFloatArray();
      EmberConfig.setThreads(4);
      float[] b = NDArray.randn(new Generator(7), DType.FLOAT32, 100_000).toFloatArray();
      assertArrayEquals(a, b);
      float[] c = NDArray.randn(new Generator(8), DType.FLOAT32, 100_000).toFloatArray();
      assertFalse(Arrays.equals(a, c));
      // consecutive draws from one generator differ and match a replay from the same position
      Generator g = new Generator(7);
      float[] first = NDArray.rand(g, DType.FLOAT32, 10).toFloatArray();
      long pos = g.position();
      float[] second = NDArray.rand(g, DType.FLOAT32, 10).toFloatArray();
      assertFalse(Arrays.equals(first, second));
      g.setPosition(pos);
      assertArrayEquals(second, NDArray.rand(g, DType.FLOAT32, 10).toFloatArray());
      // per-task streams differ
      float[] t0 = NDArray.rand(Generator.forTask(1, 0, 0), DType.FLOAT32, 8).toFloatArray();
      float[] t1 = NDArray.rand(Generator.forTask(1, 0, 1), DType.FLOAT32, 8).toFloatArray();
      assertFalse(Arrays.equals(t0, t1));
    } finally {
      EmberConfig.setThreads(saved);
    }
  }

  @Test
  void randomDistributionsHaveTheirMoments() {
    try (MemoryScope scope = MemoryScope.open()) {
      int n = 200_000;
      Generator g = new Generator(42);
      // uniform [2, 4): mean 3, variance 4/12; std error of the mean ~ 0.0013
      NDArray u = NDArray.uniform(g, DType.FLOAT64, 2, 4, n);
      assertEquals(3, u.mean().item(), 0.01);
      assertEquals(4 / 12.0, u.var(new int[0], false).item(), 0.01);
      assertTrue(u.min().item() >= 2 && u.max().item() < 4);
      NDArray z = NDArray.normal(g, DType.FLOAT32, 1, 2, n);
      assertEquals(1, z.mean().item(), 0.03);
      assertEquals(2, z.std(new int[0], false).item(), 0.03);
      NDArray k = NDArray.randint(g, -3, 3, n);
      assertEquals(DType.INT64, k.dtype());
      assertEquals(-3, k.min().item());
      assertEquals(2, k.max().item());
      NDArray bern = NDArray.bernoulli(g, 0.25, DType.FLOAT32, n);
      assertEquals(0.25, bern.mean().item(), 0.01);
      long[] perm = NDArray.randperm(g, 1000).toLongArray();
      long[] sorted = perm.clone();
      Arrays.sort(sorted);
      for (int i = 0; i < 1000; i++) {
        assertEquals(i, sorted[i]);
      }
      assertThrows(
          IllegalArgumentException.class, () -> NDArray.bernoulli(g, 1.5, DType.FLOAT32, 2));
      assertThrows(IllegalArgumentException.class, () -> NDArray.randint(g, 3, 3, 2));
    }
  }

  @Test
  void toStringLooksLikePytorch() {
    try (MemoryScope scope = MemoryScope.open()) {
      assertEquals(
          "tensor([[1.5000, 2.0000],\n        [3.0000, 4.0000]], shape=[2, 2], dtype=float32,"
              + " device=cpu)",
          NDArray.of(new float[] {1.5f, 2, 3, 4}, 2, 2).toString());
      assertEquals(
          "tensor([1., 2.], shape=[2], dtype=float64, device=cpu)",
          NDArray.of(new double[] {1, 2}).toString());
      assertEquals(
          "tensor([ True, False], shape=[2], dtype=bool, device=cpu)",
          NDArray.of(new boolean[] {true, false}).toString());
      assertEquals(
          "tensor(7, shape=[], dtype=int64, device=cpu)",
          NDArray.scalar(7, DType.INT64).toString());
      String big = NDArray.arange(2000).toString();
      assertTrue(big.startsWith("tensor([   0,    1,    2, ..., 1997, 1998, 1999]"), big);
    }
  }
}
