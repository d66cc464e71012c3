package org.emberdl.tensor.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class FastExpTest {
  @Test
  void withinOneFloatUlpOfTheDoubleExp() {
    double worst = 0;
    for (float x = -87f; x < 88.3f; x += 1.0e-3f) {
      double ref = Math.exp(x);
      worst = Math.max(worst, Math.abs(FastExp.exp(x) - ref) / Math.ulp((float) ref));
    }
    // measured: 0.96 ulps
    assertTrue(worst <= 1, "worst error " + worst + " ulps");
  }

  @Test
  void flushesUnderflowToZeroAndKeepsNaN() {
    assertEquals(0f, FastExp.exp(Float.NEGATIVE_INFINITY), 0);
    assertEquals(0f, FastExp.exp(-100f), 0);
    assertEquals(1f, FastExp.exp(0f), 0);
    assertEquals((float) Math.E, FastExp.exp(1f), Math.ulp((float) Math.E));
    assertTrue(Float.isNaN(FastExp.exp(Float.NaN)));
  }
}
