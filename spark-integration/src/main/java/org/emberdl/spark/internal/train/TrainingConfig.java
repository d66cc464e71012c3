package org.emberdl.spark.internal.train;

import java.io.Serializable;
import java.util.Objects;
import org.emberdl.federated.UpdateKind;
import org.emberdl.federated.dp.SecretSampler;
import org.emberdl.spark.internal.local.NetworkDefinition;
import org.emberdl.spark.internal.plan.DeviceChoice;
import org.emberdl.spark.internal.plan.LrSchedule;
import org.emberdl.spark.internal.plan.LrScheduleName;
import org.emberdl.spark.internal.plan.OptimizerName;
import org.emberdl.spark.internal.plan.TaskKind;
import org.emberdl.spark.internal.plan.TrainingPlan;

/**
 * Everything a training task needs besides the round's weights, fixed for one {@code fit}. Built
 * with {@link #builder} (by {@link TrainingPlan} in a fit): each setting is named where it is set,
 * and a setting a fit does not use keeps its neutral default (0, or null for the sampler), so that
 * adding one does not touch every place that builds a config.
 */
public final class TrainingConfig implements Serializable {
  private static final long serialVersionUID = 1L;

  private final String runKey;
  private final NetworkDefinition network;
  private final TaskKind kind;
  private final long seed;
  private final OptimizerName optimizer;
  private final double learningRate;
  private final LrSchedule schedule;
  private final double momentum;
  private final double weightDecay;
  private final int localSteps;
  private final int chunksPerEpoch;
  private final UpdateKind updateKind;
  private final double samplingRate;
  private final double clipNorm;
  private final int localEpochs;
  private final double proximalMu;
  private final int batchSize;
  private final SecretSampler sampler;
  private final DeviceChoice device;

  private TrainingConfig(Builder b) {
    this.runKey = Objects.requireNonNull(b.runKey, "runKey");
    this.network = Objects.requireNonNull(b.network, "network");
    this.kind = Objects.requireNonNull(b.kind, "kind");
    this.seed = b.seed;
    this.optimizer = b.optimizer;
    this.learningRate = b.learningRate;
    this.schedule =
        new LrSchedule(
            b.scheduleName, b.learningRate, b.minLearningRate, b.warmupSteps, b.scheduleSteps);
    this.momentum = b.momentum;
    this.weightDecay = b.weightDecay;
    this.localSteps = b.localSteps;
    this.chunksPerEpoch = b.chunksPerEpoch;
    this.updateKind = Objects.requireNonNull(b.updateKind, "updateKind");
    this.samplingRate = b.samplingRate;
    this.clipNorm = b.clipNorm;
    this.localEpochs = b.localEpochs;
    this.proximalMu = b.proximalMu;
    this.batchSize = b.batchSize;
    this.sampler = b.sampler;
    this.device = Objects.requireNonNull(b.device, "device");
  }

  /** A config for the fit {@code runKey} of {@code network} on a {@code kind} task. */
  public static Builder builder(String runKey, NetworkDefinition network, TaskKind kind) {
    return new Builder(runKey, network, kind);
  }

  /** Identifies the fit in the executors' replica pools. */
  public String runKey() {
    return runKey;
  }

  public NetworkDefinition network() {
    return network;
  }

  public TaskKind kind() {
    return kind;
  }

  public long seed() {
    return seed;
  }

  public OptimizerName optimizer() {
    return optimizer;
  }

  double learningRate() {
    return learningRate;
  }

  /**
   * The learning rate of each optimizer step of the fit: every optimizer (the driver's, a stage
   * replica's, a partition's local steps, a federated client's) sets it from the step number.
   */
  public LrSchedule schedule() {
    return schedule;
  }

  double momentum() {
    return momentum;
  }

  double weightDecay() {
    return weightDecay;
  }

  /** Optimizer steps each partition takes per round (model averaging when > 1). */
  public int localSteps() {
    return localSteps;
  }

  /**
   * How many slices each partition's shuffled rows are cut into per epoch; one slice per partition
   * makes one global batch of about {@code batchSize} rows.
   */
  public int chunksPerEpoch() {
    return chunksPerEpoch;
  }

