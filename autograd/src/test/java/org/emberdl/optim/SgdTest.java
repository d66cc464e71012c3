package org.emberdl.optim;

import static org.emberdl.optim.TestModules.setGrad;
import static org.emberdl.optim.TestModules.values;
import static org.emberdl.tensor.testing.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.emberdl.optim.TestModules.Params;
import org.junit.jupiter.api.Test;

/** SGD steps worked out by hand, with lr = 0.1, one parameter p = 1 and gradients 1 then 0.5. */
class SgdTest {
  static double[] d(float[] f) {
    double[] out = new double[f.length];
    for (int i = 0; i < f.length; i++) {
      out[i] = f[i];
    }
    return out;
  }

  @Test
  void plainStep() {
    // p = [1, -2] - 0.1 * [0.5, -1] = [0.95, -1.9]
    try (Params m = new Params(new float[] {1, -2});
        Sgd opt = new Sgd(m, 0.1)) {
      setGrad(m, 0.5f, -1);
      opt.step();
      assertClose(new double[] {0.95, -1.9}, d(values(m)), 1e-6);
    }
  }

  /**
   * Heavy-ball momentum 0.9: step 1 b = g = 1, p = 1 - 0.1 * 1 = 0.9; step 2 b = 0.9 * 1 + 0.5 =
   * 1.4, p = 0.9 - 0.1 * 1.4 = 0.76.
   */
  @Test
  void momentum() {
    try (Params m = new Params(new float[] {1});
        Sgd opt = new Sgd(m, 0.1, 0.9)) {
      setGrad(m, 1);
      opt.step();
      assertClose(new double[] {0.9}, d(values(m)), 1e-6);
      setGrad(m, 0.5f);
      opt.step();
      assertClose(new double[] {0.76}, d(values(m)), 1e-6);
    }
  }

  /**
   * Nesterov, momentum 0.9: step 1 b = 1, d = g + 0.9 b = 1.9, p = 1 - 0.19 = 0.81; step 2 b = 0.9
   * * 1 + 0.5 = 1.4, d = 0.5 + 0.9 * 1.4 = 1.76, p = 0.81 - 0.176 = 0.634.
   */
  @Test
  void nesterov() {
    try (Params m = new Params(new float[] {1});
        Sgd opt = Sgd.builder().lr(0.1).momentum(0.9).nesterov(true).build(m)) {
      setGrad(m, 1);
      opt.step();
      assertClose(new double[] {0.81}, d(values(m)), 1e-6);
      setGrad(m, 0.5f);
      opt.step();
      assertClose(new double[] {0.634}, d(values(m)), 1e-6);
    }
  }

  /**
   * Dampening 0.5 (PyTorch starts the buffer undamped): step 1 b = 1, p = 0.9; step 2 b = 0.9 * 1 +
   * (1 - 0.5) * 0.5 = 1.15, p = 0.9 - 0.115 = 0.785.
   */
  @Test
  void dampening() {
    try (Params m = new Params(new float[] {1});
        Sgd opt = Sgd.builder().lr(0.1).momentum(0.9).dampening(0.5).build(m)) {
      setGrad(m, 1);
      opt.step();
      assertClose(new double[] {0.9}, d(values(m)), 1e-6);
      setGrad(m, 0.5f);
      opt.step();
      assertClose(new double[] {0.785}, d(values(m)), 1e-6);
    }
  }

  /** Weight decay 0.1 adds 0.1 p to the gradient: d = 1 + 0.1 = 1.1, p = 1 - 0.11 = 0.89. */
  @Test
  void weightDecay() {
    try (Params m = new Params(new float[] {1});
        Sgd opt = Sgd.builder().lr(0.1).weightDecay(0.1).build(m)) {
      setGrad(m, 1);
      opt.step();
      assertClose(new double[] {0.89}, d(values(m)), 1e-6);
    }
  }

  /** Every parameter moves in the same flat update. */
  @Test
  void updatesAllParametersTogether() {
    try (Params m = new Params(new float[] {1, 2}, new float[] {3});
        Sgd opt = new Sgd(m, 0.5)) {
      setGrad(m, 1, 1, 2);
      opt.step();
      assertClose(new double[] {0.5, 1.5, 2}, d(values(m)), 1e-6);
      assertClose(new double[] {2}, m.parameters().get(1).data(), 1e-6);
    }
  }

  @Test
  void rejectsInvalidOptions() {
    try (Params m = new Params(new float[] {1})) {
      assertThrows(IllegalArgumentException.class, () -> new Sgd(m, -0.1));
      assertThrows(IllegalArgumentException.class, () -> Sgd.builder().nesterov(true).build(m));
      assertThrows(
          IllegalArgumentException.class,
          () -> Sgd.builder().momentum(0.9).dampening(0.1).nesterov(true).build(m));
    }
  }
}
