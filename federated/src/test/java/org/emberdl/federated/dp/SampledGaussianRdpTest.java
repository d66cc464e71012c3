package org.emberdl.federated.dp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LogEvent;
import org.apache.logging.log4j.core.Logger;
import org.apache.logging.log4j.core.appender.AbstractAppender;
import org.apache.logging.log4j.core.config.Property;
import org.junit.jupiter.api.Test;

/** The numerical building blocks of the accountant, checked against independent computations. */
class SampledGaussianRdpTest {

  @Test
  void logErfcMatchesHighPrecisionValuesIntoTheFarTail() {
    // log(erfc(x)) computed with mpmath 1.3.0 at 40 significant digits
    // (mpmath.log(mpmath.erfc(x))), shown to 20 digits. Covers the three intervals of Cody's
    // approximation (|x| <= 0.46875, <= 4, > 4), negative x, and x where erfc underflows.
    double[][] cases = {
      {-5, 0.69314718055917657952},
      {-1, 0.61123231767807049464},
      {-0.3, 0.28414589714140825864},
      {0, 0.0},
      {0.2, -0.25193223378261666096},
      {0.46875, -0.67848218561439609899},
      {0.5, -0.73501112983708440303},
      {1, -1.8496055099332482486},
      {2, -5.3649412646166375745},
      {3.9, -17.173871216435403526},
      {4, -17.987778312103006503},
      {4.1, -18.821154183082650817},
      {10, -102.87988902484488857},
      {26, -679.83119976319423026},
      {27, -732.86888650789741098},
      {100, -10005.177585122664333},
      {1000, -1000007.4801207219062},
      {10000, -100000009.7827053199},
    };
    for (double[] c : cases) {
      double tolerance = 4e-16 * Math.max(1, Math.abs(c[1]));
      assertEquals(c[1], LogMath.logErfc(c[0]), tolerance, "log erfc(" + c[0] + ")");
    }
    assertEquals(Math.log(2), LogMath.logErfc(Double.NEGATIVE_INFINITY));
    assertEquals(Double.NEGATIVE_INFINITY, LogMath.logErfc(Double.POSITIVE_INFINITY));
  }

  @Test
  void logSumExpAndLogAddAgreeWithDirectSums() {
    LogMath.LogSumExp s = new LogMath.LogSumExp();
    assertEquals(Double.NEGATIVE_INFINITY, s.value());
    double direct = 0;
    for (double t : new double[] {-3, 2, Double.NEGATIVE_INFINITY, 0.5, -700, 1.9}) {
      s.add(t);
      direct += Math.exp(t);
    }
    assertEquals(Math.log(direct), s.value(), 1e-15);
    assertEquals(Math.log(Math.exp(1.2) + Math.exp(-0.4)), LogMath.logAdd(1.2, -0.4), 1e-15);
    assertEquals(1000 + Math.log1p(Math.exp(-1)), LogMath.logAdd(999, 1000), 1e-12);
    assertEquals(Math.log(Math.exp(1.2) - Math.exp(-0.4)), LogMath.logSub(1.2, -0.4), 1e-15);
    assertEquals(Double.NEGATIVE_INFINITY, LogMath.logSub(3, 3));
    assertTrue(Double.isNaN(LogMath.logSub(1, 2)));
  }

