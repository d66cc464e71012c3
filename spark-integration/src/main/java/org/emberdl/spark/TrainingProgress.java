package org.emberdl.spark;

/**
 * Where a running fit is, as the driver's coordinator sees it after one step (one round of updates
 * applied). Delivered to a {@link ProgressListener}.
 *
 * @param epoch the current epoch, 1-based
 * @param maxEpochs the epochs the fit runs at most (early stopping or a privacy budget may end it
 *     sooner)
 * @param step the step just taken within the epoch, 1-based
 * @param stepsPerEpoch steps in an epoch (coordinator rounds: one optimizer step of the global
 *     model each)
 * @param examples training examples the epoch's steps so far have used
 * @param loss mean training loss over those examples (NaN before any)
 * @param seconds wall time since the epoch began
 */
public record TrainingProgress(
    int epoch,
    int maxEpochs,
    int step,
    int stepsPerEpoch,
    long examples,
    double loss,
    double seconds) {

  /** Training examples per second of wall time in this epoch so far (0 before any time). */
  public double samplesPerSecond() {
    return seconds > 0 ? examples / seconds : 0;
  }

  /**
   * Seconds left until {@code maxEpochs} are done, estimated from this epoch's pace (validation
   * passes not included); NaN before the first step.
   */
  public double etaSeconds() {
    if (step <= 0 || seconds <= 0) {
      return Double.NaN;
    }
    double perStep = seconds / step;
    long stepsLeft = (stepsPerEpoch - step) + (long) (maxEpochs - epoch) * stepsPerEpoch;
    return perStep * stepsLeft;
  }
}
