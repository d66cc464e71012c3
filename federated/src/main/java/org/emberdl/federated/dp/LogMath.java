package org.emberdl.federated.dp;

/**
 * Log-space arithmetic for the privacy accountant: sums of numbers held as logarithms, and {@code
 * log(erfc(x))} accurate far into the tails (where {@code erfc} itself under- or overflows).
 */
final class LogMath {
  private LogMath() {}

  private static final double LOG_2 = Math.log(2);

  /** {@code 1 / sqrt(pi)}. */
  private static final double ONE_OVER_SQRT_PI = 5.6418958354775628695e-1;

  // W. J. Cody, "Rational Chebyshev approximations for the error function", Math. Comp. 23 (1969)
  // 631-637; coefficients as in Netlib SPECFUN CALERF. A/B: erf on |x| <= 0.46875. C/D:
  // erfc(x) * exp(x^2) on (0.46875, 4]. P/Q: erfc(x) * exp(x^2) * x on (4, inf) in 1/x^2.
  private static final double[] A = {
    3.16112374387056560e00,
    1.13864154151050156e02,
    3.77485237685302021e02,
    3.20937758913846947e03,
    1.85777706184603153e-1
  };
  private static final double[] B = {
    2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03, 2.84423683343917062e03
  };
  private static final double[] C = {
    5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
    2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
    2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8
  };
  private static final double[] D = {
    1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
    1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
    3.43936767414372164e03, 1.23033935480374942e03
  };
  private static final double[] P = {
    3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
    1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2
  };
  private static final double[] Q = {
    2.56852019228982242e00,
    1.87295284992346047e00,
    5.27905102951428412e-1,
    6.05183413124413191e-2,
    2.33520497626869185e-3
  };

  /** {@code log(exp(a) + exp(b))} without overflow; {@code -inf} stands for 0. */
  static double logAdd(double a, double b) {
    double hi = Math.max(a, b);
    double lo = Math.min(a, b);
    if (lo == Double.NEGATIVE_INFINITY) {
      return hi;
    }
    if (hi == Double.POSITIVE_INFINITY) {
      return hi;
    }
    return hi + Math.log1p(Math.exp(lo - hi));
  }

  /**
   * {@code log(exp(a) - exp(b))} for {@code a >= b}; {@code -inf} when they are equal, NaN when
   * {@code a < b} (the difference would be negative).
   */
  static double logSub(double a, double b) {
    if (a < b) {
      return Double.NaN;
    }
    if (b == Double.NEGATIVE_INFINITY) {
      return a;
    }
    if (a == b) {
      return Double.NEGATIVE_INFINITY;
    }
    // log(e^a - e^b) = a + log(1 - e^(b - a)); log(-expm1(x)) keeps precision for x near 0.
    return a + Math.log(-Math.expm1(b - a));
  }

  /**
   * {@code log(erfc(x))} with close to full double precision for all x, including x far in the
   * right tail where {@code erfc(x)} underflows (there it is about {@code -x^2 - log(x sqrt(pi))}).
   */
  static double logErfc(double x) {
    if (Double.isNaN(x)) {
      return Double.NaN;
    }
    if (Double.isInfinite(x)) {
      return x > 0 ? Double.NEGATIVE_INFINITY : LOG_2;
    }
    double y = Math.abs(x);
    if (y <= 0.46875) {
      double ysq = y * y;
      double num = A[4] * ysq;
      double den = ysq;
      for (int i = 0; i < 3; i++) {
        num = (num + A[i]) * ysq;
        den = (den + B[i]) * ysq;
      }
      double erf = x * (num + A[3]) / (den + B[3]);
      return Math.log1p(-erf);
    }
    // log(erfc(y)) for y > 0.46875 as log(R(y)) - y^2, with y^2 split as in Cody's CALERF so that
    // ysq * ysq is exact.
    double ratio = erfcxRatio(y);
    double ysq = Math.floor(y * 16.0) / 16.0;
    double del = (y - ysq) * (y + ysq);
    double logErfcY = Math.log(ratio) - ysq * ysq - del;
    if (x > 0) {
      return logErfcY;
    }
    // erfc(-y) = 2 - erfc(y).
    return LOG_2 + Math.log1p(-0.5 * Math.exp(logErfcY));
  }

  /** {@code erfc(y) exp(y^2)} for {@code y > 0.46875} (Cody's rational approximations). */
  private static double erfcxRatio(double y) {
    double ratio;
    if (y <= 4.0) {
      double num = C[8] * y;
      double den = y;
      for (int i = 0; i < 7; i++) {
        num = (num + C[i]) * y;
        den = (den + D[i]) * y;
      }
      ratio = (num + C[7]) / (den + D[7]);
    } else {
      double z = 1.0 / (y * y);
      double num = P[5] * z;
      double den = z;
      for (int i = 0; i < 4; i++) {
        num = (num + P[i]) * z;
        den = (den + Q[i]) * z;
      }
      double r = z * (num + P[4]) / (den + Q[4]);
      ratio = (ONE_OVER_SQRT_PI - r) / y;
    }
    return ratio;
  }

