package org.emberdl.federated.dp;

import java.io.IOException;
import java.io.InvalidObjectException;
import java.io.ObjectInputStream;
import java.io.Serializable;
import java.util.Arrays;

/**
 * Privacy accountant for DP-SGD: the (epsilon, delta) differential-privacy guarantee of a training
 * run, tracked through Rényi differential privacy (RDP).
 *
 * <h2>The mechanism accounted for</h2>
 *
 * Each step of training must be the <em>Poisson-sampled Gaussian mechanism</em>, exactly:
 *
 * <ol>
 *   <li><b>Poisson sampling.</b> Every example of the dataset is included in the step's batch
 *       independently, with probability {@code q} (the {@code samplingRate}); the batch size is
 *       therefore random. Shuffling and cutting fixed-size batches is a different mechanism: the
 *       numbers computed here are then only the usual heuristic, not a proven guarantee.
 *   <li><b>Per-example clipping.</b> Each example's whole gradient (all parameters together) is
 *       scaled down to L2 norm at most {@code C}.
 *   <li><b>Gaussian noise, once, on the sum.</b> {@code N(0, sigma^2 C^2 I)} is added to the
 *       <em>sum</em> of the clipped gradients of the batch; {@code sigma} is the {@code
 *       noiseMultiplier} (noise standard deviation divided by the L2 sensitivity {@code C}).
 *       Anything computed from the noisy sum afterwards (dividing by the expected batch size {@code
 *       qN}, the optimizer update) is post-processing and costs nothing.
 * </ol>
 *
 * Neighbouring datasets differ by <b>adding or removing one example</b> (the add-or-remove-one
 * adjacency of {@code dp_accounting}, TF Privacy and Opacus). The guarantee covers the release of
 * every step's noisy gradient, hence every intermediate model. One example per privacy unit is
 * assumed: user-level privacy needs user-level sampling and clipping. For federated training with
 * user-level privacy (DP-FedAvg, McMahan et al., "Learning Differentially Private Recurrent
 * Language Models", ICLR 2018), read "example" as "client": each client takes part in a round
 * independently with probability {@code q}, its whole update is clipped to {@code C}, and the noise
 * goes once on the sum of the clipped updates.
 *
 * <h2>What is computed</h2>
 *
 * For each order {@code alpha} of a fixed list, the RDP of one step is computed by the method of
 * Mironov, Talwar and Zhang, "Rényi Differential Privacy of the Sampled Gaussian Mechanism"
 * (arXiv:1908.10530, 2019), in log space and exactly up to rounding: for integer orders by a
 * binomial expansion, for fractional orders by the two series of their Section 3.3 summed with
 * their signs until the alternating-series bound says the rest is below 1e-14 of the sum (details
 * in {@code SampledGaussianRdp}). This is what Opacus computes; on a grid of (q, sigma, steps,
 * delta) Ember agrees with 50-digit reference values to about 1e-11 relative (see {@code
 * RdpAccountantReferenceTest}). Summing the terms' magnitudes instead, as Ember did before and
 * {@code dp_accounting} does, can over-state epsilon several-fold for small {@code sigma} (2231
 * instead of 807 at q = 0.1, sigma = 0.5, 10^4 steps, delta = 1e-5). No order is ever left out
 * silently: an order whose RDP is infinite is reported at WARN. Special cases: {@code q = 0} costs
 * nothing; {@code q = 1} is the plain Gaussian mechanism, {@code alpha / (2 sigma^2)} (Mironov,
 * "Rényi Differential Privacy", CSF 2017, Corollary 3); {@code sigma = 0} (with {@code q > 0}) is
 * infinite. RDP adds up over steps (Mironov 2017, Proposition 1), also across steps with different
 * {@code q} and {@code sigma}. The (epsilon, delta) guarantee is the conversion of Balle, Barthe,
 * Gaboardi, Hsu and Sato, "Hypothesis Testing Interpretations and Rényi Differential Privacy"
 * (AISTATS 2020, Theorem 21; also Canonne, Kamath and Steinke 2020, Proposition 12), minimised over
 * the orders:
 *
 * <pre>
 *   epsilon = min over alpha of  rdp(alpha) + log((alpha - 1) / alpha) - (log(delta) + log(alpha)) / (alpha - 1)
 * </pre>
 *
 * clamped at 0, as Google's {@code dp_accounting} {@code RdpAccountant} computes it (orders at or
 * below 1.01 are skipped as numerically unstable, and an order whose RDP is so small that {@code
 * sqrt(1 - exp(-rdp)) <= delta} gives epsilon 0 by the KL-divergence bound). It is the formula of
 * Opacus' current {@code get_privacy_spent} too, which only lacks those guards (they never apply at
 * Opacus' orders unless the RDP is below about {@code delta^2}). This is tighter than the
 * conversion of Mironov 2017 (Proposition 3), {@code rdp(alpha) + log(1/delta) / (alpha - 1)}, used
 * by TF Privacy's original {@code rdp_accountant} and, in the language of log moments, by the
 * moments accountant of Abadi et al., "Deep Learning with Differential Privacy" (CCS 2016).
 *
 * <p>The result is an upper bound: the true epsilon of the mechanism can be smaller (a privacy loss
 * distribution accountant is tighter still), and a coarse list of orders only makes it larger. The
 * default orders are those of {@code dp_accounting}, see {@link #defaultOrders()}.
 *
 * <h2>Use</h2>
 *
 * Instances are immutable and thread-safe; {@link #withSteps} returns a new accountant with more
 * steps composed in and leaves this one unchanged:
 *
 * <pre>{@code
 * double q = 256.0 / 60000;
 * RdpAccountant accountant = new RdpAccountant();
 * for (int epoch = 0; epoch < epochs; epoch++) {
 *   if (accountant.epsilonAfter(q, sigma, stepsPerEpoch, 1e-5) > budget) break;
 *   ... train one epoch ...
 *   accountant = accountant.withSteps(q, sigma, stepsPerEpoch);
 * }
 * double sigmaNeeded = RdpAccountant.noiseMultiplierFor(3.0, 1e-5, q, totalSteps);
 * }</pre>
 */
