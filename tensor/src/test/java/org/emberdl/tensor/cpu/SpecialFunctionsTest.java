package org.emberdl.tensor.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.math.MathContext;
import org.junit.jupiter.api.Test;

class SpecialFunctionsTest {

  // 90 digits leave room for the Maclaurin series' cancellation: at x = 5 its terms reach 1e9
  // while erfc(5) is 1.5e-12, so about 70 correct digits of erfc survive.
  private static final MathContext MC = new MathContext(90);

  private static final BigDecimal PI =
      new BigDecimal(
          "3.14159265358979323846264338327950288419716939937510"
              + "58209749445923078164062862089986280348253421170679");

  private static final BigDecimal ONE_OVER_SQRT_PI = BigDecimal.ONE.divide(PI.sqrt(MC), MC);

  private static final BigDecimal TWO_OVER_SQRT_PI = ONE_OVER_SQRT_PI.add(ONE_OVER_SQRT_PI);

  /** Below this the Maclaurin series is used, above it the continued fraction. */
  private static final double SERIES_LIMIT = 5.0;

  /** Where SpecialFunctions switches approximations, plus its tiny-argument cut-offs. */
  private static final double[] DOUBLE_BREAKS = {
    0x1p-1015,
    0x1p-56,
    0x1p-28,
    0.25,
    0.84375,
    1.25,
    Double.longBitsToDouble(0x4006DB6D00000000L),
    6.0,
    28.0
  };

  private static final float[] FLOAT_BREAKS = {
    0.84375f, 1.25f, Float.intBitsToFloat(0x4036db8c), 4f
  };

  // ---- The reference: worked out in BigDecimal, independently of the code under test. ----

  /** erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1)), fine for |x| <= 6 at 90 digits. */
  private static BigDecimal erfSeries(BigDecimal x) {
    BigDecimal x2 = x.multiply(x);
    BigDecimal power = x; // (-1)^n x^(2n+1) / n!
    BigDecimal sum = BigDecimal.ZERO;
    BigDecimal negligible = new BigDecimal("1e-95");
    for (int n = 0; ; n++) {
      BigDecimal term = power.divide(BigDecimal.valueOf(2L * n + 1), MC);
      sum = sum.add(term, MC);
      if (term.abs().compareTo(negligible) < 0) {
        return sum.multiply(TWO_OVER_SQRT_PI, MC);
      }
      power = power.multiply(x2, MC).divide(BigDecimal.valueOf(n + 1), MC).negate();
    }
  }

  /**
   * erfc(x) for x >= 4 by Laplace's continued fraction, erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2) /
   * (x + 1 / (x + (3/2) / (x + 2 / (x + ...))))), evaluated from the bottom up. It converges faster
   * the larger x is; at x = 4, 200 levels already agree with 20000 to 1e-62, so 300 are plenty (and
   * the test below checks it against the series where both apply).
   */
  private static BigDecimal erfcContinuedFraction(BigDecimal x) {
    BigDecimal t = x;
    for (int k = 300; k >= 1; k--) {
      t = x.add(BigDecimal.valueOf(k).divide(BigDecimal.valueOf(2)).divide(t, MC), MC);
    }
    return expOf(x.multiply(x).negate()).multiply(ONE_OVER_SQRT_PI, MC).divide(t, MC);
  }

  /** exp(y): Taylor series on y / 2^k, |y / 2^k| < 1/2, then squared k times. */
  private static BigDecimal expOf(BigDecimal y) {
    int k = 0;
    BigDecimal reduced = y;
    while (reduced.abs().compareTo(new BigDecimal("0.5")) >= 0) {
      reduced = reduced.divide(BigDecimal.valueOf(2));
      k++;
    }
    // Squaring k times multiplies the relative error by 2^k, at most 2^11 here: extra digits.
    MathContext wide = new MathContext(MC.getPrecision() + 10);
    BigDecimal negligible = new BigDecimal("1e-105");
    BigDecimal sum = BigDecimal.ONE;
    BigDecimal term = BigDecimal.ONE;
    for (int n = 1; term.abs().compareTo(negligible) >= 0; n++) {
      term = term.multiply(reduced, wide).divide(BigDecimal.valueOf(n), wide);
      sum = sum.add(term, wide);
    }
    for (int i = 0; i < k; i++) {
      sum = sum.multiply(sum, wide);
    }
    return sum.round(MC);
  }

