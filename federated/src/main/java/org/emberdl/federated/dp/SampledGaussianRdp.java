package org.emberdl.federated.dp;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Rényi differential privacy of one step of the Poisson-sampled Gaussian mechanism (the "sampled
 * Gaussian mechanism" of Mironov, Talwar and Zhang 2019, arXiv:1908.10530): each example is
 * included independently with probability {@code q}, and Gaussian noise of standard deviation
 * {@code sigma} times the L2 sensitivity is added to the sum.
 *
 * <p>For an order {@code alpha > 1} the RDP is {@code log(A_alpha) / (alpha - 1)} with {@code
 * A_alpha = E_{z ~ N(0, sigma^2)} [(1 - q + q exp((2z - 1) / (2 sigma^2)))^alpha]}, the Rényi
 * divergence of the mixture {@code (1 - q) N(0, sigma^2) + q N(1, sigma^2)} from {@code N(0,
 * sigma^2)}, which MTZ 2019 (Section 3) show is the larger of the two directions. {@code A_alpha}
 * is computed in log space:
 *
 * <ul>
 *   <li>integer {@code alpha}: the binomial expansion (MTZ 2019, Section 3), {@code A_alpha =
 *       sum_{k=0..alpha} C(alpha, k) (1 - q)^(alpha - k) q^k exp((k^2 - k) / (2 sigma^2))},
 *       exactly;
 *   <li>fractional {@code alpha}: the two series of MTZ 2019 Section 3.3, splitting the integral at
 *       {@code z0 = sigma^2 log(1/q - 1) + 1/2} where the binomial series converges on each side,
 *       as Google's {@code dp_accounting} ({@code rdp_privacy_accountant._compute_log_a_frac})
 *       computes it: the magnitudes of the terms are summed ({@link FractionalSeries#ABSOLUTE}),
 *       which bounds the exact alternating sum from above, and the iteration stops when both series
 *       are decreasing and their terms are {@code e^-30} below the total, or gives {@code +inf}
 *       (the order is then useless but still valid) after 1000 terms.
 * </ul>
 */
final class SampledGaussianRdp {
  private static final Logger LOG = LoggerFactory.getLogger(SampledGaussianRdp.class);

  private SampledGaussianRdp() {}

  /** Most terms of the fractional-order series before the order is given up ({@code +inf}). */
  static final int MAX_FRACTIONAL_TERMS = 1000;

  private static final double LOG_HALF = Math.log(0.5);
  private static final double SQRT_2 = Math.sqrt(2);

  /** How the fractional-order series adds terms whose binomial coefficient is negative. */
  enum FractionalSeries {
    /**
     * Adds every term's magnitude: an upper bound on {@code A_alpha} (so on the RDP), robust to
     * cancellation. What the current {@code dp_accounting} and TF Privacy's current {@code
     * compute_dp_sgd_privacy} do; the default.
     */
    ABSOLUTE,
    /**
     * Adds terms with their signs: the exact series of MTZ 2019 Section 3.3, as TF Privacy's
     * original {@code rdp_accountant.py} and Opacus compute it. Kept to reproduce their published
     * numbers.
     */
    SIGNED
  }

  /**
   * RDP at {@code order} of one step, with the default {@link FractionalSeries#ABSOLUTE} series.
   *
   * @param q sampling probability in [0, 1]
   * @param sigma noise multiplier (noise standard deviation / L2 sensitivity), finite, >= 0
   * @param order Rényi order, finite, > 1
   */
  static double rdp(double q, double sigma, double order) {
    return rdp(q, sigma, order, FractionalSeries.ABSOLUTE);
  }

  /** {@link #rdp(double, double, double)} with a chosen fractional-order series. */
  static double rdp(double q, double sigma, double order, FractionalSeries series) {
    if (q == 0) {
      return 0; // nobody's data is touched: no privacy loss, whatever the noise
    }
    if (sigma == 0) {
      return Double.POSITIVE_INFINITY;
    }
    if (q == 1) {
      return order / (2 * sigma * sigma); // the Gaussian mechanism (Mironov 2017, Corollary 3)
    }
    double logA =
        isInteger(order)
            ? logAInteger(q, sigma, (long) order)
            : logAFractional(q, sigma, order, series);
    // The divergence is >= 0; rounding in the sums can leave -1e-17 or so.
    return Math.max(0, logA / (order - 1));
  }

  static boolean isInteger(double order) {
    return order == Math.rint(order);
  }

  /** {@code log(A_alpha)} for integer {@code alpha >= 2} and {@code 0 < q < 1}. */
  static double logAInteger(double q, double sigma, long alpha) {
    double logQ = Math.log(q);
    double log1mQ = Math.log1p(-q);
    double twoSigmaSq = 2 * sigma * sigma;
    LogMath.LogSumExp sum = new LogMath.LogSumExp();
    double logBinom = 0; // log C(alpha, 0)
    for (long k = 0; k <= alpha; k++) {
      if (k > 0) {
        logBinom += Math.log((double) (alpha - k + 1) / k);
      }
      double kd = k;
      sum.add(logBinom + kd * logQ + (alpha - kd) * log1mQ + (kd * kd - kd) / twoSigmaSq);
    }
    return sum.value();
  }

  /**
   * {@code log(A_alpha)} for fractional {@code alpha > 1} and {@code 0 < q < 1}: MTZ 2019 Section
   * 3.3. With {@code z0} as in the class comment, {@code A_alpha = A0 + A1} where
   *
   * <pre>
   * A0 = sum_k C(alpha, k) q^k (1-q)^(alpha-k) exp((k^2 - k) / (2 sigma^2)) erfc((k - z0) / (sqrt(2) sigma)) / 2
   * A1 = sum_k C(alpha, k) q^(alpha-k) (1-q)^k exp((j^2 - j) / (2 sigma^2)) erfc((z0 - j) / (sqrt(2) sigma)) / 2,
   *      j = alpha - k.
   * </pre>
   */
  static double logAFractional(double q, double sigma, double alpha, FractionalSeries series) {
    double logQ = Math.log(q);
    double log1mQ = Math.log1p(-q);
    double twoSigmaSq = 2 * sigma * sigma;
    double z0 = sigma * sigma * (log1mQ - logQ) + 0.5;
    double erfcScale = SQRT_2 * sigma;

    // Magnitude sums of the two series, and for SIGNED the part with negative coefficients.
    LogMath.LogSumExp abs0 = new LogMath.LogSumExp();
    LogMath.LogSumExp abs1 = new LogMath.LogSumExp();
    LogMath.LogSumExp neg = new LogMath.LogSumExp();
    double logBinom = 0; // log |C(alpha, k)|
    boolean negative = false; // sign of C(alpha, k)
    double last0 = Double.NEGATIVE_INFINITY;
    double last1 = Double.NEGATIVE_INFINITY;
    for (int k = 0; k < MAX_FRACTIONAL_TERMS; k++) {
      if (k > 0) {
        double factor = (alpha - k + 1) / k; // C(alpha, k) = C(alpha, k-1) (alpha - k + 1) / k
        logBinom += Math.log(Math.abs(factor));
        if (factor < 0) {
          negative = !negative;
        }
      }
      double j = alpha - k;
      double logT0 = logBinom + k * logQ + j * log1mQ;
      double logT1 = logBinom + j * logQ + k * log1mQ;
      double logE0 = LOG_HALF + LogMath.logErfc((k - z0) / erfcScale);
      double logE1 = LOG_HALF + LogMath.logErfc((z0 - j) / erfcScale);
      double logS0 = logT0 + ((double) k * k - k) / twoSigmaSq + logE0;
      double logS1 = logT1 + (j * j - j) / twoSigmaSq + logE1;
      abs0.add(logS0);
      abs1.add(logS1);
      if (negative) {
        neg.add(logS0);
        neg.add(logS1);
      }
      double total = LogMath.logAdd(abs0.value(), abs1.value());
      if (logS0 < last0 && logS1 < last1 && Math.max(logS0, logS1) < total - 30) {
        if (series == FractionalSeries.ABSOLUTE) {
          return total;
        }
        // sum = (positive part) - (negative part) = |sum| - 2 (negative part).
        double signed = LogMath.logSub(total, Math.log(2) + neg.value());
        // Cancellation beyond what the series can resolve: fall back to the bound.
        return Double.isNaN(signed) || signed == Double.NEGATIVE_INFINITY ? total : signed;
      }
      last0 = logS0;
      last1 = logS1;
    }
    LOG.debug(
        "RDP series for fractional order {} did not converge in {} terms (q={}, sigma={});"
            + " the order is left out (RDP +inf)",
        alpha,
        MAX_FRACTIONAL_TERMS,
        q,
        sigma);
    return Double.POSITIVE_INFINITY;
  }
}
