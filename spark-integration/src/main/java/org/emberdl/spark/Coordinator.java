package org.emberdl.spark;

import java.util.Collections;
import java.util.List;
import java.util.UUID;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.functions;
import org.apache.spark.storage.StorageLevel;
import org.emberdl.autograd.NoGrad;
import org.emberdl.autograd.Tensor;
import org.emberdl.federated.Update;
import org.emberdl.nn.Module;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The driver's side of a fit, as a facade: caches the data on the executors, resolves the {@link
 * TrainingPlan}, opens the {@link RoundExecutor} of its transport and runs the {@link TrainingLoop}
 * (which owns early stopping, the privacy budget and checkpoints) over the driver's {@link
 * ServerState}.
 *
 * <p>Every path sums the partitions' updates in partition order ({@link #sum}): summing in a fixed
 * order is what makes training on the same data, seed and partitioning give the same weights every
 * time, whichever path carried them.
 */
final class Coordinator {
  private static final Logger LOG = LoggerFactory.getLogger(Coordinator.class);

  /** A finished fit: the weights as safetensors bytes, the summary, the output count. */
  record Result(byte[] weights, TrainingSummary summary, int numOutputs) {}

  private Coordinator() {}

  static Result fit(
      Dataset<?> dataset,
      EmberParams<?> p,
      TaskKind kind,
      String featuresCol,
      String labelCol,
      ProgressListener listener) {
    ParamScope.check(p); // before any Spark job: no Param the fit would ignore
    NetworkDefinition network = NetworkDefinition.of(p);
    SparkSession spark = dataset.sparkSession();
    JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    long seed = p.getSeed();
    try (Module model = network.build(new Generator(seed))) {
      int outputs = countOutputs(model, network);
      TrainingPlan.checkOutputs(kind, outputs);
      String clientCol = p.getClientIdCol();
      boolean skipInvalid = HandleInvalid.of(p.getHandleInvalid()) == HandleInvalid.SKIP;
      Dataset<Row> selected;
      int clients = -1; // -1: the partitions are the clients
      if (clientCol.isEmpty()) {
        selected =
            dataset.select(
                functions.col(featuresCol), functions.col(labelCol).cast("double").as(labelCol));
        if (p.getNumPartitions() > 0) {
          selected = selected.repartition(p.getNumPartitions());
        }
      } else {
        ClientIndex.Indexed indexed =
            ClientIndex.attach(
                dataset.select(
                    functions.col(featuresCol),
                    functions.col(labelCol).cast("double").as(labelCol),
                    functions.col(clientCol)),
                featuresCol,
                labelCol,
                clientCol,
                p.getNumPartitions(),
                skipInvalid);
        selected = indexed.data();
        clients = indexed.clients();
      }
      FeatureColumn features =
          FeatureColumn.of(selected.schema(), featuresCol, network.inputSize());
      JavaRDD<PartitionData> data =
          cache(
              selected,
              features,
              labelCol,
              kind,
              outputs,
              p.getValidationFraction(),
              seed,
              skipInvalid,
              clients >= 0);
      String runKey = "fit-" + UUID.randomUUID();
      try {
        return run(sc, data, model, network, kind, outputs, p, runKey, clients, listener);
      } finally {
        data.foreachPartition(it -> ExecutorEngine.get().release(runKey));
        data.unpersist(false);
      }
    }
  }

  /** Outputs per example, from a forward pass of one zero example. */
  private static int countOutputs(Module model, NetworkDefinition network) {
    int[] shape = new int[network.inputShape().length + 1];
    shape[0] = 1;
    System.arraycopy(network.inputShape(), 0, shape, 1, shape.length - 1);
    try (NoGrad ng = NoGrad.enter();
        MemoryScope scope = MemoryScope.open()) {
      model.eval();
      Tensor out = model.forward(Tensor.of(NDArray.zeros(DType.FLOAT32, shape)));
      model.train();
      return Math.toIntExact(out.data().numel());
    }
  }

  private static JavaRDD<PartitionData> cache(
      Dataset<Row> selected,
      FeatureColumn features,
      String labelCol,
      TaskKind kind,
      int numClasses,
      double validationFraction,
      long seed,
      boolean skipInvalid,
      boolean withClients) {
    JavaRDD<InternalRow> rows = SparkInternals.internalRows(selected).toJavaRDD();
    JavaRDD<PartitionData> data =
        rows.mapPartitionsWithIndex(
            (partition, it) ->
                Collections.singletonList(
                        PartitionData.read(
                            it,
                            features,
                            labelCol,
                            kind,
                            numClasses,
                            validationFraction,
                            seed,
                            partition,
                            skipInvalid,
                            withClients ? 2 : -1))
                    .iterator(),
            true);
    return data.persist(StorageLevel.MEMORY_AND_DISK());
  }

  private static Result run(
      JavaSparkContext sc,
      JavaRDD<PartitionData> data,
      Module model,
      NetworkDefinition network,
      TaskKind kind,
      int outputs,
      EmberParams<?> p,
      String runKey,
      int clientCount,
      ProgressListener listener) {
    DataSizes sizes =
        DataSizes.of(
            data.map(d -> new long[] {d.trainRows, d.validRows, d.skipped}).collect(), clientCount);
    TrainingPlan plan = TrainingPlan.resolve(p, kind, network, model, sizes, runKey);
    LOG.info(
        "Ember fit: {} on {} partitions ({} clients), {} training and {} validation rows ({}"
            + " skipped), {} rounds per epoch, aggregation {}{}",
        network,
        sizes.partitions(),
        sizes.clients(),
        sizes.trainRows(),
        sizes.validRows(),
        sizes.skipped(),
        plan.roundsPerEpoch(),
        plan.aggregatorName(),
        plan.secure() != null ? " with secure aggregation" : "");
    try (ServerState state =
            new ServerState(
                model, Optimizers.create(plan.config(), model), plan.newServerOptimizer());
        FitProgress progress =
            FitProgress.start(
                sc.sc(), p, network, plan.maxEpochs(), plan.roundsPerEpoch(), listener);
        RoundExecutor rounds = open(plan, sc, data)) {
      TrainingCheckpoints checkpoints =
          TrainingCheckpoints.of(plan, state.checkpointed(), sc.hadoopConfiguration());
      TrainingSummary summary =
          new TrainingLoop(plan, rounds, state, checkpoints, progress, sc::setJobDescription).run();
      return new Result(StateDicts.toBytes(model.stateDict()), summary, outputs);
    }
  }

  /** The round executor of {@code plan}'s transport. */
  private static RoundExecutor open(
      TrainingPlan plan, JavaSparkContext sc, JavaRDD<PartitionData> data) {
    TrainingConfig config = plan.config();
    return switch (plan.transport()) {
      case JOB_PER_ROUND -> new JobPerRound(sc, data, config);
      case SECURE -> new SecureRounds(sc, data, config, plan.secure());
      case STAGE -> {
        // executionMode=stage: one barrier stage per epoch instead of a job per round
        StageTraining stage =
            StageTraining.openOrFallBack(
                sc,
                data,
                config,
                plan.sizes().partitions(),
                plan.roundsPerEpoch(),
                plan.stageAskedFor());
        yield stage == null
            ? new JobPerRound(sc, data, config)
            : new StageRounds(stage, data, config, plan.maxEpochs());
      }
    };
  }

  /** The updates summed in list (= partition) order. */
  static Update sum(List<Update> updates) {
    Update first = updates.get(0);
    Update total = Update.zero(first.values().length, first.buffers().length);
    for (Update u : updates) {
      total.add(u);
    }
    return total;
  }
}
