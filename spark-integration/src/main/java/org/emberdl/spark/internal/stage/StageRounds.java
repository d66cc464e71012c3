package org.emberdl.spark.internal.stage;

import java.util.function.Supplier;
import org.apache.spark.api.java.JavaRDD;
import org.emberdl.federated.Aggregator;
import org.emberdl.federated.Update;
import org.emberdl.optim.Optimizer;
import org.emberdl.spark.internal.data.PartitionData;
import org.emberdl.spark.internal.local.RoundWeights;
import org.emberdl.spark.internal.rounds.JobPerRound;
import org.emberdl.spark.internal.train.Round;
import org.emberdl.spark.internal.train.RoundExecutor;
import org.emberdl.spark.internal.train.TrainingConfig;

/**
 * The rounds of an epoch as the steps of one barrier stage ({@link StageTraining}): the tasks keep
 * their partition and the weights, send each step's update to the driver and wait for the next
 * weights.
 */
public final class StageRounds implements RoundExecutor {
  private final StageTraining stage;
  private final JavaRDD<PartitionData> data;
  private final TrainingConfig config;
  private final int maxEpochs;
  private final Supplier<Optimizer> optimizer;

  /**
   * @param optimizer the driver's optimizer, whose state tasks that apply the steps themselves
   *     ({@link StageTraining#replicatesSteps}) start from
   */
  public StageRounds(
      StageTraining stage,
      JavaRDD<PartitionData> data,
      TrainingConfig config,
      int maxEpochs,
      Supplier<Optimizer> optimizer) {
    this.stage = stage;
    this.data = data;
    this.config = config;
    this.maxEpochs = maxEpochs;
    this.optimizer = optimizer;
  }

  @Override
  public void beginEpoch(int epoch, Supplier<RoundWeights> weights) {
    stage.beginEpoch(
        epoch,
        weights.get(),
        maxEpochs,
        stage.replicatesSteps()
            ? step ->
                new StageMessages.Resume(
                    step, weights.get(), StageMessages.OptimizerState.of(optimizer.get()))
            : null);
  }

  @Override
  public Combined runAndCombine(
      Round round, Supplier<RoundWeights> weights, Aggregator aggregator, DriverStep driver) {
    if (!stage.replicatesSteps()) {
      return RoundExecutor.super.runAndCombine(round, weights, aggregator, driver);
    }
    return stage.awaitCombined(round.round(), aggregator, driver);
  }

  @Override
  public Update run(Round round, Supplier<RoundWeights> weights) {
    return stage.awaitStep(round.round());
  }

  @Override
  public void stepApplied(Supplier<RoundWeights> weights) {
    if (stage.replicatesSteps()) {
      stage.stepApplied();
    } else {
      stage.publish(weights.get());
    }
  }

  @Override
  public void endEpoch() {
    stage.endEpoch();
  }

  @Override
  public Update evaluate(RoundWeights weights) {
    return JobPerRound.evaluate(data, config, weights);
  }

  @Override
  public void close() {
    stage.close();
  }
}
