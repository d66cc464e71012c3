package org.emberdl.spark.internal.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.emberdl.nn.Linear;
import org.emberdl.optim.CosineAnnealingLr;
import org.emberdl.optim.LinearWarmup;
import org.emberdl.optim.LrScheduler;
import org.emberdl.optim.Sgd;
import org.emberdl.tensor.Generator;
import org.junit.jupiter.api.Test;

/**
 * A fit's rate as a function of the step: hand-computed values, and bit for bit the rates of the
 * standalone schedulers stepped once per optimizer step (what {@code FashionMnistTraining
 * --schedule cosine} does), so a Spark fit and a standalone loop with one recipe use the same
 * rates.
 */
class LrScheduleTest {
  /** The rates a standalone loop's scheduler sets at steps 0..n-1. */
  private static double[] stepped(Sgd opt, LrScheduler s, int n) {
    double[] out = new double[n];
    for (int t = 0; t < n; t++) {
      if (t > 0) {
        s.step();
      }
      out[t] = opt.learningRate();
    }
    return out;
  }

  /**
   * lr 0.01 to 0.001 over 10 steps, the first 2 warming up from 0.01 / 3: warmup lr(t) = 0.01 (1/3
   * + (2/3) t / 2), then cosine over the 8 steps left, lr(t) = 0.001 + 0.009 (1 + cos(pi (t - 2) /
   * 8)) / 2.
   */
  @Test
  void cosineAfterWarmupByHand() {
    LrSchedule s = new LrSchedule(LrScheduleName.COSINE, 0.01, 0.001, 2, 10);
    assertEquals(0.01 / 3, s.at(0), 1e-15);
    assertEquals(0.01 * 2 / 3, s.at(1), 1e-15); // 1/3 + 1/3
    assertEquals(0.01, s.at(2), 1e-15); // cosine's step 0
    // cos(pi/4) = 0.70710678118654752: 0.001 + 0.009 * 1.70710678118654752 / 2
    assertEquals(0.0086819805153394639, s.at(4), 1e-15);
    assertEquals(0.0055, s.at(6), 1e-15); // the midpoint (0.01 + 0.001) / 2
    // 0.001 + 0.009 * (1 - 0.70710678118654752) / 2
    assertEquals(0.0023180194846605362, s.at(8), 1e-15);
    // cos(7 pi / 8) = -0.92387953251128676: 0.001 + 0.009 * 0.07612046748871324 / 2
    assertEquals(0.0013425421036992096, s.at(9), 1e-15);
  }

  @Test
  void constantAfterWarmupByHand() {
    LrSchedule s = new LrSchedule(LrScheduleName.CONSTANT, 0.03, 0, 3, 100);
    assertEquals(0.01, s.at(0), 1e-15);
    assertEquals(0.03 * (1.0 / 3 + 2.0 / 9), s.at(1), 1e-15);
    assertEquals(0.03 * (1.0 / 3 + 4.0 / 9), s.at(2), 1e-15);
    for (int t = 3; t < 100; t++) {
      assertEquals(0.03, s.at(t), 0, "step " + t);
    }
    assertEquals(0.03, new LrSchedule(LrScheduleName.CONSTANT, 0.03, 0, 0, 5).at(0), 0);
  }

  @Test
  void describedForTheLog() {
    assertEquals(
        "cosine from 0.003 to 0.0 over 4690 steps, the first 100 warming up linearly from 0.003/3",
        new LrSchedule(LrScheduleName.COSINE, 3e-3, 0, 100, 4690).describe());
    assertEquals(
        "cosine from 0.002 to 1.0E-5 over 4690 steps",
        new LrSchedule(LrScheduleName.COSINE, 2e-3, 1e-5, 0, 4690).describe());
    assertEquals(
        "constant 0.03 after 3 steps warming up linearly from 0.03/3",
        new LrSchedule(LrScheduleName.CONSTANT, 0.03, 0, 3, 100).describe());
    assertEquals(
        "constant 0.001", new LrSchedule(LrScheduleName.CONSTANT, 1e-3, 0, 0, 9).describe());
  }

  @Test
  void cosineWithWarmupIsBitForBitTheSteppedSchedulers() {
    int total = 37;
    int warmup = 5;
    LrSchedule s = new LrSchedule(LrScheduleName.COSINE, 3e-3, 1e-5, warmup, total);
    try (Linear m = new Linear(2, 1, new Generator(1));
        Sgd opt = new Sgd(m, 3e-3)) {
      double[] want =
          stepped(
              opt,
              new LinearWarmup(opt, warmup, new CosineAnnealingLr(opt, total - warmup, 1e-5)),
              total);
      for (int t = 0; t < total; t++) {
        assertEquals(want[t], s.at(t), 0, "step " + t);
      }
    }
  }

  @Test
  void cosineWithoutWarmupIsBitForBitFashionMnistTrainingsSchedule() {
    int total = 469 * 10; // FashionMnistTraining --schedule cosine: epochs x batches, eta_min 0
    LrSchedule s = new LrSchedule(LrScheduleName.COSINE, 2e-3, 0, 0, total);
    try (Linear m = new Linear(2, 1, new Generator(1));
        Sgd opt = new Sgd(m, 2e-3)) {
      double[] want = stepped(opt, new CosineAnnealingLr(opt, total, 0), total);
      for (int t = 0; t < total; t++) {
        assertEquals(want[t], s.at(t), 0, "step " + t);
      }
    }
  }
}