public final class RdpAccountant implements Serializable {
  private static final long serialVersionUID = 1L;

  /**
   * Largest order accepted: the integer-order sum has {@code alpha + 1} terms, and orders this
   * large only matter for epsilons far below 0.01.
   */
  public static final double MAX_ORDER = 100_000;

  /** Orders at or below this give no (epsilon, delta) bound: the conversion is unstable there. */
  private static final double MIN_CONVERTIBLE_ORDER = 1.01;

  /** Noise multipliers tried by {@link #noiseMultiplierFor} go up to this before giving up. */
  private static final double MAX_NOISE_MULTIPLIER = 1 << 20;

  private static final double[] DEFAULT_ORDERS = buildDefaultOrders();

  private final double[] orders;
  private final double[] rdp;
  private final long steps;

  /** Per-step RDP of the last (q, sigma) composed in; shared by the accountants derived from it. */
  private final transient PerStep last;

  /** The RDP of one step at each order for one (q, sigma); its array is never modified. */
  private record PerStep(double samplingRate, double noiseMultiplier, double[] rdp) {}

  /**
   * An accountant with nothing composed yet, over the {@linkplain #defaultOrders default orders}.
   */
  public RdpAccountant() {
    this(DEFAULT_ORDERS, new double[DEFAULT_ORDERS.length], 0, null);
  }

  /**
   * An accountant with nothing composed yet, over the given Rényi orders.
   *
   * @param orders the orders at which RDP is tracked (copied); each finite, {@code > 1} and {@code
   *     <=} {@link #MAX_ORDER}; at least one above 1.01 for the (epsilon, delta) conversion to have
   *     something to work with. More orders cost proportionally more per distinct (q, sigma).
   * @throws IllegalArgumentException if the list is empty or an order is out of range
   */
  public RdpAccountant(double... orders) {
    this(checkOrders(orders), new double[orders.length], 0, null);
  }

  private RdpAccountant(double[] orders, double[] rdp, long steps, PerStep last) {
    this.orders = orders;
    this.rdp = rdp;
    this.steps = steps;
    this.last = last;
  }

