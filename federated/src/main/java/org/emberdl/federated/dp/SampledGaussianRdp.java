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
 * <p><b>Small RDP keeps its digits.</b> Both computations give {@code A_alpha - 1} directly, and
 * {@code log(A)} is {@code log1p} of it: the integer sum as {@code sum_{k>=2} C(alpha,k)
 * (1-q)^(alpha-k) q^k expm1((k^2 - k)/(2 sigma^2))}; the fractional series with the binomial series
 * {@code sum_k C(alpha, k) q^k (1-q)^(alpha-k) = 1} subtracted from the first series term by term
 * for {@code q < 1/2} (where it converges), its mirror image {@code sum_k C(alpha, k) q^(alpha-k)
 * (1-q)^k = 1} from the second for {@code q >= 1/2}. {@code log(A)} held as a double would lose
 * {@code A - 1} below about 1e-16 absolute: 2e-7 relative at {@code q = 1e-3}, {@code sigma = 10},
 * {@code alpha = 1.1}. One loss remains: for {@code q} near 1/2 with {@code sigma} in the
 * thousands, each series is about 1/2 and {@code A - 1} (1e-10 or less) is their small difference,
 * so {@code log(A)} is exact to about 1e-17 absolute there, not relative (2% of an RDP of 1e-13 at
 * {@code q = 1/2}, {@code sigma = 2^20}, order 1.01); the epsilon this feeds is unaffected.
 *
 * <p><b>When the fractional series stops.</b> For {@code k > alpha} the binomial coefficients
 * alternate in sign, and the magnitudes of each series' terms decrease (the log of {@code exp((k^2
 * - k)/(2 sigma^2)) (q/(1-q))^k erfc((k - z0)/(sqrt 2 sigma))} is convex in {@code k} with slope
 * tending to 0 from below, so it decreases everywhere; likewise for the second series). The
 * remainder is then bounded by the next term, hence by the current one. The terms decay only like
 * {@code k^-(alpha + 2)}, so that bound alone would need 10^5 to 10^7 terms near {@code alpha = 1}
 * (Opacus stops at an absolute {@code e^-30} instead; Ember before issue 12 gave up after 1000
 * terms and dropped the order). Further out, past {@code max(alpha, z0, alpha - z0)}, the terms are
 * completely monotone and Euler's transform of the last four ({@link EulerTail}) estimates the
 * remainder with a rigorous error bound about {@code ((alpha + 2)/k)^3 / 16} times smaller: the
 * series stops when either bound is below {@value #RELATIVE_TOLERANCE} of the sum (or below the
 * rounding error of the sum, where that is larger), after tens to a few thousand terms. After
 * {@value #MAX_FRACTIONAL_TERMS} terms (not reached anywhere on the test grids) it settles for the
 * upper end of the bracket the alternating series guarantees, which can only over-state the RDP,
 * and logs a WARN naming the order and the bound's slack. An order is never dropped silently: if
 * its RDP is infinite or NaN the reason is logged at WARN.
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
  private static final double LOG_EPSILON = Math.log(0x1p-53);
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
    // The sum is A - 1: the binomial series sum_k C(alpha, k) q^k (1-q)^j = 1 is taken out of the
    // first series term by term for q < 1/2, where it converges; for q >= 1/2 its mirror image
    // sum_k C(alpha, k) q^j (1-q)^k = 1 is taken out of the second.
    boolean fromFirst = q < 0.5;

    LogMath.SignedLogSum sum = new LogMath.SignedLogSum();
    double logBinom = 0; // log |C(alpha, k)|
    boolean negative = false; // sign of C(alpha, k)
    double bound = Double.POSITIVE_INFINITY; // log of a bound on the remainder, once k > alpha
    // From this k on, each series' term magnitudes are completely monotone in k (see EulerTail).
    double monotoneFrom = Math.floor(Math.max(alpha, Math.max(z0, alpha - z0))) + 1;
    EulerTail tail = new EulerTail();
    Term t0 = new Term();
    Term t1 = new Term();
    int k = 0;
    for (; k < maxTerms; k++) {
      if (k > 0) {
        double factor = (alpha - k + 1) / k; // C(alpha, k) = C(alpha, k-1) (alpha - k + 1) / k
        logBinom += Math.log(Math.abs(factor));
        negative ^= factor < 0;
      }
      double j = alpha - k;
      // First series: base q^k (1-q)^j, exponent (k^2 - k)/(2 sigma^2), erfc at (k - z0)/...
      t0.compute(
          k * logQ + j * log1mQ,
          ((double) k * k - k) / twoSigmaSq,
          (k - z0) / erfcScale,
          tailBase,
          fromFirst);
      // Second series: base q^j (1-q)^k, exponent (j^2 - j)/(2 sigma^2), erfc at (z0 - j)/...
      t1.compute(
          j * logQ + k * log1mQ,
          (j * j - j) / twoSigmaSq,
          (z0 - j) / erfcScale,
          tailBase,
          !fromFirst);
      sum.add(logBinom + t0.logAbs, negative ^ t0.negative);
      sum.add(logBinom + t1.logAbs, negative ^ t1.negative);
      if (Double.isNaN(sum.logMagnitudeSum())) {
        return Double.NaN; // e.g. sigma^2 underflowed; rdp() reports the order
      }
      double logBase = fromFirst ? t0.logBase : t1.logBase;
      tail.push(logBinom + t0.logS, logBinom + t1.logS, logBinom + logBase, negative);
      if (k - (EulerTail.WINDOW - 1) >= monotoneFrom) {
        // The window's terms replaced by Euler's estimate of everything from them on.
        EulerTail.Estimate e = tail.estimate();
        LogMath.Signed total = sum.plus(e.logAbsCorrection(), e.negativeCorrection());
        if (e.logError() <= Math.max(total.logAbs() + LOG_TOLERANCE, roundingFloor(sum))) {
          return logOnePlus(total, sum, q, sigma, alpha);
        }
      }
      if (k > alpha) {
        // Each of the series sum C_k s0_k, sum C_k s1_k and the one taken out alternates from
        // here with decreasing magnitudes: the remainder is at most the next terms, so the current.
        bound = logBinom + LogMath.logAdd(LogMath.logAdd(t0.logS, t1.logS), logBase);
        LogMath.Signed total = sum.plus(LOG_ZERO, false);
        if (bound <= Math.max(total.logAbs() + LOG_TOLERANCE, roundingFloor(sum))) {
          return logOnePlus(total, sum, q, sigma, alpha);
        }
      }
    }
    // Not converged (or the sum is swamped by rounding): the alternating series bracket the exact
    // value within the bound, so the sum plus the bound (plus rounding) over-states it.
    double rounding = sum.logMagnitudeSum() + Math.log(1e-15 * k);
    double slack = LogMath.logAdd(bound, rounding);
    double upper = LogMath.logAdd(slack, sum.isNegative() ? LOG_ZERO : sum.logAbs());
    LOG.warn(
        "RDP series at fractional order {} (q={}, sigma={}) not converged after {} terms: using its"
            + " upper bound, which over-states the RDP by at most {} relative",
        alpha,
        q,
        sigma,
        k,
        Math.exp(slack - upper));
    return LogMath.log1pExp(upper);
  }

  /**
   * Below this (as a log) the series' terms cannot change the sum: the rounding error of a sum of
   * terms this large. Reached before the relative tolerance only where the two series cancel to far
   * below their terms (q near 1/2 with a large sigma, where A - 1 is about 1e-15), so that the
   * relative tolerance is out of reach of double precision; the absolute error of log(A) is then
   * still about 1e-16.
   */
  private static double roundingFloor(LogMath.SignedLogSum sum) {
    return sum.logMagnitudeSum() + LOG_EPSILON;
  }

  /** {@code log(1 + total)}; where rounding left nothing positive, the rounding scale instead. */
  private static double logOnePlus(
      LogMath.Signed total, LogMath.SignedLogSum sum, double q, double sigma, double alpha) {
    if (!total.negative() && total.logAbs() > LOG_ZERO) {
      return LogMath.log1pExp(total.logAbs());
    }
    // A - 1 > 0 lies below the rounding error of the series: over-state it by that much.
    LOG.debug(
        "RDP at order {} (q={}, sigma={}) is below the rounding error of its series; using that",
        alpha,
        q,
        sigma);
    return LogMath.log1pExp(roundingFloor(sum));
  }

  /**
   * One term of either series without its binomial coefficient: {@code s = base exp(e) erfc(u) /
   * 2}, and what is added to the sum for it, {@code s} or {@code s - base}, as a log magnitude and
   * a sign.
   */
  private static final class Term {
    double logBase;
    double logS;
    double logAbs;
    boolean negative;

    /**
     * @param logBase log of {@code q^k (1-q)^j} (first series) or {@code q^j (1-q)^k} (second)
     * @param e the exponent {@code (k^2 - k)/(2 sigma^2)}, or with {@code j} for the second series
     * @param u the erfc argument
     * @param tailBase {@code log((1-q)^alpha exp(-z0^2/(2 sigma^2)) / 2)}, which is {@code logBase
     *     + e - u^2 + log(1/2)} exactly, for {@code u > 0}
     * @param subtractBase whether {@code s - base} is added
     */
    void compute(double logBase, double e, double u, double tailBase, boolean subtractBase) {
      this.logBase = logBase;
      if (u <= 0) {
        double exponent = e + LogMath.logHalfErfc(u); // erfc(u)/2 is in [1/2, 1]: no cancellation
        logS = logBase + exponent;
        if (subtractBase) {
          logAbs = logBase + LogMath.logAbsExpm1(exponent); // base (exp(exponent) - 1)
          negative = exponent < 0;
          return;
        }
      } else {
        logS = tailBase + LogMath.logErfcx(u);
        if (subtractBase) {
          negative = logS < logBase;
          logAbs = negative ? LogMath.logSub(logBase, logS) : LogMath.logSub(logS, logBase);
          return;
        }
      }
      logAbs = logS;
      negative = false;
    }
  }

  private static final double LOG_ZERO = Double.NEGATIVE_INFINITY;

  /**
   * Euler's transform of the tails of the fractional-order series, which decay only like {@code
   * k^-(alpha + 2)} and would otherwise take up to millions of terms. For {@code k > max(alpha, z0,
   * alpha - z0)} the magnitudes of each series' terms are completely monotone in {@code k}: {@code
   * |C(alpha, k)|} is proportional to {@code Gamma(k - alpha) / Gamma(k + 1) = int_0^1 t^(k - alpha
   * - 1) (1 - t)^alpha dt / Gamma(alpha + 1)}, a Laplace transform in {@code k}; past {@code z0}
   * the rest of a term is a constant times {@code erfcx(u)} with {@code u} linear in {@code k}, and
   * {@code erfcx(u) = 2/sqrt(pi) int_0^inf exp(-t^2 - 2ut) dt} is one too; {@code (q/(1-q))^k} is
   * one (and {@code ((1-q)/q)^k} for {@code q >= 1/2}); and products of completely monotone
   * functions are. For an alternating series {@code b_0 - b_1 + b_2 - ...} with completely monotone
   * {@code b}, every forward difference {@code Delta^m b} is non-negative and decreasing, so {@code
   * sum = b_0/2 + Delta b_0/4 + Delta^2 b_0/8 + R} with {@code 0 <= R <= Delta^3 b_0 / 8} (Euler's
   * transform, its remainder being the alternating series of the third differences over 8). Taking
   * {@code R = Delta^3 b_0 / 16} leaves an error of at most {@code Delta^3 b_0 / 16}, about {@code
   * b_0 ((alpha + 2)/k)^3 / 16}: a few hundred terms instead of 10^5 or more.
   */
  private static final class EulerTail {
    static final int WINDOW = 4;

    /** Allowance for rounding in the window's terms and their differences, relative to b_0. */
    private static final double ROUNDING = 1e-13;

    // Log magnitudes (coefficient included) of the last WINDOW terms, oldest first.
    private final double[] s0 = new double[WINDOW];
    private final double[] s1 = new double[WINDOW];
    private final double[] w = new double[WINDOW];
    private final boolean[] negative = new boolean[WINDOW];

    void push(double logS0, double logS1, double logW, boolean negativeCoefficient) {
      System.arraycopy(s0, 1, s0, 0, WINDOW - 1);
      System.arraycopy(s1, 1, s1, 0, WINDOW - 1);
      System.arraycopy(w, 1, w, 0, WINDOW - 1);
      System.arraycopy(negative, 1, negative, 0, WINDOW - 1);
      s0[WINDOW - 1] = logS0;
      s1[WINDOW - 1] = logS1;
      w[WINDOW - 1] = logW;
      negative[WINDOW - 1] = negativeCoefficient;
    }

    /**
     * What to add to the sum through the newest term so that it becomes the sum of the whole
     * series: Euler's estimate of the remainder from the oldest term of the window on, minus the
     * window's terms (already in the sum); with a bound on the error.
     */
    record Estimate(double logAbsCorrection, boolean negativeCorrection, double logError) {}

    Estimate estimate() {
      double ref = Math.max(Math.max(s0[0], s1[0]), w[0]);
      double[] c0 = correction(s0, ref);
      double[] c1 = correction(s1, ref);
      double[] cw = correction(w, ref);
      // The series C_k s0_k and C_k s1_k carry the sign of C_k; the one taken out is subtracted.
      double correction = c0[0] + c1[0] - cw[0];
      double error = c0[1] + c1[1] + cw[1];
      boolean flip = negative[0]; // sign of the oldest term's coefficient
      return new Estimate(
          ref + Math.log(Math.abs(correction)), (correction < 0) != flip, ref + Math.log(error));
    }

    /**
     * {estimate of b_0 - b_1 + ... minus (b_0 - b_1 + b_2 - b_3), its error bound}, b = exp(x -
     * ref).
     */
    private static double[] correction(double[] logB, double ref) {
      double b0 = Math.exp(logB[0] - ref);
      double b1 = Math.exp(logB[1] - ref);
      double b2 = Math.exp(logB[2] - ref);
      double b3 = Math.exp(logB[3] - ref);
      double d1 = b0 - b1;
      double d2 = b0 - 2 * b1 + b2;
      double d3 = b0 - 3 * b1 + 3 * b2 - b3;
      double euler = b0 / 2 + d1 / 4 + d2 / 8 + d3 / 16;
      double window = (b0 - b1) + (b2 - b3);
      return new double[] {euler - window, Math.abs(d3) / 16 + ROUNDING * b0};
    }
  }
}
