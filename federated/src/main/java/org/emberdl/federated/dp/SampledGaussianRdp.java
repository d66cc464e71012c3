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
 * sigma^2)}, which MTZ 2019 (Section 3) show is the larger of the two directions. It is computed
 * exactly (to rounding), in log space:
 *
 * <ul>
 *   <li>integer {@code alpha}: the binomial expansion (MTZ 2019, Section 3), {@code A_alpha =
 *       sum_{k=0..alpha} C(alpha, k) (1 - q)^(alpha - k) q^k exp((k^2 - k) / (2 sigma^2))};
 *   <li>fractional {@code alpha}: the two series of MTZ 2019 Section 3.3 (the integral split at
 *       {@code z0 = sigma^2 log(1/q - 1) + 1/2}, where each side's binomial series converges), with
 *       their terms' <em>signs</em>, as Opacus ({@code _compute_log_a_frac}) and TF Privacy's
 *       original {@code rdp_accountant} sum them. Positive and negative terms are summed apart in
 *       log space ({@link LogMath.SignedLogSum}), so no partial sum ever needs the log of a
 *       negative number. Summing the terms' magnitudes instead (what Ember did before) is an upper
 *       bound, but a loose one: 2231 instead of 807 for epsilon at q = 0.1, sigma = 0.5, 10^4
 *       steps, delta = 1e-5.
 * </ul>
 *
 * <p><b>Small RDP keeps its digits.</b> For {@code q < 1/2} both computations give {@code A_alpha -
 * 1} directly: the integer sum as {@code sum_{k>=2} C(alpha,k) (1-q)^(alpha-k) q^k expm1((k^2 -
 * k)/(2 sigma^2))}, and the first fractional series with {@code sum_k C(alpha, k) q^k
 * (1-q)^(alpha-k) = 1} subtracted term by term (it converges for {@code q < 1/2}). {@code log(A)}
 * held as a double would lose {@code A - 1} below about 1e-16 absolute, i.e. 2e-7 relative at
 * {@code q = 1e-3}, {@code sigma = 10}, {@code alpha = 1.1}.
 *
 * <p><b>When the fractional series stops.</b> For {@code k > alpha} the binomial coefficients
 * alternate in sign, and the magnitudes of each series' terms decrease (the log of {@code exp((k^2
 * - k)/(2 sigma^2)) (q/(1-q))^k erfc((k - z0)/(sqrt 2 sigma))} is convex in {@code k} with slope
 * tending to 0 from below, so it decreases everywhere; likewise for the second series). The
 * remainder is then bounded by the next term, hence by the current one: the sum stops as soon as
 * that bound is below {@value #RELATIVE_TOLERANCE} of the sum. The terms decay only like {@code
 * k^-(alpha + 2)}, so near {@code alpha = 1} with large {@code sigma} and {@code q} near 1/2 this
 * can take 10^5 terms or more (a fraction of a second). After {@value #MAX_FRACTIONAL_TERMS} terms
 * the computation settles for the upper end of the bracket the alternating series guarantees, which
 * can only over-state the RDP, and logs a WARN naming the order and the bound's slack. An order is
 * never dropped silently: if its RDP is infinite or NaN the reason is logged at WARN.
 */
final class SampledGaussianRdp {
  private static final Logger LOG = LoggerFactory.getLogger(SampledGaussianRdp.class);

  private SampledGaussianRdp() {}

  /** Relative truncation error at which the fractional-order series stops. */
  static final double RELATIVE_TOLERANCE = 1e-14;

  /**
   * Terms of the fractional-order series after which its rigorous upper bound is used instead (with
   * a WARN); about a second of work.
   */
  static final int MAX_FRACTIONAL_TERMS = 1 << 22;

  private static final double LOG_TOLERANCE = Math.log(RELATIVE_TOLERANCE);
  private static final double LOG_HALF = Math.log(0.5);
  private static final double SQRT_2 = Math.sqrt(2);

  /**
   * RDP at {@code order} of one step.
   *
   * @param q sampling probability in [0, 1]
   * @param sigma noise multiplier (noise standard deviation / L2 sensitivity), finite, >= 0
   * @param order Rényi order, finite, > 1
   */
  static double rdp(double q, double sigma, double order) {
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
            : logAFractional(q, sigma, order, MAX_FRACTIONAL_TERMS);
    double rdp = logA / (order - 1);
    if (!(rdp < Double.POSITIVE_INFINITY)) {
      LOG.warn(
          "RDP at order {} is {} for q={}, sigma={}: this order gives no epsilon bound and is left"
              + " out of the minimum",
          order,
          rdp,
          q,
          sigma);
      return Double.POSITIVE_INFINITY;
    }
    // The divergence is >= 0; rounding can leave -1e-17 or so.
    return Math.max(0, rdp);
  }

  static boolean isInteger(double order) {
    return order == Math.rint(order);
  }

  /** {@code log(A_alpha)} for integer {@code alpha >= 2} and {@code 0 < q < 1}. */
  static double logAInteger(double q, double sigma, long alpha) {
    // A - 1 = sum_{k>=2} C(alpha,k) (1-q)^(alpha-k) q^k expm1((k^2 - k)/(2 sigma^2)): the k-th
    // term of sum_k C(alpha,k) (1-q)^(alpha-k) q^k = 1 taken out of each, all terms positive.
    double logQ = Math.log(q);
    double log1mQ = Math.log1p(-q);
    double twoSigmaSq = 2 * sigma * sigma;
    LogMath.LogSumExp excess = new LogMath.LogSumExp();
    double logBinom = Math.log(alpha); // log C(alpha, 1)
    for (long k = 2; k <= alpha; k++) {
      logBinom += Math.log((double) (alpha - k + 1) / k);
      double kd = k;
      excess.add(
          logBinom
              + kd * logQ
              + (alpha - kd) * log1mQ
              + LogMath.logAbsExpm1((kd * kd - kd) / twoSigmaSq));
    }
    return LogMath.log1pExp(excess.value());
  }

  /**
   * {@code log(A_alpha)} for fractional {@code alpha > 1} and {@code 0 < q < 1}: MTZ 2019 Section
   * 3.3. With {@code z0} as in the class comment and {@code j = alpha - k}, {@code A_alpha = A0 +
   * A1} where
   *
   * <pre>
   * A0 = sum_k C(alpha, k) q^k (1-q)^j exp((k^2 - k) / (2 sigma^2)) erfc((k - z0) / (sqrt(2) sigma)) / 2
   * A1 = sum_k C(alpha, k) q^j (1-q)^k exp((j^2 - j) / (2 sigma^2)) erfc((z0 - j) / (sqrt(2) sigma)) / 2
   * </pre>
   *
   * Past {@code z0}, a term's exponent and erfc are combined analytically: {@code q^k (1-q)^j
   * exp((k^2 - k)/(2 sigma^2)) exp(-u^2) = (1-q)^alpha exp(-z0^2 / (2 sigma^2))} for {@code u = (k
   * - z0)/(sqrt(2) sigma)}, and the same for the second series with {@code u = (z0 - j)/(sqrt(2)
   * sigma)}, so no two large exponents are subtracted; {@code erfc(u) exp(u^2)} is {@link
   * LogMath#logErfcx}.
   *
   * @param maxTerms terms after which the series' upper bound is taken, with a WARN
   */
  static double logAFractional(double q, double sigma, double alpha, int maxTerms) {
    double logQ = Math.log(q);
    double log1mQ = Math.log1p(-q);
    double twoSigmaSq = 2 * sigma * sigma;
    double z0 = sigma * sigma * (log1mQ - logQ) + 0.5;
    double erfcScale = SQRT_2 * sigma;
    double tailBase = alpha * log1mQ - z0 * z0 / twoSigmaSq + LOG_HALF;
    // For q < 1/2, sum A - 1 (see the class comment); otherwise A itself.
    boolean excess = q < 0.5;

    LogMath.SignedLogSum sum = new LogMath.SignedLogSum();
    double logBinom = 0; // log |C(alpha, k)|
    boolean negative = false; // sign of C(alpha, k)
    double bound = Double.POSITIVE_INFINITY; // log of a bound on the remainder, once k > alpha
    int k = 0;
    for (; k < maxTerms; k++) {
      if (k > 0) {
        double factor = (alpha - k + 1) / k; // C(alpha, k) = C(alpha, k-1) (alpha - k + 1) / k
        logBinom += Math.log(Math.abs(factor));
        negative ^= factor < 0;
      }
      double j = alpha - k;
      double logW = k * logQ + j * log1mQ; // log of q^k (1-q)^j
      double u0 = (k - z0) / erfcScale;
      double u1 = (z0 - j) / erfcScale;
      double logS0; // log of the first series' term without its coefficient
      double logS1;
      double logT0; // and of what is added for it, with sign negative ^ negT0
      boolean negT0 = false;
      if (u0 <= 0) {
        double e = ((double) k * k - k) / twoSigmaSq + LogMath.logHalfErfc(u0);
        logS0 = logW + e;
        if (excess) {
          logT0 = logW + LogMath.logAbsExpm1(e); // q^k (1-q)^j (exp(e) - 1)
          negT0 = e < 0;
        } else {
          logT0 = logS0;
        }
      } else {
        logS0 = tailBase + LogMath.logErfcx(u0);
        if (excess) {
          negT0 = logS0 < logW;
          logT0 = negT0 ? LogMath.logSub(logW, logS0) : LogMath.logSub(logS0, logW);
        } else {
          logT0 = logS0;
        }
      }
      if (u1 <= 0) {
        logS1 = j * logQ + k * log1mQ + (j * j - j) / twoSigmaSq + LogMath.logHalfErfc(u1);
      } else {
        logS1 = tailBase + LogMath.logErfcx(u1);
      }
      sum.add(logBinom + logT0, negative ^ negT0);
      sum.add(logBinom + logS1, negative);
      if (k > alpha) {
        // Each of the series sum C_k s0_k, sum C_k s1_k (and sum C_k w_k) alternates from here
        // with decreasing magnitudes: the remainder is at most the next terms, so the current.
        bound = logBinom + LogMath.logAdd(LogMath.logAdd(logS0, logS1), excess ? logW : LOG_ZERO);
        double logAbs = sum.logAbs();
        if (!(bound > logAbs + LOG_TOLERANCE)) { // also when NaN
          if (!sum.isNegative() && logAbs > LOG_ZERO) {
            return excess ? LogMath.log1pExp(logAbs) : logAbs;
          }
          break; // converged to nothing positive: rounding dominates, take the bound below
        }
      }
    }
    // Not converged (or the sum is swamped by rounding): the alternating series bracket the exact
    // value within the bound, so the sum plus the bound (plus rounding) over-states it.
    double rounding = sum.logMagnitudeSum() + Math.log(1e-15 * k);
    double upper =
        LogMath.logAdd(LogMath.logAdd(bound, rounding), sum.isNegative() ? LOG_ZERO : sum.logAbs());
    LOG.warn(
        "RDP series at fractional order {} (q={}, sigma={}) not converged after {} terms: using its"
            + " upper bound, which over-states the RDP by at most {} relative",
        alpha,
        q,
        sigma,
        k,
        Math.exp(LogMath.logAdd(bound, rounding) - upper));
    return excess ? LogMath.log1pExp(upper) : upper;
  }

  private static final double LOG_ZERO = Double.NEGATIVE_INFINITY;
}