  /** What each partition computes: the aggregator's {@code updateKind()}. */
  public UpdateKind updateKind() {
    return updateKind;
  }

  /** DP-SGD's Poisson sampling rate per step (0 when not private at the example level). */
  public double samplingRate() {
    return samplingRate;
  }

  /** DP's per-example (DP-SGD) or per-client (DP-FedAvg) clipping norm (0 when not private). */
  public double clipNorm() {
    return clipNorm;
  }

  /** Federated averaging: local epochs per round (0 when not federated). */
  public int localEpochs() {
    return localEpochs;
  }

  /** FedProx's proximal weight (0 for every other aggregation). */
  public double proximalMu() {
    return proximalMu;
  }

  /** The stage's batchSize (a federated client's local mini-batch). */
  public int batchSize() {
    return batchSize;
  }

  /** DP-SGD's secret sampling under secureNoise; null = sampling keyed by seed. */
  public SecretSampler sampler() {
    return sampler;
  }

  /** The {@code device} Param: where each task's executor runs it. */
  public DeviceChoice device() {
    return device;
  }

  /** Sets a config's settings by name; the unset ones stay at their neutral default. */
  public static final class Builder {
    private final String runKey;
    private final NetworkDefinition network;
    private final TaskKind kind;
    private long seed;
    private OptimizerName optimizer = OptimizerName.ADAM;
    private double learningRate = 1e-3;
    private LrScheduleName scheduleName = LrScheduleName.CONSTANT;
    private double minLearningRate;
    private int warmupSteps;
    private long scheduleSteps = 1;
    private double momentum;
    private double weightDecay;
    private int localSteps = 1;
    private int chunksPerEpoch = 1;
    private UpdateKind updateKind = UpdateKind.GRADIENT_SUM;
    private double samplingRate;
    private double clipNorm;
    private int localEpochs;
    private double proximalMu;
    private int batchSize = 1;
    private SecretSampler sampler;
    private DeviceChoice device = DeviceChoice.AUTO;

    private Builder(String runKey, NetworkDefinition network, TaskKind kind) {
      this.runKey = runKey;
      this.network = network;
      this.kind = kind;
    }

    public Builder seed(long seed) {
      this.seed = seed;
      return this;
    }

    public Builder optimizer(
        OptimizerName optimizer, double learningRate, double momentum, double wd) {
      this.optimizer = Objects.requireNonNull(optimizer, "optimizer");
      this.learningRate = learningRate;
      this.momentum = momentum;
      this.weightDecay = wd;
      return this;
    }

    /**
     * The learning-rate schedule over the fit's {@code totalSteps} optimizer steps (from the
     * optimizer's learning rate); unset, the rate stays constant.
     */
    public Builder schedule(
        LrScheduleName name, double minLearningRate, int warmupSteps, long totalSteps) {
      this.scheduleName = Objects.requireNonNull(name, "name");
      this.minLearningRate = minLearningRate;
      this.warmupSteps = warmupSteps;
      this.scheduleSteps = totalSteps;
      return this;
    }

    /** The batching of an epoch: {@code batchSize} rows per global batch, cut into chunks. */
    public Builder batches(int batchSize, int chunksPerEpoch, int localSteps) {
      this.batchSize = batchSize;
      this.chunksPerEpoch = chunksPerEpoch;
      this.localSteps = localSteps;
      return this;
    }

    public Builder updateKind(UpdateKind updateKind) {
      this.updateKind = updateKind;
      return this;
    }

    /**
     * Differential privacy's per-task settings (sampling rate 0 and no sampler at client level).
     */
    public Builder privacy(double samplingRate, double clipNorm, SecretSampler sampler) {
      this.samplingRate = samplingRate;
      this.clipNorm = clipNorm;
      this.sampler = sampler;
      return this;
    }

    /** Federated rounds: each client's local epochs and FedProx's weight (0 for FedAvg). */
    public Builder federated(int localEpochs, double proximalMu) {
      this.localEpochs = localEpochs;
      this.proximalMu = proximalMu;
      return this;
    }

    /** The stage's {@code device} Param. */
    public Builder device(DeviceChoice device) {
      this.device = Objects.requireNonNull(device, "device");
      return this;
    }

    public TrainingConfig build() {
      return new TrainingConfig(this);
    }
  }
}