  private static BigDecimal erfRef(double x) {
    BigDecimal bx = new BigDecimal(Math.abs(x));
    BigDecimal v =
        Math.abs(x) <= SERIES_LIMIT
            ? erfSeries(bx)
            : BigDecimal.ONE.subtract(erfcContinuedFraction(bx), MC);
    return x < 0 ? v.negate() : v;
  }

  private static BigDecimal erfcRef(double x) {
    BigDecimal bx = new BigDecimal(Math.abs(x));
    BigDecimal c =
        Math.abs(x) <= SERIES_LIMIT
            ? BigDecimal.ONE.subtract(erfSeries(bx), MC)
            : erfcContinuedFraction(bx);
    return x < 0 ? BigDecimal.valueOf(2).subtract(c, MC) : c;
  }

  /** |actual - ref| / |ref|. */
  private static double relErr(double actual, BigDecimal ref) {
    return new BigDecimal(actual).subtract(ref, MC).abs().divide(ref.abs(), MC).doubleValue();
  }

  /** |actual - ref| in units of the spacing of floats at ref. */
  private static double floatUlpErr(float actual, BigDecimal ref) {
    BigDecimal abs = ref.abs();
    float nearest = abs.floatValue();
    // When ref rounds up to a power of two, the spacing that matters is the finer one below it.
    float below = new BigDecimal(nearest).compareTo(abs) > 0 ? Math.nextDown(nearest) : nearest;
    return new BigDecimal(actual).subtract(ref, MC).abs().doubleValue() / Math.ulp(below);
  }

  /**
   * Points in (0, hi], an even grid jittered by multiples of the golden ratio, then the 12 doubles
   * around each switch of approximation (which may lie beyond hi).
   */
  private static double[] samples(double hi, int n) {
    double[] xs = new double[n + 12 * DOUBLE_BREAKS.length];
    int k = 0;
    for (int i = 0; i < n; i++) {
      xs[k++] = hi * ((i + 1 - (i * 0.6180339887498949) % 1.0) / n);
    }
    for (double b : DOUBLE_BREAKS) {
      double x = b;
      for (int i = 0; i < 6; i++) {
        x = Math.nextDown(x);
      }
      for (int i = 0; i < 12; i++) {
        xs[k++] = x;
        x = Math.nextUp(x);
      }
    }
    return xs;
  }

  // ---- The reference against published values and against itself. ----

  @Test
  void referenceMatchesAbramowitzStegunTable71() {
    // erf x to 10 decimals, Abramowitz & Stegun, Handbook of Mathematical Functions, Table 7.1.
    double[][] table = {
      {0.1, 0.1124629160}, {0.2, 0.2227025892}, {0.3, 0.3286267595}, {0.4, 0.4283923550},
      {0.5, 0.5204998778}, {0.6, 0.6038560908}, {0.7, 0.6778011938}, {0.8, 0.7421009647},
      {0.9, 0.7969082124}, {1.0, 0.8427007929}, {1.2, 0.9103139782}, {1.4, 0.9522851198},
      {1.5, 0.9661051465}, {1.6, 0.9763483833}, {1.8, 0.9890905016}, {2.0, 0.9953222650}
    };
    for (double[] row : table) {
      // The table is rounded to 10 decimals; 1e-15 more covers the double literals.
      double tol = 0.5e-10 + 1e-15;
      assertEquals(row[1], erfRef(row[0]).doubleValue(), tol, "reference erf(" + row[0] + ")");
      assertEquals(row[1], SpecialFunctions.erf(row[0]), tol, "erf(" + row[0] + ")");
      assertEquals(row[1], SpecialFunctions.erf((float) row[0]), 1e-7, "erf(" + row[0] + "f)");
    }
  }

  @Test
  void seriesAndContinuedFractionAgreeWhereBothApply() {
    for (double x = 4.0; x <= 6.0; x += 0.25) {
      BigDecimal bx = new BigDecimal(x);
      BigDecimal series = BigDecimal.ONE.subtract(erfSeries(bx), MC);
      BigDecimal fraction = erfcContinuedFraction(bx);
      double rel = series.subtract(fraction, MC).abs().divide(fraction, MC).doubleValue();
      assertTrue(rel < 1e-40, "erfc(" + x + "): series and continued fraction differ by " + rel);
    }
  }

  // ---- Accuracy. ----