  /**
   * The series against direct numerical integration of {@code A_alpha = E_{z ~ N(0, sigma^2)} [(1 -
   * q + q exp((2z - 1) / (2 sigma^2)))^alpha]} (MTZ 2019, Section 3), an independent route to the
   * same number. The trapezoidal rule converges geometrically for this smooth, Gaussian-tailed
   * integrand; with step sigma/50 its error is far below double rounding.
   */
  @Test
  void seriesAgreeWithNumericalIntegration() {
    double[][] cases = { // q, sigma, alpha
      {0.01, 2.5, 1.5},
      {0.01, 2.5, 2.5},
      {0.01, 2.5, 5},
      {0.1, 2, 5},
      {0.1, 2, 2.25},
      {0.04, 1.5, 3.7},
      {1e-3, 1, 20.5},
      {0.5, 1, 2.25},
      {0.5, 1, 7},
      {256.0 / 60000, 1.1, 8.1},
      {0.01, 4, 20},
      {0.9, 3, 1.75},
    };
    for (double[] c : cases) {
      double q = c[0];
      double sigma = c[1];
      double alpha = c[2];
      double exact = logAByIntegration(q, sigma, alpha);
      String what = "q=" + q + " sigma=" + sigma + " alpha=" + alpha;
      double tolerance = 1e-12 + 1e-10 * Math.abs(exact);
      if (SampledGaussianRdp.isInteger(alpha)) {
        assertEquals(
            exact, SampledGaussianRdp.logAInteger(q, sigma, (long) alpha), tolerance, what);
      } else {
        double signed =
            SampledGaussianRdp.logAFractional(
                q, sigma, alpha, SampledGaussianRdp.MAX_FRACTIONAL_TERMS);
        assertEquals(exact, signed, tolerance, what);
      }
    }
  }

  /**
   * The same comparison over 300 random settings (fixed seed): q log-uniform in [1e-4, 1) (a third
   * of them within 0.05 of 1/2, where the two series cancel most and their tails are slowest),
   * sigma log-uniform in [0.3, 30], fractional orders in (1, 64). Exercises every way the series
   * can stop (alternating bound, Euler's estimate, rounding floor) on both sides of q = 1/2.
   */
  @Test
  void seriesAgreeWithNumericalIntegrationOnRandomSettings() {
    java.util.Random random = new java.util.Random(12);
    for (int i = 0; i < 300; i++) {
      double q =
          i % 3 == 0
              ? 0.45 + 0.1 * random.nextDouble()
              : Math.exp(Math.log(1e-4) * random.nextDouble());
      double sigma = 0.3 * Math.exp(Math.log(100) * random.nextDouble());
      double alpha = 1 + 63 * random.nextDouble();
      double exact = logAByIntegration(q, sigma, alpha);
      double series =
          SampledGaussianRdp.logAFractional(
              q, sigma, alpha, SampledGaussianRdp.MAX_FRACTIONAL_TERMS);
      assertEquals(
          exact,
          series,
          1e-14 + 1e-10 * Math.abs(exact),
          "q=" + q + " sigma=" + sigma + " alpha=" + alpha);
    }
  }

  /** Trapezoidal rule for log(A_alpha), in log space. */
  private static double logAByIntegration(double q, double sigma, double alpha) {
    double h = sigma / 50;
    double lo = -40 * sigma;
    double hi = alpha + 40 * sigma;
    double logQ = Math.log(q);
    double log1mQ = Math.log1p(-q);
    double logNorm = -Math.log(sigma * Math.sqrt(2 * Math.PI));
    LogMath.LogSumExp sum = new LogMath.LogSumExp();
    long n = (long) Math.ceil((hi - lo) / h);
    for (long i = 0; i <= n; i++) {
      double z = lo + i * h;
      double logMix = LogMath.logAdd(log1mQ, logQ + (2 * z - 1) / (2 * sigma * sigma));
      double logF = logNorm - z * z / (2 * sigma * sigma) + alpha * logMix;
      sum.add(i == 0 || i == n ? logF + Math.log(0.5) : logF);
    }
    return sum.value() + Math.log(h);
  }

