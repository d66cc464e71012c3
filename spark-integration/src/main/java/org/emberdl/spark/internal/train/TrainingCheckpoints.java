package org.emberdl.spark.internal.train;

import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.emberdl.spark.internal.io.Checkpoints;
import org.emberdl.spark.internal.local.RoundWeights;
import org.emberdl.spark.internal.plan.TrainingPlan;

/**
 * The training loop's use of {@link Checkpoints}: restore the newest checkpoint written under the
 * same settings, and write one every {@code checkpointInterval} epochs, after the last epoch and
 * when early stopping ends the fit. Without a checkpointDir it restores nothing and writes nothing.
 */
final class TrainingCheckpoints {
  private final Checkpoints checkpoints;
  private final Checkpoints.State state;
  private final Map<String, String> settings;
  private final int interval;
  private final int maxEpochs;

  private TrainingCheckpoints(
      Checkpoints checkpoints,
      Checkpoints.State state,
      Map<String, String> settings,
      int interval,
      int maxEpochs) {
    this.checkpoints = checkpoints;
    this.state = state;
    this.settings = settings;
    this.interval = interval;
    this.maxEpochs = maxEpochs;
  }

  /** The checkpoints of {@code plan}'s fit of {@code state}; none when checkpointDir is "". */
  static TrainingCheckpoints of(
      TrainingPlan plan, Checkpoints.State state, Configuration hadoopConf) {
    Checkpoints store =
        plan.checkpointDir().isEmpty() ? null : new Checkpoints(plan.checkpointDir(), hadoopConf);
    return new TrainingCheckpoints(
        store, state, plan.settings(), plan.checkpointInterval(), plan.maxEpochs());
  }

  /**
   * Restores the newest checkpoint into the state, after checking its compatibility ({@link
   * Checkpoints#restoreLatest}).
   *
   * @return what it restored, or null when there is none
   */
  Checkpoints.Restored restore() {
    return checkpoints == null ? null : checkpoints.restoreLatest(state, settings, maxEpochs);
  }

  /** The settings the checkpoints record. */
  Map<String, String> settings() {
    return settings;
  }

  /** Whether a checkpoint is due after {@code epochsDone} epochs. */
  static boolean due(int epochsDone, int interval, int maxEpochs, boolean stopping) {
    return epochsDone % interval == 0 || epochsDone == maxEpochs || stopping;
  }

  /**
   * Writes the checkpoint after {@code progress.epochsDone()} epochs when one is due.
   *
   * @param stopping whether training stops after this epoch (early stopping)
   * @param best the best epoch's weights early stopping keeps, or null
   */
  void afterEpoch(Checkpoints.Progress progress, boolean stopping, RoundWeights best) {
    if (checkpoints != null && due(progress.epochsDone(), interval, maxEpochs, stopping)) {
      checkpoints.write(state, progress, best);
    }
  }
}
