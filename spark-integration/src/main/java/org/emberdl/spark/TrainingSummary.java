package org.emberdl.spark;

import java.io.Serializable;
import java.util.List;

/**
 * What {@code fit} reports: per-epoch metrics, why training stopped, and its shape.
 *
 * @param epochs metrics of every epoch run, including those restored from a checkpoint
 * @param stoppedEarly whether early stopping ended training before {@code maxEpochs}
 * @param bestEpoch the epoch whose weights the model holds (the last, or the best validation loss
 *     with early stopping)
 * @param trainRows training rows used (after the validation split and skipped rows)
 * @param validationRows held-out rows
 * @param partitions partitions trained on
 * @param roundsPerEpoch coordinator rounds (Spark jobs) per epoch
 * @param meanRoundMillis mean wall time of a round on the driver
 */
public record TrainingSummary(
    List<EpochMetrics> epochs,
    boolean stoppedEarly,
    int bestEpoch,
    long trainRows,
    long validationRows,
    int partitions,
    int roundsPerEpoch,
    double meanRoundMillis)
    implements Serializable {
  public TrainingSummary {
    epochs = List.copyOf(epochs);
  }

  /** The last epoch's metrics. */
  public EpochMetrics last() {
    return epochs.get(epochs.size() - 1);
  }
}
