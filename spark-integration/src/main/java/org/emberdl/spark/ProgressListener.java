package org.emberdl.spark;

/**
 * Receives a fit's progress on the driver, on the thread that called {@code fit}, in order: {@link
 * #onStep} after every step of every epoch, then {@link #onEpoch} once the epoch's metrics
 * (validation included) are known.
 *
 * <p>Register one with {@code EmberClassifier.setProgressListener} or {@code
 * EmberRegressor.setProgressListener}. It is not a Spark {@code Param}: a listener is code, which
 * can be neither serialized with the stage nor saved with it. It is kept by {@code copy} (so {@code
 * Pipeline}, {@code CrossValidator} and {@code TrainValidationSplit} fits report too; with their
 * {@code parallelism} above 1 it is called from several threads at once) and is absent from a saved
 * and reloaded estimator.
 *
 * <p>Calls must be quick: the next step waits for them. An exception thrown by a listener is logged
 * (once per fit) and does not stop training.
 */
@FunctionalInterface
public interface ProgressListener {
  /** After each step: the epoch's counts so far. */
  void onStep(TrainingProgress progress);

  /** After each epoch, with the metrics that also go into the {@link TrainingSummary}. */
  default void onEpoch(EpochMetrics metrics) {}
}
