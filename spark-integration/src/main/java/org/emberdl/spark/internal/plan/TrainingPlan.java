package org.emberdl.spark.internal.plan;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.emberdl.federated.Aggregator;
import org.emberdl.federated.FederatedAveraging;
import org.emberdl.federated.MeanGradientAggregator;
import org.emberdl.federated.ModelAveragingAggregator;
import org.emberdl.federated.ServerOptimizer;
import org.emberdl.nn.Module;
import org.emberdl.spark.EmberParams;
import org.emberdl.spark.internal.local.NetworkDefinition;
import org.emberdl.spark.internal.rounds.JobPerRound;
import org.emberdl.spark.internal.rounds.SecureRound;
import org.emberdl.spark.internal.rounds.SecureRounds;
import org.emberdl.spark.internal.train.Federation;
import org.emberdl.spark.internal.train.TrainingConfig;

/**
 * What a fit will do, decided once from its Params and its data's sizes before the first step:
 * steps per epoch, the aggregation and its privacy and secure-aggregation plans, the path the
 * rounds take through Spark, and the config every task gets. Every check across Params lives here
 * (the Params a fit would ignore are {@link ParamScope}'s), so a refused combination fails before
 * any training job and can be tested without Spark.
 *
 * <p>Immutable, except that it holds the stateless recipes for the stateful objects of a fit (the
 * server optimizer, the aggregator) rather than the objects themselves, which the training loop
 * owns.
 */
public final class TrainingPlan {
  /** How the rounds of an epoch reach the executors. */
  public enum Transport {
    /**
     * One Spark job per round: broadcast the weights, collect the updates ({@link JobPerRound}).
     */
    JOB_PER_ROUND,
    /** One secure-aggregation protocol (a few Spark jobs) per round ({@link SecureRounds}). */
    SECURE,
    /** One barrier stage per epoch whose tasks exchange each step with the driver. */
    STAGE
  }

  private final TaskKind kind;
  private final NetworkDefinition network;
  private final Aggregation aggregation;
  private final DataSizes sizes;
  private final int localSteps;
  private final int roundsPerEpoch;
  private final int maxEpochs;
  private final int earlyStoppingPatience;
  private final int checkpointInterval;
  private final String checkpointDir;
  private final long seed;
  private final double clientFraction;
  private final ServerOptimizerName serverOptimizer;
  private final double serverLearningRate;
  private final double serverMomentum;
  private final DpPlan dp;
  private final SecureRound.Plan secure;
  private final Transport transport;
  private final boolean stageAskedFor;
  private final String aggregatorName;
  private final TrainingConfig config;
  private final Map<String, String> settings;

  private TrainingPlan(
      EmberParams<?> p,
      TaskKind kind,
      NetworkDefinition network,
      Module model,
      DataSizes sizes,
      String runKey) {
    this.kind = kind;
    this.network = network;
    this.aggregation = Aggregation.of(p);
    this.sizes = sizes;
    this.maxEpochs = p.getMaxEpochs();
    this.earlyStoppingPatience = p.getEarlyStoppingPatience();
    this.checkpointInterval = p.getCheckpointInterval();
    this.checkpointDir = p.getCheckpointDir();
    this.seed = p.getSeed();
    this.clientFraction = p.getClientFraction();
    this.serverOptimizer = ServerOptimizerName.of(p.getServerOptimizer());
    this.serverLearningRate = p.getServerLearningRate();
    this.serverMomentum = p.getServerMomentum();
    refuseEmptyTraining(sizes, p.getValidationFraction());
    refuseStoppingWithoutValidation(sizes, p.getValidationFraction());
    int batchSize = p.getBatchSize();
    this.localSteps = p.getLocalSteps();
    int chunks = Math.toIntExact((sizes.trainRows() + batchSize - 1) / batchSize);
    this.dp = DpPlan.of(p, model, sizes.trainRows(), sizes.clients());
    this.roundsPerEpoch =
        aggregation.federated()
            ? 1 // one round per "epoch": every sampled client trains localEpochs epochs
            : dp != null ? dp.roundsPerEpoch() : (chunks + localSteps - 1) / localSteps;
    this.secure = p.getSecureAggregation() ? securePlan(p) : null; // federated only (ParamScope)
    this.transport =
        secure != null
            ? Transport.SECURE
            : ExecutionMode.of(p) == ExecutionMode.STAGE
                ? Transport.STAGE
                : Transport.JOB_PER_ROUND;
    this.stageAskedFor = p.isSet(p.executionMode());
    long scheduleSteps = (long) maxEpochs * scheduleStepsPerEpoch(chunks);
    LrScheduleName schedule = LrScheduleName.of(p.getLrSchedule());
    refuseImpossibleSchedule(p, schedule, scheduleSteps);
    boolean exampleLevelDp = dp != null && !dp.clientLevel();
    Aggregator probe = aggregator(newServerOptimizer(), 0); // what the partitions compute
    this.aggregatorName = probe.name();
    this.config =
        TrainingConfig.builder(runKey, network, kind)
            .seed(seed)
            .optimizer(
                OptimizerName.of(p.getOptimizer()),
                p.getLearningRate(),
                p.getMomentum(),
                p.getWeightDecay())
            .schedule(schedule, p.getMinLearningRate(), p.getWarmupSteps(), scheduleSteps)
            .batches(batchSize, chunks, localSteps)
            .updateKind(probe.updateKind())
            .privacy(
                exampleLevelDp ? dp.samplingRate() : 0,
                dp == null ? 0 : dp.clipNorm(),
                exampleLevelDp ? dp.sampler() : null)
            .federated(
                aggregation.federated() ? p.getLocalEpochs() : 0,
                aggregation == Aggregation.FEDPROX ? p.getProximalMu() : 0)
            .device(DeviceChoice.of(p.getDevice()))
            .build();
    this.settings =
        TrainingSettings.of(
            p,
            kind,
            network,
            sizes.trainRows(),
            sizes.validRows(),
            sizes.partitions(),
            sizes.clients(),
            dp);
  }

