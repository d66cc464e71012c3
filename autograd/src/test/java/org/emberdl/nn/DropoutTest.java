package org.emberdl.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;

class DropoutTest {
  private static Tensor ones(int n) {
    return Tensor.of(NDArray.ones(DType.FLOAT32, n));
  }

  @Test
  void zeroesAboutPAndScalesSurvivorsByOneOverOneMinusP() {
    try (Dropout drop = new Dropout(0.3, new Generator(1));
        MemoryScope s = MemoryScope.open()) {
      int n = 100_000;
      float[] y = drop.forward(ones(n)).data().toFloatArray();
      int zeros = 0;
      for (float v : y) {
        if (v == 0) {
          zeros++;
        } else {
          assertEquals(1 / 0.7, v, 1e-6, "survivors are scaled by 1 / (1 - p)");
        }
      }
      // binomial sd sqrt(n p (1 - p)) / n ~ 0.0015
      assertEquals(0.3, zeros / (double) n, 0.01);
    }
  }

  @Test
  void sameSeedSameMaskAndTheGeneratorAdvances() {
    try (Dropout a = new Dropout(0.5, new Generator(7));
        Dropout b = new Dropout(0.5, new Generator(7));
        MemoryScope s = MemoryScope.open()) {
      float[] first = a.forward(ones(1000)).data().toFloatArray();
      assertArrayEquals(first, b.forward(ones(1000)).data().toFloatArray());
      float[] second = a.forward(ones(1000)).data().toFloatArray();
      assertFalse(java.util.Arrays.equals(first, second), "each call draws a new mask");
      // a task's generator replays its masks
      a.setGenerator(Generator.forTask(7, 3, 2));
      float[] task = a.forward(ones(1000)).data().toFloatArray();
      a.setGenerator(Generator.forTask(7, 3, 2));
      assertArrayEquals(task, a.forward(ones(1000)).data().toFloatArray());
    }
  }

  @Test
  void gradientIsTheScaledMask() {
    try (Dropout drop = new Dropout(0.25, new Generator(2));
        MemoryScope s = MemoryScope.open()) {
      Tensor x = Tensor.of(NDArray.ones(DType.FLOAT32, 50), true);
      Tensor y = drop.forward(x);
      y.sum().backward();
      // y = x * mask / (1 - p) with x = 1, so dy/dx equals y
      assertArrayEquals(y.data().toFloatArray(), x.grad().toFloatArray());
    }
  }

  @Test
  void evalModeIsTheIdentity() {
    try (Dropout drop = new Dropout(0.5, new Generator(3));
        MemoryScope s = MemoryScope.open()) {
      drop.eval();
      Tensor x = Tensor.of(NDArray.randn(new Generator(4), DType.FLOAT32, 10, 10), true);
      long before = drop.generator().position();
      Tensor y = drop.forward(x);
      assertNotSame(x, y);
      assertArrayEquals(x.data().toFloatArray(), y.data().toFloatArray());
      assertEquals(before, drop.generator().position(), "eval draws nothing");
      y.close(); // closing the result leaves the input usable
      assertEquals(100, x.data().numel());
      drop.forward(x).sum().backward();
      assertTrue(x.grad().eq(1).all().item() != 0);
      drop.train();
      assertFalse(
          java.util.Arrays.equals(x.data().toFloatArray(), drop.forward(x).data().toFloatArray()));
    }
  }

  @Test
  void pZeroAndPOneEdgeCases() {
    try (Dropout none = new Dropout(0, new Generator(5));
        Dropout all = new Dropout(1, new Generator(5));
        MemoryScope s = MemoryScope.open()) {
      Tensor x = Tensor.of(NDArray.randn(new Generator(6), DType.FLOAT32, 20), true);
      assertArrayEquals(x.data().toFloatArray(), none.forward(x).data().toFloatArray());
      Tensor z = all.forward(x);
      assertTrue(z.data().eq(0).all().item() != 0, "p = 1 zeroes everything");
      z.sum().backward();
      assertTrue(x.grad().eq(0).all().item() != 0, "and passes no gradient");
    }
  }

  @Test
  void invalidProbabilitiesAreRejected() {
    Generator g = new Generator(0);
    assertThrows(IllegalArgumentException.class, () -> new Dropout(-0.1, g));
    assertThrows(IllegalArgumentException.class, () -> new Dropout(1.5, g));
    assertThrows(IllegalArgumentException.class, () -> new Dropout(Double.NaN, g));
    try (Dropout d = new Dropout(0.5, g)) {
      assertEquals("Dropout(p=0.5, inplace=False)", d.toString());
    }
  }
}
