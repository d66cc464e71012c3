package org.emberdl.optim;

import static org.emberdl.optim.SgdTest.d;
import static org.emberdl.optim.TestModules.setGrad;
import static org.emberdl.optim.TestModules.values;
import static org.emberdl.tensor.testing.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import org.emberdl.optim.TestModules.Params;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;

class AdamTest {
  /**
   * Two Adam steps by hand: p = [1, -2], lr = 0.1, betas (0.9, 0.999), eps 1e-8.
   *
   * <pre>
   * step 1, g = [0.5, -1]:
   *   m = 0.1 g = [0.05, -0.1],  v = 0.001 g^2 = [0.00025, 0.001]
   *   bc1 = 1 - 0.9 = 0.1,  bc2 = 1 - 0.999 = 0.001
   *   m^ = m / bc1 = g,  v^ = v / bc2 = g^2,  so the update is lr g / (|g| + eps) = 0.1 sign(g)
   *   p = [0.9, -1.9]
   * step 2, g = [-1, 0.5]:
   *   m = 0.9 [0.05, -0.1] + 0.1 [-1, 0.5]           = [-0.055, -0.04]
   *   v = 0.999 [0.00025, 0.001] + 0.001 [1, 0.25]   = [0.00124975, 0.001249]
   *   bc1 = 1 - 0.81 = 0.19,  bc2 = 1 - 0.998001 = 0.001999
   *   m^ = [-0.2894736842, -0.2105263158],  v^ = [0.6251875938, 0.6248124062]
   *   sqrt(v^) = [0.7906880509, 0.7904507617]
   *   update = 0.1 m^ / sqrt(v^) = [-0.0366103542, -0.0266337026]
   *   p = [0.9366103542, -1.8733662974]
   * </pre>
   */
  @Test
  void twoStepsByHand() {
    try (Params m = new Params(new float[] {1, -2});
        Adam opt = new Adam(m, 0.1)) {
      setGrad(m, 0.5f, -1);
      opt.step();
      assertClose(new double[] {0.9, -1.9}, d(values(m)), 1e-6);
      setGrad(m, -1, 0.5f);
      opt.step();
      assertClose(new double[] {0.9366103542, -1.8733662974}, d(values(m)), 1e-6);
      try (MemoryScope s = MemoryScope.open()) {
        Map<String, NDArray> state = opt.stateDict();
        assertEquals(2, state.get("step").item());
        assertClose(new double[] {-0.055, -0.04}, state.get("exp_avg"), 1e-6);
        assertClose(new double[] {0.00124975, 0.001249}, state.get("exp_avg_sq"), 1e-6);
      }
    }
  }

  /**
   * Weight decay 0.1 at p = [1, 1], g = [0.5, -0.05], lr = 0.1, one step.
   *
   * <pre>
   * Adam (L2):  g' = g + 0.1 p = [0.6, 0.05]; the first step moves by lr sign(g') = [0.1, 0.1]
   *             p = [0.9, 0.9]
   * AdamW:      p = p (1 - 0.1 * 0.1) = [0.99, 0.99]; then lr sign(g) = [0.1, -0.1]
   *             p = [0.89, 1.09]
   * </pre>
   */
  @Test
  void weightDecayAdamVersusAdamW() {
    try (Params a = new Params(new float[] {1, 1});
        Params b = new Params(new float[] {1, 1});
        Adam adam = Adam.builder().lr(0.1).weightDecay(0.1).build(a);
        AdamW adamW = AdamW.builder().lr(0.1).weightDecay(0.1).build(b)) {
      setGrad(a, 0.5f, -0.05f);
      setGrad(b, 0.5f, -0.05f);
      adam.step();
      adamW.step();
      assertClose(new double[] {0.9, 0.9}, d(values(a)), 1e-6);
      assertClose(new double[] {0.89, 1.09}, d(values(b)), 1e-6);
    }
  }

  @Test
  void torchDefaults() {
    try (Params m = new Params(new float[] {1});
        Adam adam = new Adam(m);
        AdamW adamW = new AdamW(m)) {
      assertEquals(1e-3, adam.learningRate());
      assertEquals(0.9, adam.beta1());
      assertEquals(0.999, adam.beta2());
      assertEquals(1e-8, adam.eps());
      assertEquals(0.0, adam.weightDecay());
      assertEquals(1e-2, adamW.weightDecay());
    }
  }

  /** AdamW without weight decay is Adam. */
  @Test
  void adamWWithoutDecayIsAdam() {
    try (Params a = new Params(new float[] {1, -3, 2});
        Params b = new Params(new float[] {1, -3, 2});
        Adam adam = new Adam(a, 0.05);
        AdamW adamW = AdamW.builder().lr(0.05).weightDecay(0).build(b)) {
      for (int i = 0; i < 3; i++) {
        setGrad(a, 0.1f * i, -1, 2);
        setGrad(b, 0.1f * i, -1, 2);
        adam.step();
        adamW.step();
      }
      assertClose(d(values(a)), d(values(b)), 0);
    }
  }
}