  /**
   * The plan of a fit of {@code p} on data of {@code sizes}.
   *
   * @param model the fit's initial network (DP refuses batch norm)
   * @param runKey identifies the fit in the executors' replica pools
   * @throws IllegalArgumentException naming the Params of a combination that cannot train: no
   *     training rows, early stopping without validation rows, DP with localSteps other than 1 or
   *     with batch norm, secure aggregation of fewer than 2 clients per round
   */
  public static TrainingPlan resolve(
      EmberParams<?> p,
      TaskKind kind,
      NetworkDefinition network,
      Module model,
      DataSizes sizes,
      String runKey) {
    return new TrainingPlan(p, kind, network, model, sizes, runKey);
  }

  /**
   * Refuses a network that does not fit the task, before any Spark job.
   *
   * @param outputs the network's outputs per example
   */
  public static void checkOutputs(TaskKind kind, int outputs) {
    if (kind == TaskKind.REGRESSION && outputs != 1) {
      throw new IllegalArgumentException(
          "a regressor's network must have 1 output per example, this one has " + outputs);
    }
  }

  /** No training rows: says where the rows went (skipped as invalid, set aside for validation). */
  private static void refuseEmptyTraining(DataSizes sizes, double validationFraction) {
    if (sizes.trainRows() > 0) {
      return;
    }
    List<String> where = new ArrayList<>();
    if (sizes.skipped() > 0) {
      where.add(sizes.skipped() + " invalid rows skipped under handleInvalid=skip");
    }
    if (sizes.validRows() > 0) {
      where.add(sizes.validRows() + " rows set aside by validationFraction=" + validationFraction);
    }
    throw new IllegalArgumentException(
        "no training rows" + (where.isEmpty() ? "" : " (" + String.join(", ", where) + ")"));
  }

  /** Early stopping watches the validation loss: it needs validation rows. */
  private void refuseStoppingWithoutValidation(DataSizes sizes, double validationFraction) {
    if (earlyStoppingPatience == 0 || sizes.validRows() > 0) {
      return;
    }
    throw new IllegalArgumentException(
        validationFraction == 0
            ? "earlyStoppingPatience="
                + earlyStoppingPatience
                + " needs validationFraction > 0 (it watches the validation loss)"
            : "earlyStoppingPatience="
                + earlyStoppingPatience
                + " needs validation rows, but validationFraction="
                + validationFraction
                + " set aside none of the "
                + sizes.trainRows()
                + " rows; raise validationFraction");
  }

  /**
   * The optimizer steps of an epoch, the unit of {@code lrSchedule} and {@code warmupSteps}: a sync
   * fit's global batches (with {@code localSteps > 1}, each partition's local steps follow the
   * global batch they train on), a dp-sgd fit's rounds, and a federated fit's rounds (one per
   * epoch: every client's optimizer uses the round's rate for all its local steps).
   */
  private int scheduleStepsPerEpoch(int chunks) {
    if (aggregation.federated()) {
      return 1;
    }
    return dp != null ? dp.roundsPerEpoch() : chunks;
  }

