package org.emberdl.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.emberdl.optim.TestModules.Params;
import org.junit.jupiter.api.Test;

class LrSchedulerTest {
  /** The learning rates at epochs 0..n-1: construction sets epoch 0, each step() the next. */
  static double[] run(Optimizer opt, LrScheduler s, int n) {
    double[] out = new double[n];
    for (int e = 0; e < n; e++) {
      if (e > 0) {
        s.step();
      }
      out[e] = opt.learningRate();
      assertEquals(out[e], s.lastLr(), 0);
      assertEquals(e, s.lastEpoch());
    }
    return out;
  }

  static void assertRates(double[] expected, double[] got) {
    assertEquals(expected.length, got.length);
    for (int i = 0; i < expected.length; i++) {
      assertEquals(expected[i], got[i], 1e-12, "epoch " + i);
    }
  }

  /** lr 0.1, halved every 2 epochs: 0.1, 0.1, 0.05, 0.05, 0.025, 0.025. */
  @Test
  void stepLr() {
    try (Params m = new Params(new float[] {1});
        Sgd opt = new Sgd(m, 0.1)) {
      StepLr s = new StepLr(opt, 2, 0.5);
      assertRates(new double[] {0.1, 0.1, 0.05, 0.05, 0.025, 0.025}, run(opt, s, 6));
    }
  }

  /**
   * lr 0.1 to etaMin 0.001 over tMax 10: lr(e) = 0.001 + 0.099 (1 + cos(pi e / 10)) / 2, so lr(0) =
   * 0.1, lr(5) = 0.001 + 0.099 / 2 = 0.0505, lr(10) = 0.001; past tMax it rises again: lr(15) =
   * 0.0505.
   */
  @Test
  void cosineAnnealing() {
    try (Params m = new Params(new float[] {1});
        Sgd opt = new Sgd(m, 0.1)) {
      CosineAnnealingLr s = new CosineAnnealingLr(opt, 10, 0.001);
      double[] lr = run(opt, s, 16);
      assertEquals(0.1, lr[0], 1e-12);
      assertEquals(0.0505, lr[5], 1e-12);
      assertEquals(0.001, lr[10], 1e-12);
      assertEquals(0.0505, lr[15], 1e-12);
      // 0.001 + 0.099 * (1 + cos(pi / 10)) / 2
      assertEquals(0.001 + 0.099 * (1 + 0.9510565162951535) / 2, lr[1], 1e-12);
    }
  }

  /**
   * Warmup over 4 steps from 0.2 of lr 0.1: 0.02, 0.04, 0.06, 0.08, then cosine (tMax 4, etaMin 0)
   * from its step 0: 0.1, 0.1 (1 + cos(pi / 4)) / 2 = 0.0853553391, 0.05, 0.0146446609, 0.
   */
  @Test
  void linearWarmupThenCosine() {
    try (Params m = new Params(new float[] {1});
        Sgd opt = new Sgd(m, 0.1)) {
      LinearWarmup s = new LinearWarmup(opt, 0.2, 4, new CosineAnnealingLr(opt, 4, 0));
      assertRates(
          new double[] {
            0.02, 0.04, 0.06, 0.08, 0.1, 0.08535533905932738, 0.05, 0.014644660940672627, 0
          },
          run(opt, s, 9));
    }
  }

  /** Without a follow-up schedule the rate stays at the base rate; the default start is 1/3. */
  @Test
  void linearWarmupAlone() {
    try (Params m = new Params(new float[] {1});
        Sgd opt = new Sgd(m, 0.3)) {
      LinearWarmup s = new LinearWarmup(opt, 2, null);
      assertRates(new double[] {0.1, 0.2, 0.3, 0.3, 0.3}, run(opt, s, 5));
    }
  }

  @Test
  void rejectsInvalidArguments() {
    try (Params m = new Params(new float[] {1});
        Sgd opt = new Sgd(m, 0.1)) {
      assertThrows(IllegalArgumentException.class, () -> new StepLr(opt, 0));
      assertThrows(IllegalArgumentException.class, () -> new CosineAnnealingLr(opt, 0));
      assertThrows(IllegalArgumentException.class, () -> new LinearWarmup(opt, 0, null));
      assertThrows(IllegalArgumentException.class, () -> new LinearWarmup(opt, 0.0, 5, null));
    }
  }
}
