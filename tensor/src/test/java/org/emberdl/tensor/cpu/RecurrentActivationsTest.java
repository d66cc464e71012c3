package org.emberdl.tensor.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The float32 gate activations of {@link CpuRecurrentKernelsF32} against the exact functions in
 * double, densely over the range where they are not yet saturated and at the ends.
 */
class RecurrentActivationsTest {
  @Test
  void tanhIsWithinAFewFloatUlps() {
    double worst = 0;
    for (int i = -2_000_000; i <= 2_000_000; i++) {
      float x = i * 1e-5f; // [-20, 20]
      double exact = Math.tanh(x);
      double err = Math.abs(CpuRecurrentKernelsF32.tanh(x) - exact);
      worst = Math.max(worst, err);
    }
    // float's ulp is 6e-8 just below 1: within ~8 ulps there, far inside the 1e-5 of float32 checks
    assertTrue(worst < 5e-7, "max |tanh error| " + worst);
    assertEquals(1f, CpuRecurrentKernelsF32.tanh(1e30f), 1e-7f);
    assertEquals(-1f, CpuRecurrentKernelsF32.tanh(Float.NEGATIVE_INFINITY), 1e-7f);
    assertEquals(0f, CpuRecurrentKernelsF32.tanh(0f));
    // small arguments keep their relative accuracy: tanh(x) = x - x^3/3 + ...
    assertEquals(1e-6f, CpuRecurrentKernelsF32.tanh(1e-6f), 1e-12f);
  }

  @Test
  void sigmoidIsWithinThreeTenthsOfAMicro() {
    double worst = 0;
    for (int i = -3_000_000; i <= 3_000_000; i++) {
      float x = i * 1e-5f; // [-30, 30]
      double exact = 1 / (1 + Math.exp(-x));
      worst = Math.max(worst, Math.abs(CpuRecurrentKernelsF32.sigmoid(x) - exact));
    }
    assertTrue(worst < 3e-7, "max |sigmoid error| " + worst);
    assertEquals(0.5f, CpuRecurrentKernelsF32.sigmoid(0f));
  }
}