  /**
   * The default orders, as in Google's {@code dp_accounting} ({@code
   * rdp_privacy_accountant.DEFAULT_RDP_ORDERS}): {@code 1.1, 1.2, ..., 10.9} (that is {@code 1 +
   * x/10} for {@code x = 1..99}), then the integers {@code 11..63}, then {@code 128, 256, 512,
   * 1024}; 156 orders. The orders above 63 only come into play for small epsilons (below about 0.15
   * to 0.2 at delta 1e-5). Opacus ({@code RDPAccountant.DEFAULT_ALPHAS}) and the TF Privacy MNIST
   * tutorial use the same list without 11 and without the orders above 63; pass that list to the
   * constructor to reproduce their numbers exactly.
   *
   * @return a fresh copy
   */
  public static double[] defaultOrders() {
    return DEFAULT_ORDERS.clone();
  }

  private static double[] buildDefaultOrders() {
    double[] o = new double[99 + 53 + 4];
    int n = 0;
    for (int x = 1; x <= 99; x++) {
      o[n++] = 1 + x / 10.0;
    }
    for (int a = 11; a <= 63; a++) {
      o[n++] = a;
    }
    for (int a = 128; a <= 1024; a *= 2) {
      o[n++] = a;
    }
    return o;
  }

  private static double[] checkOrders(double[] orders) {
    if (orders == null || orders.length == 0) {
      throw new IllegalArgumentException("at least one Renyi order is needed");
    }
    double[] copy = orders.clone();
    for (double a : copy) {
      if (!(a > 1 && a <= MAX_ORDER)) {
        throw new IllegalArgumentException(
            "Renyi orders must be finite, > 1 and <= " + MAX_ORDER + ", got " + a);
      }
    }
    return copy;
  }

  /**
   * This accountant with {@code steps} more steps of the sampled Gaussian mechanism composed in.
   * This accountant is unchanged.
   *
   * @param samplingRate the probability {@code q} in [0, 1] with which each example is in a step's
   *     batch (the expected batch size divided by the dataset size)
   * @param noiseMultiplier the noise standard deviation divided by the clipping norm ({@code
   *     sigma}), finite and {@code >= 0}; 0 means no privacy at all when {@code q > 0}
   * @param steps how many such steps, {@code >= 0}
   * @return the accountant with the steps added ({@code this} when {@code steps == 0})
   * @throws IllegalArgumentException if an argument is out of range
   */
  public RdpAccountant withSteps(double samplingRate, double noiseMultiplier, long steps) {
    checkSamplingRate(samplingRate);
    checkNoiseMultiplier(noiseMultiplier);
    checkSteps(steps);
    if (steps == 0) {
      return this;
    }
    PerStep perStep = last;
    if (perStep == null
        || perStep.samplingRate() != samplingRate
        || perStep.noiseMultiplier() != noiseMultiplier) {
      double[] one = new double[orders.length];
      for (int i = 0; i < orders.length; i++) {
        one[i] = SampledGaussianRdp.rdp(samplingRate, noiseMultiplier, orders[i]);
      }
      perStep = new PerStep(samplingRate, noiseMultiplier, one);
    }
    double[] total = new double[orders.length];
    for (int i = 0; i < orders.length; i++) {
      double add = perStep.rdp()[i];
      total[i] = add == 0 ? rdp[i] : rdp[i] + steps * add;
    }
    return new RdpAccountant(orders, total, Math.addExact(this.steps, steps), perStep);
  }

  /**
   * The epsilon of the (epsilon, delta)-DP guarantee for everything composed so far: the conversion
   * of Balle et al. 2020 (Theorem 21), minimised over the orders and clamped at 0. {@code +inf}
   * when no order gives a finite bound (e.g. after a step with {@code sigma = 0}).
   *
   * @param delta in (0, 1)
   * @throws IllegalArgumentException if {@code delta} is out of range
   */
  public double epsilon(double delta) {
    checkDelta(delta);
    return convert(orders, rdp, delta, Conversion.BALLE_2020).epsilon();
  }

  /**
   * The order at which {@link #epsilon(double)} is attained (the first such order in the list).
   * When it is the smallest or largest order of the list, a wider list might give a smaller
   * epsilon. NaN when epsilon is {@code +inf}.
   *
   * @param delta in (0, 1)
   * @throws IllegalArgumentException if {@code delta} is out of range
   */
  public double optimalOrder(double delta) {
    checkDelta(delta);
    return convert(orders, rdp, delta, Conversion.BALLE_2020).order();
  }

