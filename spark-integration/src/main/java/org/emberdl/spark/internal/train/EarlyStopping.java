package org.emberdl.spark.internal.train;

import java.util.function.Supplier;
import org.emberdl.spark.internal.io.Checkpoints;
import org.emberdl.spark.internal.local.RoundWeights;

/**
 * Early stopping on the validation loss: the best loss and epoch so far, the epochs since, and
 * (with a patience) the best epoch's weights, which a fit that stops early returns.
 *
 * <p>An epoch improves when its validation loss is strictly below the best so far (a NaN loss never
 * does). A patience of 0 tracks the best epoch for the summary and checkpoints but never stops.
 */
final class EarlyStopping {
  private final int patience;
  private double bestLoss = Double.POSITIVE_INFINITY;
  private int bestEpoch;
  private int sinceBest;
  private RoundWeights best;

  /**
   * @param patience epochs without improvement after which training stops; 0 = never
   */
  EarlyStopping(int patience) {
    this.patience = patience;
  }

  /** Continues from a checkpoint's progress and the best weights it kept (null when none). */
  void restore(Checkpoints.Progress progress, RoundWeights bestWeights) {
    bestLoss = progress.bestValidationLoss();
    bestEpoch = progress.bestEpoch();
    sinceBest = progress.epochsWithoutImprovement();
    best = bestWeights;
  }

  /**
   * Records the validation loss of {@code epoch} (1-based).
   *
   * @param weights the weights after that epoch, copied only when they are the best and kept
   * @return whether training should stop now
   */
  boolean record(int epoch, double validationLoss, Supplier<RoundWeights> weights) {
    if (validationLoss < bestLoss) {
      bestLoss = validationLoss;
      bestEpoch = epoch;
      sinceBest = 0;
      best = patience > 0 ? weights.get() : null;
    } else {
      sinceBest++;
    }
    return stopped();
  }

  /** Whether the patience has run out (also right after a restore of a fit that had stopped). */
  boolean stopped() {
    return patience > 0 && sinceBest >= patience;
  }

  double bestLoss() {
    return bestLoss;
  }

  /** The best epoch (1-based), 0 before any validation. */
  int bestEpoch() {
    return bestEpoch;
  }

  int epochsWithoutImprovement() {
    return sinceBest;
  }

  /** The best epoch's weights, or null (no patience, or nothing validated yet). */
  RoundWeights bestWeights() {
    return best;
  }
}