  @Test
  void integerAndFractionalComputationsAgreeAtIntegerOrders() {
    // Order 2 takes the binomial sum; 2 +- 1e-7 take the two-series computation. The RDP is
    // smooth in the order, so the three must nearly coincide.
    double[][] cases = {{0.01, 1.1}, {256.0 / 60000, 1.1}, {0.1, 2}, {0.5, 0.8}};
    for (double[] c : cases) {
      for (double order : new double[] {2, 3, 10, 32}) {
        double atInteger = SampledGaussianRdp.rdp(c[0], c[1], order);
        for (double offset : new double[] {-1e-7, 1e-7}) {
          double nearby = SampledGaussianRdp.rdp(c[0], c[1], order + offset);
          assertEquals(
              atInteger,
              nearby,
              1e-5 * atInteger,
              "q=" + c[0] + " sigma=" + c[1] + " order " + order + " vs " + (order + offset));
        }
      }
    }
  }

  @Test
  void specialCases() {
    // q = 1: the Gaussian mechanism, alpha / (2 sigma^2) (Mironov 2017, Corollary 3).
    assertEquals(3.5 / (2 * 0.7 * 0.7), SampledGaussianRdp.rdp(1, 0.7, 3.5));
    // q = 0: nothing sampled, no loss, even without noise.
    assertEquals(0, SampledGaussianRdp.rdp(0, 0, 7));
    assertEquals(0, SampledGaussianRdp.rdp(0, 1, 7.5));
    // sigma = 0 with data sampled: no privacy.
    assertEquals(Double.POSITIVE_INFINITY, SampledGaussianRdp.rdp(0.01, 0, 2));
    assertEquals(Double.POSITIVE_INFINITY, SampledGaussianRdp.rdp(0.01, 0, 2.5));
    // Subsampling only helps: below the unsampled Gaussian at every order.
    for (double order : new double[] {1.5, 2, 8.1, 63, 1024}) {
      double sampled = SampledGaussianRdp.rdp(0.01, 1.1, order);
      assertTrue(sampled >= 0 && sampled < SampledGaussianRdp.rdp(1, 1.1, order), "" + order);
    }
  }

