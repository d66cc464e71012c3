package org.emberdl.tensor.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.math.MathContext;
import org.junit.jupiter.api.Test;

class FastExpTest {
  /** Distance in float ulps (both finite and of one sign, or both zero). */
  private static long ulps(float a, float b) {
    return Math.abs((long) Float.floatToRawIntBits(a) - Float.floatToRawIntBits(b));
  }

  @Test
  void withinOneFloatUlpOfMathExpAcrossTheFloatRange() {
    // every 61st float from -110 (exp underflows to 0 in float) to 90 (overflows to infinity),
    // about 18 million values; Math.exp is within 1 double ulp of exp, so its float rounding is
    // the correctly rounded float but for values within 2^-29 relative of a tie
    long worst = 0;
    float worstAt = 0;
    long checked = 0;
    for (int bits = Float.floatToRawIntBits(-110f); bits < 0; bits -= 61) {
      float x = Float.intBitsToFloat(bits);
      long u = ulps((float) FastExp.exp(x), (float) Math.exp(x));
      checked++;
      if (u > worst) {
        worst = u;
        worstAt = x;
      }
    }
    for (int bits = 0; bits <= Float.floatToRawIntBits(90f); bits += 61) {
      float x = Float.intBitsToFloat(bits);
      long u = ulps((float) FastExp.exp(x), (float) Math.exp(x));
      checked++;
      if (u > worst) {
        worst = u;
        worstAt = x;
      }
    }
    assertTrue(checked > 10_000_000, "checked " + checked);
    assertTrue(worst <= 1, "worst " + worst + " float ulps at x = " + worstAt);
  }

  @Test
  void relativeErrorOfTheDoubleResultBelow1e9() {
    // against exp by its Taylor series in 40-digit decimal arithmetic, at points across the range
    MathContext mc = new MathContext(40);
    double worst = 0;
    for (double x = -103.5; x <= 88.5; x += 0.731) {
      BigDecimal r = new BigDecimal(x).divide(BigDecimal.valueOf(1024), mc);
      BigDecimal term = BigDecimal.ONE;
      BigDecimal sum = BigDecimal.ONE;
      for (int k = 1; k < 30; k++) {
        term = term.multiply(r, mc).divide(BigDecimal.valueOf(k), mc);
        sum = sum.add(term, mc);
      }
      BigDecimal exact = sum.pow(1024, mc);
      double rel = Math.abs(FastExp.exp(x) / exact.doubleValue() - 1);
      worst = Math.max(worst, rel);
    }
    // the bound in FastExp's comment: 256 x the polynomial's 1.2e-12 at the ends of the range
    assertTrue(worst < 1e-9, "worst relative error " + worst);
  }

  @Test
  void specialValues() {
    assertEquals(1.0, FastExp.exp(0.0), 0);
    assertEquals(0f, (float) FastExp.exp(Float.NEGATIVE_INFINITY), 0);
    assertEquals(0f, (float) FastExp.exp(-1e30), 0);
    assertEquals(0f, (float) FastExp.exp(-104.0), 0);
    assertEquals(Float.POSITIVE_INFINITY, (float) FastExp.exp(Float.POSITIVE_INFINITY), 0);
    assertEquals(Float.POSITIVE_INFINITY, (float) FastExp.exp(89.0), 0);
    assertTrue(Double.isNaN(FastExp.exp(Double.NaN)));
    // float subnormal results: exp(-100) = 3.720076e-44 is 27 * 2^-149 (26.55 rounds to 27)
    assertEquals(27 * Float.MIN_VALUE, (float) FastExp.exp(-100.0), 0);
    // e to float: 2.7182817f
    assertEquals((float) Math.E, (float) FastExp.exp(1.0), 0);
  }

  @Test
  void tileLoopsGiveTheScalarBits() {
    int n = 3001;
    double[] x = new double[n];
    double[] expected = new double[n];
    for (int i = 0; i < n; i++) {
      x[i] = i == 7 ? Double.NEGATIVE_INFINITY : i == 11 ? Double.NaN : -110 + 200.0 * i / n;
      expected[i] = FastExp.exp(x[i]);
    }
    double[] out = new double[n];
    // many calls, so that C2 compiles (and vectorizes) the loops while the values are compared
    for (int rep = 0; rep < 300; rep++) {
      double[] in = x.clone();
      FastExp.exp(in, out, n);
      for (int i = 0; i < n; i++) {
        assertEquals(
            Double.doubleToRawLongBits(expected[i]),
            Double.doubleToRawLongBits(out[i]),
            "x = " + x[i] + " in call " + rep);
      }
    }
  }
}
