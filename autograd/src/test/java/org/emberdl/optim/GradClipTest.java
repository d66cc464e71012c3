package org.emberdl.optim;

import static org.emberdl.optim.SgdTest.d;
import static org.emberdl.optim.TestModules.setGrad;
import static org.emberdl.tensor.testing.Approx.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.emberdl.nn.Gradients;
import org.emberdl.optim.TestModules.Params;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;

class GradClipTest {
  /**
   * Grads [3, 4]: norm sqrt(9 + 16) = 5 > 1, so they scale by 1 / (5 + 1e-6): [0.6, 0.8] up to the
   * epsilon.
   */
  @Test
  void clipsToMaxNorm() {
    try (Params m = new Params(new float[] {0, 0})) {
      m.flatParameters();
      setGrad(m, 3, 4);
      assertEquals(5.0, GradClip.clipGradNorm(m, 1.0), 1e-6);
      assertClose(new double[] {0.6, 0.8}, d(m.flatParameters().grads().toFloatArray()), 1e-6);
    }
  }

  /** Norm 0.5 is below 1: nothing changes, and the norm is still returned. */
  @Test
  void leavesSmallGradientsAlone() {
    try (Params m = new Params(new float[] {0, 0})) {
      m.flatParameters();
      setGrad(m, 0.3f, 0.4f);
      assertEquals(0.5, GradClip.clipGradNorm(m, 1.0), 1e-6);
      assertClose(new double[] {0.3f, 0.4f}, d(m.flatParameters().grads().toFloatArray()), 0);
    }
  }

  /** The total norm spans every parameter: [3] and [4] (and a missing one) clip together. */
  @Test
  void perParameterGradients() {
    try (MemoryScope s = MemoryScope.open()) {
      NDArray a = NDArray.of(new float[] {3});
      NDArray b = NDArray.of(new float[] {4});
      List<NDArray> list = new ArrayList<>();
      list.add(a);
      list.add(null);
      list.add(b);
      try (Gradients g = Gradients.of(list)) {
        assertEquals(5.0, GradClip.clipGradNorm(g, 2.0), 1e-6);
      }
      assertClose(new double[] {1.2}, a, 1e-6);
      assertClose(new double[] {1.6}, b, 1e-6);
    }
  }

  /** The max-norm of [3, -4] is 4; max 2 scales by 2 / 4 = 0.5. */
  @Test
  void infinityNorm() {
    try (Params m = new Params(new float[] {0, 0})) {
      m.flatParameters();
      setGrad(m, 3, -4);
      assertEquals(4.0, GradClip.clipGradNorm(m, 2.0, Double.POSITIVE_INFINITY), 1e-6);
      assertClose(new double[] {1.5, -2}, d(m.flatParameters().grads().toFloatArray()), 1e-6);
    }
  }
}
