package org.emberdl.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;

class InitTest {
  @Test
  void fansFollowPyTorchsLayouts() {
    // Linear (out, in): fan_in = in, fan_out = out
    assertEquals(3, Init.fanIn(2, 3));
    assertEquals(2, Init.fanOut(2, 3));
    // Conv2d (out, in/groups, kh, kw): receptive field kh * kw = 15
    assertEquals(4 * 15, Init.fanIn(8, 4, 3, 5));
    assertEquals(8 * 15, Init.fanOut(8, 4, 3, 5));
    assertThrows(IllegalArgumentException.class, () -> Init.fanIn(5));
  }

  @Test
  void gainsAreTorchs() {
    assertEquals(1.0, Init.gain("linear", 0), 0);
    assertEquals(1.0, Init.gain("sigmoid", 0), 0);
    assertEquals(5.0 / 3, Init.gain("tanh", 0), 1e-15);
    assertEquals(Math.sqrt(2), Init.gain("relu", 0), 1e-15);
    // leaky_relu with a = sqrt(5): sqrt(2 / (1 + 5)) = sqrt(1/3)
    assertEquals(Math.sqrt(1.0 / 3), Init.gain("leaky_relu", Math.sqrt(5)), 1e-15);
    assertThrows(IllegalArgumentException.class, () -> Init.gain("swish", 0));
  }

  @Test
  void kaimingUniformWithSqrt5IsOneOverSqrtFanIn() {
    try (MemoryScope s = MemoryScope.open()) {
      // fan_in = 4 * 3 * 3 = 36: bound = gain * sqrt(3 / 36) = sqrt(1/3) * sqrt(1/12) = 1/6
      NDArray w = Init.kaimingUniform(new Generator(1), new int[] {64, 4, 3, 3}, Math.sqrt(5));
      assertEquals(DType.FLOAT32, w.dtype());
      assertArrayEquals(new int[] {64, 4, 3, 3}, w.shape());
      assertTrue(w.abs().max().item() <= 1.0 / 6 + 1e-7);
      assertTrue(w.abs().max().item() > 0.9 / 6, "fills the range");
      // a = 0 (relu): bound = sqrt(2) * sqrt(3 / 36) = sqrt(1/6)
      NDArray r = Init.kaimingUniform(new Generator(1), DType.FLOAT64, new int[] {64, 36}, 0);
      assertTrue(r.abs().max().item() <= Math.sqrt(1.0 / 6));
      assertTrue(r.abs().max().item() > 0.95 * Math.sqrt(1.0 / 6));
    }
  }

  @Test
  void drawsAreSeededAndAdvance() {
    try (MemoryScope s = MemoryScope.open()) {
      Generator g1 = new Generator(42);
      Generator g2 = new Generator(42);
      NDArray a = Init.kaimingUniform(g1, new int[] {10, 20}, Math.sqrt(5));
      NDArray b = Init.kaimingUniform(g2, new int[] {10, 20}, Math.sqrt(5));
      assertArrayEquals(a.toFloatArray(), b.toFloatArray());
      NDArray c = Init.kaimingUniform(g1, new int[] {10, 20}, Math.sqrt(5));
      assertTrue(a.ne(c).any().item() != 0, "the generator advanced");
    }
  }

  @Test
  void normalAndXavierHaveTheirVariance() {
    try (MemoryScope s = MemoryScope.open()) {
      // kaiming_normal(a=0) on fan_in 200: variance 2 / 200 = 0.01
      NDArray k = Init.kaimingNormal(new Generator(3), DType.FLOAT64, new int[] {500, 200}, 0);
      assertEquals(0.01, k.var(new int[0], false).item(), 0.01 * 0.02);
      // xavier_uniform on (300, 200): bound sqrt(6 / 500), variance bound^2 / 3 = 2 / 500
      NDArray x = Init.xavierUniform(new Generator(4), DType.FLOAT64, new int[] {300, 200}, 1);
      assertTrue(x.abs().max().item() <= Math.sqrt(6.0 / 500));
      assertEquals(2.0 / 500, x.var(new int[0], false).item(), 2.0 / 500 * 0.02);
      NDArray xn = Init.xavierNormal(new Generator(5), DType.FLOAT64, new int[] {300, 200}, 2);
      assertEquals(4 * 2.0 / 500, xn.var(new int[0], false).item(), 8.0 / 500 * 0.02);
    }
  }

  @Test
  void linearInitIsUniformWithinOneOverSqrtFanIn() {
    try (Linear fc = new Linear(1000, 500, new Generator(11));
        MemoryScope s = MemoryScope.open()) {
      double bound = 1 / Math.sqrt(1000);
      NDArray w = fc.weight().data();
      assertArrayEquals(new int[] {500, 1000}, w.shape());
      assertTrue(w.abs().max().item() <= bound);
      // U(-b, b): mean 0 (sd of the sample mean b / sqrt(3 * 5e5) ~ 2.6e-5), variance b^2 / 3
      assertEquals(0, w.mean().item(), 2e-4);
      assertEquals(bound * bound / 3, w.var(new int[0], false).item(), bound * bound / 3 * 0.01);
      // roughly uniform: a tenth of the values in each tenth of the range
      double[] v = w.toDoubleArray();
      int[] bins = new int[10];
      for (double x : v) {
        bins[(int) Math.min(9, Math.floor((x + bound) / (2 * bound) * 10))]++;
      }
      for (int count : bins) {
        assertEquals(v.length / 10.0, count, v.length / 10.0 * 0.03);
      }
      NDArray b = fc.bias().data();
      assertArrayEquals(new int[] {500}, b.shape());
      assertTrue(b.abs().max().item() <= bound);
    }
  }

  @Test
  void linearDrawsWeightThenBiasFromItsGenerator() {
    try (Linear fc = new Linear(6, 4, new Generator(5));
        MemoryScope s = MemoryScope.open()) {
      Generator g = new Generator(5);
      double bound = 1 / Math.sqrt(6);
      NDArray w = NDArray.uniform(g, DType.FLOAT32, -bound, bound, 4, 6);
      NDArray b = NDArray.uniform(g, DType.FLOAT32, -bound, bound, 4);
      assertArrayEquals(w.toFloatArray(), fc.weight().data().toFloatArray());
      assertArrayEquals(b.toFloatArray(), fc.bias().data().toFloatArray());
    }
  }

  @Test
  void convInitUsesFanInOfOneGroup() {
    // in/groups * kh * kw = 2 * 3 * 3 = 18
    try (Conv2d conv = new Conv2d(4, 6, 3, 1, 1, 1, 2, true, new Generator(8));
        MemoryScope s = MemoryScope.open()) {
      double bound = 1 / Math.sqrt(18);
      assertArrayEquals(new int[] {6, 2, 3, 3}, conv.weight().shape());
      assertTrue(conv.weight().data().abs().max().item() <= bound);
      assertTrue(conv.weight().data().abs().max().item() > 0.8 * bound);
      assertTrue(conv.bias().data().abs().max().item() <= bound);
    }
  }

  @Test
  void embeddingInitIsStandardNormal() {
    try (Embedding emb = new Embedding(1000, 100, new Generator(9));
        MemoryScope s = MemoryScope.open()) {
      NDArray w = emb.weight().data();
      assertEquals(0, w.mean().item(), 0.01);
      assertEquals(1, w.var(new int[0], false).item(), 0.02);
    }
  }
}