  @Test
  void logErfcxAndLogHalfErfcMatchHighPrecisionValues() {
    // Python decimal at 120 digits: erfc from its Taylor series (x <= 8), erfcx from its
    // asymptotic series (x = 100, 10^4); shown to 21 digits.
    double[][] erfcx = {
      {0, 0},
      {0.2, -2.11932233782616660957e-1},
      {0.46875, -4.58755623114396098990e-1},
      {1, -8.49605509933248248576e-1},
      {3, -1.72036304198111256773},
      {5, -2.20088954553743442244},
      {8, -2.65947197080516148975},
      {100, -5.17758512266433257047},
      {10000, -9.78270531990088276064},
    };
    for (double[] c : erfcx) {
      assertEquals(c[1], LogMath.logErfcx(c[0]), 4e-16 * Math.max(1, -c[1]), "erfcx " + c[0]);
    }
    assertEquals(Double.NEGATIVE_INFINITY, LogMath.logErfcx(Double.POSITIVE_INFINITY));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> LogMath.logErfcx(-1));
    assertTrue(
        e.getMessage().contains("x >= 0") && e.getMessage().contains("-1.0"), e.getMessage());
    // log(erfc(x) / 2): for x < 0 a tiny negative number that must keep its relative precision
    // (log(2) + log(erfc(x)) - log(2) rounds -1.08e-17 to 0).
    double[][] halfErfc = {
      {-6, -1.07598683562494566162e-17},
      {-3, -1.10453094984990942590e-5},
      {-0.3, -4.09001283418537050776e-1},
      {0.5, -1.42815831039702971244},
      {3, -1.14135102225410578771e1},
    };
    for (double[] c : halfErfc) {
      assertEquals(c[1], LogMath.logHalfErfc(c[0]), 1e-14 * Math.abs(c[1]), "half erfc " + c[0]);
    }
  }

  @Test
  void smallLogHelpersKeepTheirDigits() {
    assertEquals(Math.log1p(Math.exp(-3)), LogMath.log1pExp(-3), 1e-16);
    assertEquals(1e-30, LogMath.log1pExp(Math.log(1e-30)), 1e-44);
    assertEquals(800 + Math.exp(-800), LogMath.log1pExp(800));
    assertEquals(0, LogMath.log1pExp(Double.NEGATIVE_INFINITY));
    // log|expm1(x)|: log(1e-20) for x = 1e-20 (exp(x) - 1 would be 0), x for large x.
    assertEquals(Math.log(1e-20), LogMath.logAbsExpm1(1e-20), 1e-14);
    assertEquals(Math.log(1e-20), LogMath.logAbsExpm1(-1e-20), 1e-14);
    assertEquals(Math.log(Math.E - 1), LogMath.logAbsExpm1(1), 1e-15);
    assertEquals(Math.log(1 - Math.exp(-2)), LogMath.logAbsExpm1(-2), 1e-15);
    assertEquals(5000, LogMath.logAbsExpm1(5000));
    assertEquals(Double.NEGATIVE_INFINITY, LogMath.logAbsExpm1(0));
    // A signed sum whose partial sums change sign: 3 - 5 + 2.5 = 0.5.
    LogMath.SignedLogSum sum = new LogMath.SignedLogSum();
    sum.add(Math.log(3), false);
    sum.add(Math.log(5), true);
    assertTrue(sum.isNegative());
    assertEquals(Math.log(2), sum.logAbs(), 1e-15);
    sum.add(Math.log(2.5), false);
    assertTrue(!sum.isNegative());
    assertEquals(Math.log(0.5), sum.logAbs(), 1e-14); // 3 - 5 + 2.5 cancels 20-fold
    assertEquals(Math.log(10.5), sum.logMagnitudeSum(), 1e-15);
  }

  @Test
  void fractionalSeriesAreSummedWithTheirSignsToConvergence() {
    // Values of rdp_reference.py (50-digit integration of A_alpha, independent of the series).
    // Issue 12's case, q = 0.1, sigma = 0.5, order 1.1: the magnitudes of the series' terms summed
    // gave 0.2231 per step (epsilon 2231 after 10^4 steps); the exact value is 0.0695.
    assertEquals(6.95358929025141480238e-2, SampledGaussianRdp.rdp(0.1, 0.5, 1.1), 1e-12 * 0.07);
    // q = 1/2, sigma = 10, order 1.1: the terms decay like k^-3.1 and alternate; summing them to
    // the alternating-series bound takes about 10^5 terms. The old cap of 1000 terms gave +inf
    // (the order dropped, logged at DEBUG only).
    assertEquals(1.37706001497360185808e-3, SampledGaussianRdp.rdp(0.5, 10, 1.1), 1e-10 * 1.4e-3);
    // q = 1e-3, sigma = 10: A - 1 = 5.5e-10 keeps its digits (log(A) held as a double would be
    // off by about 2e-7 relative).
    assertEquals(5.52754175440164360703e-9, SampledGaussianRdp.rdp(1e-3, 10, 1.1), 1e-12 * 5.5e-9);
    assertEquals(6.03070775317250740404e-8, SampledGaussianRdp.rdp(1e-3, 10, 12), 1e-12 * 6e-8);
    // Off the grid of RdpAccountantReferenceTest, where the tails are slowest (q near 1/2, large
    // sigma, orders near 1) and on either side of q = 1/2 (rdp_reference.py's Integrator, whose
    // value did not change in 40 digits when its step was halved).
    double[][] cases = { // q, sigma, order, exact RDP per step
      {0.45, 10, 1.1, 1.11570798446211977949e-3},
      {0.49, 100, 1.5, 1.80079591923800033454e-5},
      {0.3, 2, 1.05, 1.25545790080936546107e-2},
      {0.7, 1, 3.6, 1.35289113198616893569},
      {0.99, 2, 2.5, 3.07296882343735379778e-1},
      {1e-4, 3, 7.7, 4.52479908741415832481e-9},
    };
    for (double[] c : cases) {
      assertEquals(
          c[3],
          SampledGaussianRdp.rdp(c[0], c[1], c[2]),
          1e-10 * c[3],
          "q=" + c[0] + " sigma=" + c[1] + " order " + c[2]);
    }
    assertEquals(6.75000000000236250000e-14, SampledGaussianRdp.rdp(0.3, 1e6, 1.5), 1e-24);
    // Near q = 1/2 with huge sigma the two series are each about 1/2 and A - 1 is 1e-10 or less:
    // double precision leaves log(A) exact to about 1e-17 absolute, not relative, and the series
    // stops at that rounding floor (else it would run to its term cap, for seconds).
    assertEquals(
        1.37445005706236236001e-9, SampledGaussianRdp.rdp(0.4999, 1e4, 1.1), 1e-7 * 1.4e-9);
    double exactTiny = 1.14823706098845505060e-13; // log(A) = 1.1e-15
    List<String> warnings = captureWarnings();
    try {
      assertEquals(exactTiny, SampledGaussianRdp.rdp(0.5, 1 << 20, 1.01), 1e-16 / 0.01);
    } finally {
      stopCapturing();
    }
    assertEquals(List.of(), warnings);
  }

  @Test
  void anUnconvergedSeriesGivesAnUpperBoundAndAWarning() {
    double exact = 6.95358929025141480238e-2 * 0.1; // log(A) at q = 0.1, sigma = 0.5, order 1.1
    List<String> warnings = captureWarnings();
    double bounded;
    try {
      bounded = SampledGaussianRdp.logAFractional(0.1, 0.5, 1.1, 20);
    } finally {
      stopCapturing();
    }
    // The alternating series' bracket: above the exact value, and not by much after 20 terms.
    assertTrue(bounded > exact && bounded < exact * 1.01, bounded + " vs " + exact);
    assertEquals(1, warnings.size(), warnings.toString());
    String w = warnings.get(0);
    for (String part :
        new String[] {"order 1.1", "q=0.1", "sigma=0.5", "after 20 terms", "upper bound"}) {
      assertTrue(w.contains(part), w);
    }
  }

  @Test
  void anOrderWithoutABoundIsReportedNotDroppedSilently() {
    // sigma = 1e-170: sigma^2 underflows to 0 and the RDP is infinite at every order.
    List<String> warnings = captureWarnings();
    try {
      assertEquals(Double.POSITIVE_INFINITY, SampledGaussianRdp.rdp(0.5, 1e-170, 2.5));
      assertEquals(Double.POSITIVE_INFINITY, SampledGaussianRdp.rdp(0.5, 1e-170, 3));
    } finally {
      stopCapturing();
    }
    assertEquals(2, warnings.size(), warnings.toString());
    assertTrue(warnings.get(0).contains("order 2.5") && warnings.get(0).contains("left out"), "");
    assertTrue(warnings.get(1).contains("order 3.0") && warnings.get(1).contains("q=0.5"), "");
  }

  // ---- Log capture (log4j2 is the SLF4J binding of the tests) ----------------------------------

  private static final String LOGGER = SampledGaussianRdp.class.getName();
  private static WarningCapture capture;

  private static List<String> captureWarnings() {
    capture = new WarningCapture();
    capture.start();
    Logger logger = (Logger) LogManager.getLogger(LOGGER);
    logger.addAppender(capture);
    return capture.messages;
  }

  private static void stopCapturing() {
    ((Logger) LogManager.getLogger(LOGGER)).removeAppender(capture);
    capture.stop();
  }

  /** Collects the WARN (and worse) messages of the accountant's logger. */
  private static final class WarningCapture extends AbstractAppender {
    final List<String> messages = new CopyOnWriteArrayList<>();

    WarningCapture() {
      super("rdp-warnings", null, null, true, Property.EMPTY_ARRAY);
    }

    @Override
    public void append(LogEvent event) {
      if (event.getLevel().isMoreSpecificThan(org.apache.logging.log4j.Level.WARN)) {
        messages.add(event.getMessage().getFormattedMessage());
      }
    }
  }
}