  /**
   * The epsilon after {@code extraSteps} more steps at {@code (samplingRate, noiseMultiplier)},
   * without changing this accountant: for "would one more epoch exceed the budget?".
   *
   * @throws IllegalArgumentException if an argument is out of range
   * @see #withSteps
   */
  public double epsilonAfter(
      double samplingRate, double noiseMultiplier, long extraSteps, double delta) {
    checkDelta(delta);
    return withSteps(samplingRate, noiseMultiplier, extraSteps).epsilon(delta);
  }

  /**
   * The smallest noise multiplier {@code sigma} for which {@code steps} steps at sampling rate
   * {@code q} stay within (targetEpsilon, delta), over the {@linkplain #defaultOrders default
   * orders}: found by bisection (epsilon decreases as sigma grows) to a relative precision of about
   * 1e-9, rounded up, so that the returned sigma always meets the target.
   *
   * @param targetEpsilon the budget, finite and {@code > 0}
   * @param delta in (0, 1)
   * @param samplingRate in [0, 1]
   * @param steps {@code >= 0}
   * @return the noise multiplier; 0 when no noise is needed ({@code q == 0} or {@code steps == 0})
   * @throws IllegalArgumentException if an argument is out of range, or if no noise multiplier up
   *     to 2^20 reaches the target. The conversion costs about {@code log(1/delta) / (alpha - 1)}
   *     at the largest order {@code alpha} however small the RDP (about 0.1 for orders up to 63 at
   *     delta 1e-5, 0.0035 for the default orders), until the RDP is so small (about {@code
   *     delta^2}) that the KL-divergence bound gives epsilon 0; a target below that cost may need
   *     more noise than that.
   */
  public static double noiseMultiplierFor(
      double targetEpsilon, double delta, double samplingRate, long steps) {
    return noiseMultiplierFor(targetEpsilon, delta, samplingRate, steps, DEFAULT_ORDERS);
  }

  /**
   * {@link #noiseMultiplierFor(double, double, double, long)} over the given orders.
   *
   * @throws IllegalArgumentException as there, or if the orders are invalid (see {@link
   *     #RdpAccountant(double...)})
   */
  public static double noiseMultiplierFor(
      double targetEpsilon, double delta, double samplingRate, long steps, double[] orders) {
    if (!(targetEpsilon > 0 && targetEpsilon < Double.POSITIVE_INFINITY)) {
      throw new IllegalArgumentException(
          "targetEpsilon must be finite and > 0, got " + targetEpsilon);
    }
    checkDelta(delta);
    checkSamplingRate(samplingRate);
    checkSteps(steps);
    RdpAccountant empty = new RdpAccountant(orders);
    if (samplingRate == 0 || steps == 0) {
      return 0;
    }
    double hi = 1;
    double epsHi = empty.epsilonAfter(samplingRate, hi, steps, delta);
    while (epsHi > targetEpsilon) {
      if (hi >= MAX_NOISE_MULTIPLIER) {
        throw new IllegalArgumentException(
            "epsilon "
                + targetEpsilon
                + " at delta "
                + delta
                + " cannot be reached for "
                + steps
                + " steps at sampling rate "
                + samplingRate
                + ": even noise multiplier "
                + hi
                + " gives epsilon "
                + epsHi
                + " (the RDP-to-DP conversion over these orders, the largest "
                + max(empty.orders)
                + ", costs about that much on its own; raise the target or delta, or add larger"
                + " orders)");
      }
      hi *= 2;
      epsHi = empty.epsilonAfter(samplingRate, hi, steps, delta);
    }
    double lo = hi == 1 ? 0 : hi / 2; // epsilon(lo) > target; sigma 0 gives +inf
    for (int i = 0; i < 200 && hi - lo > 1e-9 * hi; i++) {
      double mid = 0.5 * (lo + hi);
      if (empty.epsilonAfter(samplingRate, mid, steps, delta) <= targetEpsilon) {
        hi = mid;
      } else {
        lo = mid;
      }
    }
    return hi;
  }

  /** The Rényi orders tracked (a copy). */
  public double[] orders() {
    return orders.clone();
  }