  /** A cosine schedule needs steps after its warmup, and anneals down, not up. */
  private static void refuseImpossibleSchedule(
      EmberParams<?> p, LrScheduleName schedule, long scheduleSteps) {
    if (schedule != LrScheduleName.COSINE) {
      return;
    }
    if (p.getWarmupSteps() >= scheduleSteps) {
      throw new IllegalArgumentException(
          "warmupSteps="
              + p.getWarmupSteps()
              + " leaves lrSchedule=cosine no steps: the fit has "
              + scheduleSteps
              + " optimizer steps (maxEpochs="
              + p.getMaxEpochs()
              + " x "
              + scheduleSteps / p.getMaxEpochs()
              + " per epoch); lower warmupSteps or raise maxEpochs");
    }
    if (!(p.getMinLearningRate() <= p.getLearningRate())) {
      throw new IllegalArgumentException(
          "minLearningRate="
              + p.getMinLearningRate()
              + " is above learningRate="
              + p.getLearningRate()
              + ": lrSchedule=cosine anneals from learningRate down to minLearningRate");
    }
  }

  private SecureRound.Plan securePlan(EmberParams<?> p) {
    SecureRound.checkExpectedSample(aggregation, clientFraction, sizes.clients());
    SecureRound.warnOfLoneClientRounds(
        aggregation, clientFraction, sizes.clients(), maxEpochs, p.getAllowUnmaskedSmallRounds());
    return new SecureRound.Plan(
        dp != null,
        Math.max(1, sizes.maxPartitionRows()),
        dp == null ? 0 : dp.sigma(),
        dp == null ? 0 : dp.clipNorm(),
        p.getAllowUnmaskedSmallRounds());
  }

  /**
   * A new server optimizer for a federated fit (its state, momentum or moments, is checkpointed),
   * or null.
   */
  public ServerOptimizer newServerOptimizer() {
    return aggregation.federated()
        ? serverOptimizer.create(serverLearningRate, serverMomentum)
        : null;
  }

  /**
   * The aggregator of this fit.
   *
   * @param server the fit's server optimizer ({@link #newServerOptimizer}), null unless federated
   * @param firstRound the global round it starts at (DP noise is keyed by round)
   */
  public Aggregator aggregator(ServerOptimizer server, long firstRound) {
    if (dp != null) {
      return dp.aggregator(seed, firstRound, server);
    }
    return switch (aggregation) {
      case FEDAVG, FEDPROX -> new FederatedAveraging(server);
      case SYNC -> localSteps == 1 ? new MeanGradientAggregator() : new ModelAveragingAggregator();
      case DP_SGD, DP_FEDAVG -> throw new IllegalStateException(aggregation + " without a DpPlan");
    };
  }

  /** The clients that take part in global round {@code round}, or null when not federated. */
  public boolean[] sample(long globalRound) {
    return aggregation.federated()
        ? Federation.sample(
            aggregation,
            seed,
            globalRound,
            sizes.clients(),
            clientFraction,
            dp == null ? null : dp.sampler())
        : null;
  }

  public TaskKind kind() {
    return kind;
  }

  public NetworkDefinition network() {
    return network;
  }

  Aggregation aggregation() {
    return aggregation;
  }

  public DataSizes sizes() {
    return sizes;
  }

  public int roundsPerEpoch() {
    return roundsPerEpoch;
  }

  public int maxEpochs() {
    return maxEpochs;
  }

  public int earlyStoppingPatience() {
    return earlyStoppingPatience;
  }

  public int checkpointInterval() {
    return checkpointInterval;
  }

  /** The checkpointDir Param ("" = no checkpoints). */
  public String checkpointDir() {
    return checkpointDir;
  }

  /** The privacy plan, or null when the fit is not differentially private. */
  public DpPlan dp() {
    return dp;
  }

  /** The secure-aggregation plan, or null without secureAggregation. */
  public SecureRound.Plan secure() {
    return secure;
  }

  public Transport transport() {
    return transport;
  }

  /**
   * Whether executionMode was set explicitly: then a cluster that cannot run the stage is an error
   * rather than a fall-back to rounds.
   */
  public boolean stageAskedFor() {
    return stageAskedFor;
  }

  /** The aggregator's name, for the log. */
  public String aggregatorName() {
    return aggregatorName;
  }

  public TrainingConfig config() {
    return config;
  }

  /** The settings a checkpoint records and a resume must match ({@link TrainingSettings}). */
  public Map<String, String> settings() {
    return settings;
  }
}
