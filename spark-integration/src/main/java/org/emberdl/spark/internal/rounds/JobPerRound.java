package org.emberdl.spark.internal.rounds;

import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.function.Supplier;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.emberdl.federated.Update;
import org.emberdl.spark.internal.data.PartitionData;
import org.emberdl.spark.internal.local.PartitionTrainer;
import org.emberdl.spark.internal.local.RoundWeights;
import org.emberdl.spark.internal.train.Coordinator;
import org.emberdl.spark.internal.train.Round;
import org.emberdl.spark.internal.train.RoundExecutor;
import org.emberdl.spark.internal.train.TrainingConfig;

/**
 * One Spark job per round: broadcast the weights, train every partition, {@code collect()} the
 * updates and sum them in partition order.
 *
 * <p>{@code collect()} returns the updates in partition order whatever order the tasks finish in
 * (Spark's {@code treeAggregate} merges them in finishing order, which changes the last bits of a
 * float sum from run to run); summing in a fixed order is what makes training on the same data,
 * seed and partitioning give the same weights every time.
 */
public final class JobPerRound implements RoundExecutor {
  /** Rows per forward pass of validation. */
  static final int EVAL_BATCH = 1024;

  private final JavaSparkContext sc;
  private final JavaRDD<PartitionData> data;
  private final TrainingConfig config;

  public JobPerRound(JavaSparkContext sc, JavaRDD<PartitionData> data, TrainingConfig config) {
    this.sc = sc;
    this.data = data;
    this.config = config;
  }

  @Override
  public Update run(Round round, Supplier<RoundWeights> weights) {
    TrainingConfig c = config; // the closures capture locals, not this
    int epoch = round.epoch();
    int r = round.round();
    long globalRound = round.globalRound();
    boolean[] sampled = round.sampled();
    Broadcast<RoundWeights> bc = sc.broadcast(weights.get());
    try {
      List<Update> updates =
          data.mapPartitionsWithIndex(
                  (partition, it) ->
                      single(
                          PartitionTrainer.train(
                              c, bc.value(), it.next(), partition, epoch, r, globalRound, sampled)),
                  true)
              .collect();
      return Coordinator.sum(updates);
    } finally {
      bc.destroy();
    }
  }

  @Override
  public Update evaluate(RoundWeights weights) {
    return evaluate(data, config, weights);
  }

  /** The validation sums of every partition of {@code data} at {@code weights}, in order. */
  public static Update evaluate(
      JavaRDD<PartitionData> data, TrainingConfig config, RoundWeights weights) {
    return Coordinator.sum(
        data.mapPartitions(
                it -> single(PartitionTrainer.evaluate(config, weights, it.next(), EVAL_BATCH)))
            .collect());
  }

  private static <T> Iterator<T> single(T value) {
    return Collections.singletonList(value).iterator();
  }
}
