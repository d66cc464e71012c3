package org.emberdl.spark.internal.train;

import java.util.List;
import java.util.function.Supplier;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.emberdl.autograd.NoGrad;
import org.emberdl.autograd.Tensor;
import org.emberdl.federated.Update;
import org.emberdl.nn.Module;
import org.emberdl.optim.Optimizer;
import org.emberdl.spark.EmberParams;
import org.emberdl.spark.ProgressListener;
import org.emberdl.spark.TrainingSummary;
import org.emberdl.spark.internal.data.PartitionData;
import org.emberdl.spark.internal.data.TrainingInput;
import org.emberdl.spark.internal.io.StateDicts;
import org.emberdl.spark.internal.local.NetworkDefinition;
import org.emberdl.spark.internal.local.TaskDevice;
import org.emberdl.spark.internal.plan.DataSizes;
import org.emberdl.spark.internal.plan.DeviceChoice;
import org.emberdl.spark.internal.plan.ParamScope;
import org.emberdl.spark.internal.plan.StageReduce;
import org.emberdl.spark.internal.plan.TaskKind;
import org.emberdl.spark.internal.plan.TrainingPlan;
import org.emberdl.spark.internal.rounds.JobPerRound;
import org.emberdl.spark.internal.rounds.SecureRounds;
import org.emberdl.spark.internal.stage.StageRounds;
import org.emberdl.spark.internal.stage.StageTraining;
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
public final class Coordinator {
  private static final Logger LOG = LoggerFactory.getLogger(Coordinator.class);

  /**
   * A finished fit: the weights as safetensors bytes, the summary, the output count, and the ONNX
   * graph of an initialModel network (else null).
   */
  public record Result(byte[] weights, TrainingSummary summary, int numOutputs, byte[] onnxGraph) {}

  private Coordinator() {}

  public static Result fit(
      Dataset<?> dataset,
      EmberParams<?> p,
      TaskKind kind,
      String featuresCol,
      String labelCol,
      ProgressListener listener) {
    ParamScope.check(p); // before any Spark job: no Param the fit would ignore
    StageReduce reduce = StageReduce.of(dataset.sparkSession()); // an unknown value fails here
    JavaSparkContext sc = JavaSparkContext.fromSparkContext(dataset.sparkSession().sparkContext());
    TaskDevice.checkOnDriver(DeviceChoice.of(p.getDevice()), sc.sc()); // where the driver can tell
    NetworkDefinition network = NetworkDefinition.of(p).sharedBy(sc);
    try (Module model = network.build(new Generator(p.getSeed()))) {
      int outputs = countOutputs(model, network);
      TrainingPlan.checkOutputs(kind, outputs);
      try (TrainingInput input =
          TrainingInput.cache(dataset, p, kind, network, outputs, featuresCol, labelCol)) {
        TrainingPlan plan =
            TrainingPlan.resolve(p, kind, network, model, input.sizes(), input.runKey());
        logPlan(plan);
        TrainingSummary summary = train(sc, input.data(), plan, model, p, listener, reduce);
        return new Result(
            StateDicts.toBytes(model.stateDict()), summary, outputs, network.onnxGraph());
      }
    } finally {
      network.unshare();
    }
  }

  /**
   * Outputs per example: known from a spec or ONNX graph, else from a forward pass of one zero
   * example (a zero example is not valid input for every spec: all padding for a padded token
   * sequence).
   */
  private static int countOutputs(Module model, NetworkDefinition network) {
    if (!network.fromFactory()) {
      return network.outputSize();
    }
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

  private static void logPlan(TrainingPlan plan) {
    DataSizes sizes = plan.sizes();
    LOG.info(
        "Ember fit: {} on {} partitions ({} clients), {} training and {} validation rows ({}"
            + " skipped), {} rounds per epoch, aggregation {}{}",
        plan.network(),
        sizes.partitions(),
        sizes.clients(),
        sizes.trainRows(),
        sizes.validRows(),
        sizes.skipped(),
        plan.roundsPerEpoch(),
        plan.aggregatorName(),
        plan.secure() != null ? " with secure aggregation" : "");
    LOG.info("Ember fit: learning rate {}", plan.config().schedule().describe());
  }

  /** Runs the training loop of {@code plan}; the trained weights end up in {@code model}. */
  private static TrainingSummary train(
      JavaSparkContext sc,
      JavaRDD<PartitionData> data,
      TrainingPlan plan,
      Module model,
      EmberParams<?> p,
      ProgressListener listener,
      StageReduce reduce) {
    try (ServerState state =
            new ServerState(
                model,
                Optimizers.create(plan.config(), model),
                plan.newServerOptimizer(),
                plan.config().schedule());
        FitProgress progress =
            FitProgress.start(
                sc.sc(), p, plan.network(), plan.maxEpochs(), plan.roundsPerEpoch(), listener);
        RoundExecutor rounds = open(plan, sc, data, reduce, state::optimizer)) {
      TrainingCheckpoints checkpoints =
          TrainingCheckpoints.of(plan, state.checkpointed(), sc.hadoopConfiguration());
      return new TrainingLoop(plan, rounds, state, checkpoints, progress, sc::setJobDescription)
          .run();
    }
  }

  /** The round executor of {@code plan}'s transport. */
  private static RoundExecutor open(
      TrainingPlan plan,
      JavaSparkContext sc,
      JavaRDD<PartitionData> data,
      StageReduce reduce,
      Supplier<Optimizer> optimizer) {
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
                plan.stageAskedFor(),
                reduce);
        yield stage == null
            ? new JobPerRound(sc, data, config)
            : new StageRounds(stage, data, config, plan.maxEpochs(), optimizer);
      }
    };
  }

  /** The updates summed in list (= partition) order. */
  public static Update sum(List<Update> updates) {
    Update first = updates.get(0);
    Update total = Update.zero(first.values().length, first.buffers().length);
    for (Update u : updates) {
      total.add(u);
    }
    return total;
  }
}
