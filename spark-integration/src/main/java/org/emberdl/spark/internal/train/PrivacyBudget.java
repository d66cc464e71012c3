package org.emberdl.spark.internal.train;

import java.util.List;
import org.emberdl.federated.dp.RdpAccountant;
import org.emberdl.spark.internal.io.Checkpoints;
import org.emberdl.spark.internal.plan.DpPlan;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The privacy spent by a differentially private fit, and whether the next epoch is affordable: a
 * ledger of the steps taken (which checkpoints record) and the accountant rebuilt from it. A fit
 * without a {@link DpPlan} has an unlimited budget and no epsilon.
 */
final class PrivacyBudget {
  private static final Logger LOG = LoggerFactory.getLogger(PrivacyBudget.class);

  private final DpPlan dp;
  private final int stepsPerEpoch;
  private List<Checkpoints.PrivacySteps> ledger = List.of();
  private RdpAccountant accountant;

  /**
   * @param dp the fit's privacy plan, or null when it is not private
   * @param stepsPerEpoch the accountant's steps (rounds) per epoch
   */
  PrivacyBudget(DpPlan dp, int stepsPerEpoch) {
    this.dp = dp;
    this.stepsPerEpoch = stepsPerEpoch;
    this.accountant = dp == null ? null : new RdpAccountant();
  }

  /**
   * Continues from a checkpoint's ledger, after {@code epochsDone} epochs.
   *
   * @param checkpoint the checkpoint's name, for the error
   * @throws IllegalStateException when the ledger does not hold exactly the steps of {@code
   *     epochsDone} epochs of this plan (an honest account cannot be resumed from it)
   */
  void restore(List<Checkpoints.PrivacySteps> steps, int epochsDone, Object checkpoint) {
    long expected = dp == null ? 0 : (long) epochsDone * stepsPerEpoch;
    long recorded = Checkpoints.PrivacySteps.totalSteps(steps);
    if (recorded != expected) {
      throw new IllegalStateException(
          "the checkpoint "
              + checkpoint
              + " records "
              + recorded
              + " private steps for "
              + epochsDone
              + " epochs of "
              + (dp == null ? "non-private training" : stepsPerEpoch + " steps")
              + ", not "
              + expected
              + "; it cannot be resumed with an honest privacy account");
    }
    ledger = steps;
    // Rebuilt from the steps actually taken, as the checkpoint recorded them.
    accountant = dp == null ? null : Checkpoints.PrivacySteps.accountant(steps);
  }

  /**
   * Whether one more epoch keeps epsilon within targetEpsilon (always, without a target). Before
   * the first epoch an unaffordable plan is an error (training refuses to start); later it ends
   * training.
   *
   * @param first whether no epoch has been trained yet
   * @throws IllegalArgumentException when not even the first epoch fits, naming the Params to
   *     change
   */
  boolean affordable(boolean first) {
    if (dp == null || dp.targetEpsilon() <= 0) {
      return true;
    }
    double next = accountant.epsilonAfter(dp.samplingRate(), dp.sigma(), stepsPerEpoch, dp.delta());
    // A relative tolerance: a noise multiplier calibrated for exactly targetEpsilon over maxEpochs
    // must not lose its last epoch to rounding.
    if (next <= dp.targetEpsilon() * (1 + 1e-9)) {
      return true;
    }
    if (first) {
      throw new IllegalArgumentException(
          String.format(
              "%s refuses to start: one epoch (%d steps at q=%.5g, noise multiplier %.4g)"
                  + " spends epsilon %.4g at delta %.3g, over targetEpsilon %.4g; raise"
                  + " noiseMultiplier or lower %s",
              dp.clientLevel() ? "DP-FedAvg" : "DP-SGD",
              stepsPerEpoch,
              dp.samplingRate(),
              dp.sigma(),
              next,
              dp.delta(),
              dp.targetEpsilon(),
              dp.clientLevel() ? "clientFraction" : "samplingRate"));
    }
    LOG.info(
        "DP: stopping, the next epoch would spend epsilon {} > targetEpsilon {}",
        next,
        dp.targetEpsilon());
    return false;
  }

  /**
   * Charges one epoch's steps.
   *
   * @return epsilon after them, NaN when not private
   */
  double spendEpoch() {
    if (dp == null) {
      return Double.NaN;
    }
    accountant = accountant.withSteps(dp.samplingRate(), dp.sigma(), stepsPerEpoch);
    ledger = Checkpoints.PrivacySteps.append(ledger, dp.samplingRate(), dp.sigma(), stepsPerEpoch);
    return accountant.epsilon(dp.delta());
  }

  /** The steps taken so far, as a checkpoint records them (empty when not private). */
  List<Checkpoints.PrivacySteps> ledger() {
    return ledger;
  }
}