  /** The RDP of everything composed so far at each of {@link #orders()} (a copy). */
  public double[] rdp() {
    return rdp.clone();
  }

  /** How many steps have been composed in, over all sampling rates and noise multipliers. */
  public long steps() {
    return steps;
  }

  /** The two RDP-to-(epsilon, delta) conversions; the older one only to compare with papers. */
  enum Conversion {
    /** Balle et al. 2020, Theorem 21, with dp_accounting's guards; what {@link #epsilon} uses. */
    BALLE_2020,
    /** Mironov 2017, Proposition 3: {@code rdp + log(1/delta) / (alpha - 1)}. */
    MIRONOV_2017
  }

  /** An epsilon and the order that attains it (NaN when epsilon is infinite). */
  record Spent(double epsilon, double order) {}

  /** The epsilon of this accountant under the given conversion, and its order. */
  Spent spent(double delta, Conversion conversion) {
    checkDelta(delta);
    return convert(orders, rdp, delta, conversion);
  }

  /** Converts RDP values at the orders to the best epsilon at {@code delta}. */
  static Spent convert(double[] orders, double[] rdp, double delta, Conversion conversion) {
    double best = Double.POSITIVE_INFINITY;
    double bestOrder = Double.NaN;
    double logDelta = Math.log(delta);
    for (int i = 0; i < orders.length; i++) {
      double a = orders[i];
      double r = rdp[i];
      double eps;
      if (Double.isNaN(r)) {
        eps = Double.POSITIVE_INFINITY;
      } else if (conversion == Conversion.MIRONOV_2017) {
        eps = r - logDelta / (a - 1);
      } else if (r <= 0 || delta * delta + Math.expm1(-r) > 0) {
        // delta >= sqrt(1 - exp(-KL)) >= total variation distance, with KL <= rdp(alpha).
        eps = 0;
      } else if (a > MIN_CONVERTIBLE_ORDER) {
        eps = r + Math.log1p(-1 / a) - (logDelta + Math.log(a)) / (a - 1);
      } else {
        eps = Double.POSITIVE_INFINITY;
      }
      if (eps < best) {
        best = eps;
        bestOrder = a;
      }
    }
    return new Spent(Math.max(0, best), bestOrder);
  }

  private static double max(double[] values) {
    double m = Double.NEGATIVE_INFINITY;
    for (double v : values) {
      m = Math.max(m, v);
    }
    return m;
  }

  private static void checkSamplingRate(double q) {
    if (!(q >= 0 && q <= 1)) {
      throw new IllegalArgumentException("samplingRate must be in [0, 1], got " + q);
    }
  }

  private static void checkNoiseMultiplier(double sigma) {
    if (!(sigma >= 0 && sigma < Double.POSITIVE_INFINITY)) {
      throw new IllegalArgumentException("noiseMultiplier must be finite and >= 0, got " + sigma);
    }
  }

  private static void checkSteps(long steps) {
    if (steps < 0) {
      throw new IllegalArgumentException("steps must be >= 0, got " + steps);
    }
  }

  private static void checkDelta(double delta) {
    if (!(delta > 0 && delta < 1)) {
      throw new IllegalArgumentException("delta must be in (0, 1), got " + delta);
    }
  }

  /** Equal when the orders, the RDP at each order and the step count are equal. */
  @Override
  public boolean equals(Object o) {
    return o instanceof RdpAccountant other
        && steps == other.steps
        && Arrays.equals(orders, other.orders)
        && Arrays.equals(rdp, other.rdp);
  }

  @Override
  public int hashCode() {
    return 31 * (31 * Long.hashCode(steps) + Arrays.hashCode(orders)) + Arrays.hashCode(rdp);
  }

  @Override
  public String toString() {
    return "RdpAccountant[steps=" + steps + ", orders=" + orders.length + "]";
  }

  private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
    in.defaultReadObject();
    try {
      checkOrders(orders);
    } catch (IllegalArgumentException e) {
      throw new InvalidObjectException(e.getMessage());
    }
    if (rdp == null || rdp.length != orders.length || steps < 0) {
      throw new InvalidObjectException("inconsistent RdpAccountant state");
    }
    for (double r : rdp) {
      if (!(r >= 0)) {
        throw new InvalidObjectException("negative or NaN RDP value " + r);
      }
    }
  }
}