  @Test
  void erfDoubleIsAccurateToAboutAnUlp() {
    double worst = 0;
    double worstX = Double.NaN;
    for (double x : samples(6.5, 3000)) {
      double rel = relErr(SpecialFunctions.erf(x), erfRef(x));
      if (rel > worst) {
        worst = rel;
        worstX = x;
      }
    }
    // Tiny arguments, down through the subnormals, where erf(x) ~ 2x/sqrt(pi).
    for (double x = 0x1p-1070; x < 1e-3; x *= 7.3) {
      BigDecimal ref = erfSeries(new BigDecimal(x));
      double actual = SpecialFunctions.erf(x);
      if (x >= Double.MIN_NORMAL) {
        double rel = relErr(actual, ref);
        if (rel > worst) {
          worst = rel;
          worstX = x;
        }
      } else {
        // Subnormal results carry absolute, not relative, precision: demand correct rounding.
        assertEquals(ref.doubleValue(), actual, "erf(" + x + ")");
      }
    }
    // Double's unit roundoff is 1.1e-16; one ulp is at most 2.2e-16 relative.
    assertTrue(worst < 2.3e-16, "max relative error " + worst + " at x = " + worstX);
  }

  @Test
  void erfcDoubleIsAccurateToAFewUlps() {
    double worst = 0;
    double worstX = Double.NaN;
    for (double x : samples(26.5, 1500)) {
      for (double sx : new double[] {x, -x}) {
        if (-sx > 6.5 || sx > 26.5) {
          continue; // erfc is 2 there, or subnormal: see erfcUnderflowsGradually.
        }
        double rel = relErr(SpecialFunctions.erfc(sx), erfcRef(sx));
        if (rel > worst) {
          worst = rel;
          worstX = sx;
        }
      }
    }
    // fdlibm's erfc is good to about 2.5 ulps, not one (worst seen here: 3.6e-16 near x = 1.25).
    assertTrue(worst < 5e-16, "max relative error " + worst + " at x = " + worstX);
  }

  @Test
  void erfcUnderflowsGradually() {
    // Past x = 26.55 erfc is subnormal, where only absolute error means anything; the tail's
    // first exp underflows there and drops a few of the last bits.
    for (double x = 26.5; x < 27.4; x += 0.003) {
      double ref = erfcRef(x).doubleValue();
      double actual = SpecialFunctions.erfc(x);
      assertEquals(ref, actual, 8 * Double.MIN_VALUE, "erfc(" + x + ")");
    }
  }

  @Test
  void erfFloatIsAccurateToAboutHalfAnUlp() {
    double worst = 0;
    float worstX = Float.NaN;
    for (double xd : samples(4.5, 2000)) {
      float x = (float) xd;
      if (x == 0) {
        continue;
      }
      double err = floatUlpErr(SpecialFunctions.erf(x), erfRef(x));
      if (err > worst) {
        worst = err;
        worstX = x;
      }
    }
    assertTrue(worst < 0.55, "max error " + worst + " float ulps at x = " + worstX);
  }

  @Test
  void erfFloatMatchesDoubleVersionAcrossTheFloatRange() {
    // Every 1031st positive float up to 4.5 (about a million), with the double erf standing in for
    // the exact value: it is some 2^29 times more precise than a float.
    int end = Float.floatToIntBits(4.5f);
    double worst = 0;
    float worstX = Float.NaN;
    for (int bits = 1; bits < end; bits += 1031) {
      float x = Float.intBitsToFloat(bits);
      double exact = SpecialFunctions.erf((double) x);
      float actual = SpecialFunctions.erf(x);
      float nearest = (float) exact;
      float below = nearest > exact ? Math.nextDown(nearest) : nearest;
      double err = Math.abs(actual - exact) / Math.ulp(below);
      if (err > worst) {
        worst = err;
        worstX = x;
      }
    }
    assertTrue(worst < 0.55, "max error " + worst + " float ulps at x = " + worstX);
  }

  // ---- Special values and shape. ----

