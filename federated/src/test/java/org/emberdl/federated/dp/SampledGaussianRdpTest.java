package org.emberdl.federated.dp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.emberdl.federated.dp.SampledGaussianRdp.FractionalSeries;
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
        double signed = SampledGaussianRdp.logAFractional(q, sigma, alpha, FractionalSeries.SIGNED);
        double absolute =
            SampledGaussianRdp.logAFractional(q, sigma, alpha, FractionalSeries.ABSOLUTE);
        // The signed series is the exact value; summing magnitudes can only add.
        assertEquals(exact, signed, tolerance, what);
        assertTrue(absolute >= exact - tolerance, what + ": " + absolute + " < " + exact);
      }
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
}
