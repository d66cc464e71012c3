package org.emberdl.spark.internal.rounds;

import java.util.function.Supplier;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.emberdl.federated.Update;
import org.emberdl.spark.internal.data.PartitionData;
import org.emberdl.spark.internal.local.RoundWeights;
import org.emberdl.spark.internal.train.Round;
import org.emberdl.spark.internal.train.RoundExecutor;
import org.emberdl.spark.internal.train.TrainingConfig;

/** Each round as one run of the secure-aggregation protocol ({@link SecureRound}). */
public final class SecureRounds implements RoundExecutor {
  private final JavaSparkContext sc;
  private final JavaRDD<PartitionData> data;
  private final TrainingConfig config;
  private final SecureRound.Plan plan;

  public SecureRounds(
      JavaSparkContext sc,
      JavaRDD<PartitionData> data,
      TrainingConfig config,
      SecureRound.Plan plan) {
    this.sc = sc;
    this.data = data;
    this.config = config;
    this.plan = plan;
  }

  @Override
  public Update run(Round round, Supplier<RoundWeights> weights) {
    return SecureRound.run(
        sc, data, config, weights.get(), round.globalRound(), round.sampled(), plan);
  }

  @Override
  public Update evaluate(RoundWeights weights) {
    return JobPerRound.evaluate(data, config, weights);
  }
}