  @Test
  void specialValues() {
    assertEquals(0L, Double.doubleToRawLongBits(SpecialFunctions.erf(0.0)));
    assertEquals(
        Double.doubleToRawLongBits(-0.0), Double.doubleToRawLongBits(SpecialFunctions.erf(-0.0)));
    assertEquals(1.0, SpecialFunctions.erf(Double.POSITIVE_INFINITY));
    assertEquals(-1.0, SpecialFunctions.erf(Double.NEGATIVE_INFINITY));
    assertTrue(Double.isNaN(SpecialFunctions.erf(Double.NaN)));
    assertEquals(1.0, SpecialFunctions.erf(6.0));
    assertEquals(-1.0, SpecialFunctions.erf(-Double.MAX_VALUE));
    // 2/sqrt(pi) * MIN_VALUE rounds back to MIN_VALUE.
    assertEquals(Double.MIN_VALUE, SpecialFunctions.erf(Double.MIN_VALUE));

    assertEquals(1.0, SpecialFunctions.erfc(0.0));
    assertEquals(1.0, SpecialFunctions.erfc(-0.0));
    assertEquals(0.0, SpecialFunctions.erfc(Double.POSITIVE_INFINITY));
    assertEquals(2.0, SpecialFunctions.erfc(Double.NEGATIVE_INFINITY));
    assertTrue(Double.isNaN(SpecialFunctions.erfc(Double.NaN)));
    assertEquals(0.0, SpecialFunctions.erfc(30.0));
    assertEquals(2.0, SpecialFunctions.erfc(-6.0));

    assertEquals(0, Float.floatToRawIntBits(SpecialFunctions.erf(0.0f)));
    assertEquals(
        Float.floatToRawIntBits(-0.0f), Float.floatToRawIntBits(SpecialFunctions.erf(-0.0f)));
    assertEquals(1.0f, SpecialFunctions.erf(Float.POSITIVE_INFINITY));
    assertEquals(-1.0f, SpecialFunctions.erf(Float.NEGATIVE_INFINITY));
    assertTrue(Float.isNaN(SpecialFunctions.erf(Float.NaN)));
    assertEquals(1.0f, SpecialFunctions.erf(4.0f));
    assertEquals(-1.0f, SpecialFunctions.erf(-Float.MAX_VALUE));
    assertEquals(Float.MIN_VALUE, SpecialFunctions.erf(Float.MIN_VALUE));
    assertEquals(2 * Float.MIN_VALUE, SpecialFunctions.erf(2 * Float.MIN_VALUE));
  }

  @Test
  void erfIsExactlyOdd() {
    for (double x : samples(7, 20000)) {
      assertEquals(-SpecialFunctions.erf(x), SpecialFunctions.erf(-x), "x = " + x);
      float xf = (float) x;
      assertEquals(-SpecialFunctions.erf(xf), SpecialFunctions.erf(-xf), "x = " + xf);
    }
  }

  @Test
  void erfcReflectsAboutOne() {
    for (double x : samples(7, 20000)) {
      // erfc(x) + erfc(-x) = 2; each side rounds on its own, so allow an ulp of 2.
      assertEquals(2.0, SpecialFunctions.erfc(x) + SpecialFunctions.erfc(-x), 4.5e-16, "x = " + x);
    }
  }

  @Test
  void erfIsMonotoneOnAGrid() {
    double prev = -1;
    float prevF = -1;
    double prevC = 2;
    for (int i = -70000; i <= 70000; i++) {
      double x = i * 1e-4;
      double y = SpecialFunctions.erf(x);
      float yf = SpecialFunctions.erf((float) x);
      double c = SpecialFunctions.erfc(x);
      assertTrue(y >= prev, "erf decreases at x = " + x);
      assertTrue(yf >= prevF, "erf(float) decreases at x = " + x);
      assertTrue(c <= prevC, "erfc increases at x = " + x);
      prev = y;
      prevF = yf;
      prevC = c;
    }
  }

  @Test
  void erfIsMonotoneAcrossEachSwitchOfApproximation() {
    // An approximation switch is where neighbouring results come from different fits.
    for (double b : DOUBLE_BREAKS) {
      double x = b;
      for (int i = 0; i < 2000; i++) {
        x = Math.nextDown(x);
      }
      double prev = SpecialFunctions.erf(x);
      double prevC = SpecialFunctions.erfc(x);
      for (int i = 0; i < 4000; i++) {
        x = Math.nextUp(x);
        double y = SpecialFunctions.erf(x);
        double c = SpecialFunctions.erfc(x);
        assertTrue(y >= prev, "erf decreases at x = " + x);
        assertTrue(c <= prevC, "erfc increases at x = " + x);
        prev = y;
        prevC = c;
      }
    }
    for (float b : FLOAT_BREAKS) {
      float x = b;
      for (int i = 0; i < 2000; i++) {
        x = Math.nextDown(x);
      }
      float prev = SpecialFunctions.erf(x);
      for (int i = 0; i < 4000; i++) {
        x = Math.nextUp(x);
        float y = SpecialFunctions.erf(x);
        assertTrue(y >= prev, "erf(float) decreases at x = " + x);
        prev = y;
      }
    }
  }
}
