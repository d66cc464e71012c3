package org.emberdl.spark.internal.train;

import java.util.function.Supplier;
import org.emberdl.federated.Aggregator;
import org.emberdl.federated.Step;
import org.emberdl.federated.Update;
import org.emberdl.nn.Module;
import org.emberdl.spark.internal.local.RoundWeights;
import org.emberdl.spark.internal.rounds.JobPerRound;
import org.emberdl.spark.internal.rounds.SecureRounds;
import org.emberdl.spark.internal.stage.StageRounds;

/**
 * How the rounds of a fit reach the partitions and their updates come back: one strategy per
 * execution path ({@link JobPerRound}, {@link SecureRounds}, {@link StageRounds}). The training
 * loop sees only this, so it does not care which transport carries a round.
 *
 * <p>The weights come as a supplier because not every path needs them at every call (the stage's
 * tasks already hold them when a step starts), and a snapshot copies the whole model.
 */
public interface RoundExecutor extends AutoCloseable {
  /** Called before the first round of {@code epoch}. */
  default void beginEpoch(int epoch, Supplier<RoundWeights> weights) {}

  /**
   * Runs {@code round} from the current weights.
   *
   * @return the partitions' updates summed in partition order, or null when the round was skipped
   *     (a secure round that sampled a single client)
   */
  Update run(Round round, Supplier<RoundWeights> weights);

  /**
   * A round's updates summed in partition order, and the step {@code aggregator} made of them;
   * {@code applied}: the path already applied the step to the driver's state ({@link DriverStep}).
   */
  record Combined(Update total, Step step, boolean applied) {
    public Combined(Update total, Step step) {
      this(total, step, false);
    }
  }

  /**
   * The driver's own step of the current round, which a path may take ahead of the training thread
   * (while that thread waits for the round): it applies a step to the driver's state, whose model
   * the tasks of the driver's JVM may then copy instead of applying the step themselves.
   */
  interface DriverStep {
    /** Applies {@code step} to the driver's state, as the training thread would. */
    void apply(Step step);

    /** The driver's model, read only. */
    Module model();
  }

  /**
   * Runs {@code round} and combines its sum with {@code aggregator}, before the driver applies the
   * step to its own state. This default combines on the calling (training) thread after {@link
   * #run}; a path whose executors apply each step themselves combines wherever the last update
   * arrives and sends the step on from there, sparing the step one thread hand-off, and may apply
   * it to the driver's state there too ({@code driver}; then {@link Combined#applied}).
   *
   * @return null when the round was skipped (see {@link #run})
   */
  default Combined runAndCombine(
      Round round, Supplier<RoundWeights> weights, Aggregator aggregator, DriverStep driver) {
    Update total = run(round, weights);
    return total == null ? null : new Combined(total, aggregator.combine(total));
  }

  /** Called after the step a round's update produced has been applied to the weights. */
  default void stepApplied(Supplier<RoundWeights> weights) {}

  /** Called after the last round of an epoch, before validation. */
  default void endEpoch() {}

  /** The validation rows' loss and correct-count sums at {@code weights}. */
  Update evaluate(RoundWeights weights);

  @Override
  default void close() {}
}