  /**
   * {@code log(erfc(x) / 2)}, the log of the upper Gaussian tail {@code P(Z > sqrt(2) x)}, with
   * full relative precision for both signs: for {@code x < 0} it is {@code log1p(-erfc(-x) / 2)},
   * which keeps the tiny distance from 0 that {@code log(2) + logErfc(x) - log(2)} would round
   * away.
   */
  static double logHalfErfc(double x) {
    if (x >= 0 || Double.isNaN(x)) {
      return logErfc(x) - LOG_2;
    }
    return Math.log1p(-0.5 * Math.exp(logErfc(-x)));
  }

  /**
   * {@code log(erfcx(x)) = x^2 + log(erfc(x))} for {@code x >= 0}, without forming {@code x^2}: the
   * scaled complementary error function, which decreases like {@code 1 / (x sqrt(pi))}. Lets a
   * caller combine {@code -x^2} analytically with other large exponents instead of subtracting them
   * in floating point.
   *
   * @throws IllegalArgumentException if {@code x < 0} or NaN (use {@link #logErfc} there)
   */
  static double logErfcx(double x) {
    if (!(x >= 0)) {
      throw new IllegalArgumentException("logErfcx needs x >= 0, got " + x);
    }
    if (x <= 0.46875) {
      return logErfc(x) + x * x;
    }
    if (x == Double.POSITIVE_INFINITY) {
      return Double.NEGATIVE_INFINITY;
    }
    return Math.log(erfcxRatio(x));
  }

  /** {@code log(1 + exp(x))} without overflow; {@code 0} for {@code x = -inf}. */
  static double log1pExp(double x) {
    return x > 35 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
  }

  /**
   * {@code log|exp(x) - 1|}, precise for all x (small x included); {@code -inf} at {@code x = 0}.
   */
  static double logAbsExpm1(double x) {
    return x > 0 ? x + Math.log(-Math.expm1(-x)) : Math.log(-Math.expm1(x));
  }

  /** A signed number as the log of its magnitude and its sign. */
  record Signed(double logAbs, boolean negative) {}

  /**
   * A running sum of signed terms given as {@code (log|t|, sign)}: the positive and the negative
   * terms are summed apart in log space and subtracted once at the end, so a series whose partial
   * sums change sign (or cancel) never needs the log of a negative number.
   */
  static final class SignedLogSum {
    private final LogSumExp positive = new LogSumExp();
    private final LogSumExp negative = new LogSumExp();

    void add(double logMagnitude, boolean negativeTerm) {
      (negativeTerm ? negative : positive).add(logMagnitude);
    }

    /** {@code log|sum|}; {@code -inf} when the sum is 0. */
    double logAbs() {
      double p = positive.value();
      double n = negative.value();
      return p >= n ? logSub(p, n) : logSub(n, p);
    }

    /** Whether the sum is below 0. */
    boolean isNegative() {
      return negative.value() > positive.value();
    }

    /** This sum plus {@code +-exp(logC)}, without changing this sum. */
    Signed plus(double logC, boolean negativeC) {
      double p = positive.value();
      double n = negative.value();
      if (negativeC) {
        n = logAdd(n, logC);
      } else {
        p = logAdd(p, logC);
      }
      return p >= n ? new Signed(logSub(p, n), false) : new Signed(logSub(n, p), true);
    }

    /** {@code log(positive part + negative part)}: the scale of the rounding error of the sum. */
    double logMagnitudeSum() {
      return logAdd(positive.value(), negative.value());
    }
  }

  /**
   * A running {@code log(sum(exp(t)))} over terms {@code t} given as logarithms, rescaled to the
   * largest term so far so that nothing overflows and each term costs one {@code exp}.
   */
  static final class LogSumExp {
    private double max = Double.NEGATIVE_INFINITY;
    private double scaled; // sum of exp(t - max)

    void add(double logTerm) {
      if (logTerm == Double.NEGATIVE_INFINITY) {
        return;
      }
      if (logTerm == Double.POSITIVE_INFINITY) {
        max = Double.POSITIVE_INFINITY;
        scaled = 1;
        return;
      }
      if (max == Double.POSITIVE_INFINITY) {
        return;
      }
      if (logTerm <= max) {
        scaled += Math.exp(logTerm - max);
      } else {
        scaled = scaled * Math.exp(max - logTerm) + 1.0;
        max = logTerm;
      }
    }

    /** The logarithm of the sum so far; {@code -inf} for an empty sum. */
    double value() {
      if (max == Double.NEGATIVE_INFINITY || max == Double.POSITIVE_INFINITY) {
        return max;
      }
      return max + Math.log(scaled);
    }
  }
}
