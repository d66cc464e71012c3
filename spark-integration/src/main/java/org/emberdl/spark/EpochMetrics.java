package org.emberdl.spark;

import java.io.Serializable;
import java.util.Locale;

/**
 * One epoch of training as the coordinator saw it.
 *
 * @param epoch 1-based
 * @param loss mean training loss over the epoch's examples (as computed during the epoch's steps)
 * @param accuracy training accuracy over the epoch's steps (NaN for regression)
 * @param samplesPerSecond training examples per second of wall time, coordination included
 * @param validationLoss mean loss on the held-out rows after the epoch (NaN without validation)
 * @param validationAccuracy accuracy on the held-out rows (NaN without validation or for
 *     regression)
 * @param seconds wall time of the epoch
 * @param epsilon the privacy budget spent so far (at the stage's {@code delta}) under DP training,
 *     NaN otherwise
 */
public record EpochMetrics(
    int epoch,
    double loss,
    double accuracy,
    double samplesPerSecond,
    double validationLoss,
    double validationAccuracy,
    double seconds,
    double epsilon)
    implements Serializable {

  /**
   * The metrics as one line for logs and UIs, leaving out what the fit did not measure: {@code
   * "loss 0.3478, accuracy 87.32%, validation loss 0.3611, validation accuracy 86.90%, epsilon
   * 1.23"}.
   */
  public String describe() {
    StringBuilder s = new StringBuilder(String.format(Locale.ROOT, "loss %.4f", loss));
    if (!Double.isNaN(accuracy)) {
      s.append(String.format(Locale.ROOT, ", accuracy %.2f%%", 100 * accuracy));
    }
    if (!Double.isNaN(validationLoss)) {
      s.append(String.format(Locale.ROOT, ", validation loss %.4f", validationLoss));
    }
    if (!Double.isNaN(validationAccuracy)) {
      s.append(
          String.format(Locale.ROOT, ", validation accuracy %.2f%%", 100 * validationAccuracy));
    }
    if (!Double.isNaN(epsilon)) {
      s.append(String.format(Locale.ROOT, ", epsilon %.4g", epsilon));
    }
    return s.toString();
  }
}
