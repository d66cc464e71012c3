package org.emberdl.spark;

import org.emberdl.federated.dp.DpSgd;
import org.emberdl.federated.dp.DpSgdAggregator;
import org.emberdl.federated.dp.RdpAccountant;
import org.emberdl.nn.Module;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The differential-privacy settings of one DP-SGD fit, resolved from the stage's Params: sampling
 * rate q (each step samples every training row independently with probability q), steps per epoch
 * (1/q, rounded up), clip norm C, noise multiplier sigma (given, or calibrated so that {@code
 * maxEpochs} epochs spend {@code targetEpsilon}), delta and the budget.
 */
record DpPlan(
    double samplingRate,
    int roundsPerEpoch,
    double clipNorm,
    double sigma,
    double delta,
    double targetEpsilon,
    double expectedBatchSize) {
  private static final Logger LOG = LoggerFactory.getLogger(DpPlan.class);

  /** The plan for {@code p}, or null when it does not train with DP-SGD. */
  static DpPlan of(EmberParams<?> p, Module model, long trainRows) {
    if (!p.getAggregation().equals("dp-sgd")) {
      return null;
    }
    if (p.getLocalSteps() != 1) {
      throw new IllegalArgumentException("dp-sgd takes one step per round: set localSteps to 1");
    }
    DpSgd.refuseBatchNorm(model);
    double q =
        p.getSamplingRate() > 0
            ? p.getSamplingRate()
            : Math.min(1.0, (double) p.getBatchSize() / trainRows);
    int rounds = (int) Math.ceil(1.0 / q - 1e-9);
    double target = p.getTargetEpsilon();
    double sigma = p.getNoiseMultiplier();
    long plannedSteps = (long) rounds * p.getMaxEpochs();
    if (target > 0 && !p.isSet(p.noiseMultiplier())) {
      sigma = RdpAccountant.noiseMultiplierFor(target, p.getDelta(), q, plannedSteps);
      LOG.info(
          "DP-SGD: noise multiplier {} calibrated for epsilon {} at delta {} over {} steps at q {}",
          sigma,
          target,
          p.getDelta(),
          plannedSteps,
          q);
    }
    return new DpPlan(q, rounds, p.getL2NormClip(), sigma, p.getDelta(), target, q * trainRows);
  }

  DpSgdAggregator aggregator(long seed, long firstRound) {
    return new DpSgdAggregator(clipNorm, sigma, expectedBatchSize, seed, firstRound);
  }

  /**
   * Whether one more epoch fits the budget. Before the first epoch an unaffordable plan is an error
   * (training refuses to start); later it ends training.
   *
   * @throws IllegalArgumentException when not even the first epoch fits
   */
  boolean affordable(RdpAccountant spent, int rounds, boolean first) {
    if (targetEpsilon <= 0) {
      return true;
    }
    double next = spent.epsilonAfter(samplingRate, sigma, rounds, delta);
    if (next <= targetEpsilon * (1 + 1e-9)) {
      return true;
    }
    if (first) {
      throw new IllegalArgumentException(
          String.format(
              "DP-SGD refuses to start: one epoch (%d steps at q=%.5g, noise multiplier %.4g)"
                  + " spends epsilon %.4g at delta %.3g, over targetEpsilon %.4g; raise"
                  + " noiseMultiplier or lower samplingRate",
              rounds, samplingRate, sigma, next, delta, targetEpsilon));
    }
    LOG.info(
        "DP-SGD: stopping, the next epoch would spend epsilon {} > targetEpsilon {}",
        next,
        targetEpsilon);
    return false;
  }
}
