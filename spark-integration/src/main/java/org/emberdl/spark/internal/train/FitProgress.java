package org.emberdl.spark.internal.train;

import org.apache.spark.SparkContext;
import org.apache.spark.ml.param.Params;
import org.emberdl.spark.EpochMetrics;
import org.emberdl.spark.ProgressListener;
import org.emberdl.spark.TrainingProgress;
import org.emberdl.spark.internal.local.NetworkDefinition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One fit's progress on the driver: the coordinator reports each step and epoch here, and this
 * passes them to the estimator's {@link ProgressListener} (if any) and to the Spark UI's Ember tab
 * ({@link ProgressBoard}), which shows them while a long stage runs.
 */
public final class FitProgress implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(FitProgress.class);

  private final ProgressListener listener;
  private final int maxEpochs;
  private final int stepsPerEpoch;
  private final ProgressBoard.Fit board;
  private long epochStart;
  private boolean warned;

  FitProgress(
      ProgressListener listener, int maxEpochs, int stepsPerEpoch, ProgressBoard.Fit board) {
    this.listener = listener;
    this.maxEpochs = maxEpochs;
    this.stepsPerEpoch = stepsPerEpoch;
    this.board = board;
  }

  /** The progress of a fit of {@code stage}'s {@code network} about to start on {@code sc}. */
  static FitProgress start(
      SparkContext sc,
      Params stage,
      NetworkDefinition network,
      int maxEpochs,
      int stepsPerEpoch,
      ProgressListener listener) {
    ProgressBoard.Fit fit =
        ProgressBoard.of(sc).start(stage.uid() + ": " + network, maxEpochs, stepsPerEpoch);
    return new FitProgress(listener, maxEpochs, stepsPerEpoch, fit);
  }

  /** Marks the start of {@code epoch} (0-based), from which the step reports count time. */
  void epochStarted(int epoch) {
    epochStart = System.nanoTime();
  }

  /**
   * After step {@code step} (0-based) of {@code epoch} (0-based): the epoch's examples and loss sum
   * so far.
   */
  void step(int epoch, int step, long examples, double lossSum) {
    TrainingProgress p =
        new TrainingProgress(
            epoch + 1,
            maxEpochs,
            step + 1,
            stepsPerEpoch,
            examples,
            examples == 0 ? Double.NaN : lossSum / examples,
            (System.nanoTime() - epochStart) / 1e9);
    board.step(p);
    if (listener != null) {
      try {
        listener.onStep(p);
      } catch (RuntimeException e) {
        warnOnce(e);
      }
    }
  }

  void epochEnded(EpochMetrics m) {
    board.epoch(m);
    if (listener != null) {
      try {
        listener.onEpoch(m);
      } catch (RuntimeException e) {
        warnOnce(e);
      }
    }
  }

  private void warnOnce(RuntimeException e) {
    if (!warned) {
      warned = true;
      LOG.warn("the progress listener threw; training goes on (reported once per fit)", e);
    }
  }

  /** The fit is over (done, stopped or failed). */
  @Override
  public void close() {
    board.end();
  }
}
