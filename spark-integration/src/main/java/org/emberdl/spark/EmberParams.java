package org.emberdl.spark;

import org.apache.spark.ml.param.BooleanParam;
import org.apache.spark.ml.param.DoubleParam;
import org.apache.spark.ml.param.IntArrayParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.LongParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.Params;
import org.apache.spark.ml.param.StringArrayParam;
import org.emberdl.spark.internal.plan.Aggregation;
import org.emberdl.spark.internal.plan.DeviceChoice;
import org.emberdl.spark.internal.plan.EmberParamSet;
import org.emberdl.spark.internal.plan.ExecutionMode;
import org.emberdl.spark.internal.plan.HandleInvalid;
import org.emberdl.spark.internal.plan.LrScheduleName;
import org.emberdl.spark.internal.plan.OptimizerName;
import org.emberdl.spark.internal.plan.ServerOptimizerName;

/**
 * The Params every Ember stage shares (estimators and models alike, so that {@code fit} copies them
 * onto the model as Spark's own stages do): the network, the loss and optimizer, the training
 * schedule, and inference settings. Defaults live in one place, {@link #initEmberDefaults()}.
 *
 * @param <S> the concrete stage, which the setters return
 */
public interface EmberParams<S extends EmberParams<S>> extends Params {
  /** The stage's own Param objects. */
  EmberParamSet emberParamSet();

  /** Sets every default; each stage's constructor calls this once. */
  default void initEmberDefaults() {
    EmberParamSet p = emberParamSet();
    setDefault(p.network, "");
    setDefault(p.moduleFactory, "");
    setDefault(p.initialModel, "");
    setDefault(p.frozenPrefixes, new String[0]);
    setDefault(p.optimizer, OptimizerName.ADAM.paramValue());
    setDefault(p.learningRate, 1e-3);
    setDefault(p.lrSchedule, LrScheduleName.CONSTANT.paramValue());
    setDefault(p.minLearningRate, 0.0);
    setDefault(p.warmupSteps, 0);
    setDefault(p.momentum, 0.0);
    setDefault(p.weightDecay, 0.0);
    setDefault(p.batchSize, 128);
    setDefault(p.maxEpochs, 5);
    setDefault(p.seed, 42L);
    setDefault(p.numPartitions, 0);
    setDefault(p.localSteps, 1);
    setDefault(p.checkpointDir, "");
    setDefault(p.checkpointInterval, 1);
    setDefault(p.validationFraction, 0.0);
    setDefault(p.earlyStoppingPatience, 0);
    setDefault(p.inferenceBatchSize, 256);
    setDefault(p.handleInvalid, HandleInvalid.ERROR.paramValue());
    setDefault(p.aggregation, Aggregation.SYNC.paramValue());
    setDefault(p.executionMode, ExecutionMode.STAGE.paramValue());
    setDefault(p.device, DeviceChoice.AUTO.paramValue());
    setDefault(p.noiseMultiplier, 1.0);
    setDefault(p.targetEpsilon, 0.0);
    setDefault(p.delta, 1e-5);
    setDefault(p.l2NormClip, 1.0);
    setDefault(p.samplingRate, 0.0);
    setDefault(p.clientFraction, 1.0);
    setDefault(p.localEpochs, 1);
    setDefault(p.proximalMu, 0.01);
    setDefault(p.serverLearningRate, 1.0);
    setDefault(p.serverOptimizer, ServerOptimizerName.SGD.paramValue());
    setDefault(p.serverMomentum, 0.9);
    setDefault(p.clientIdCol, "");
    setDefault(p.secureAggregation, false);
    setDefault(p.secureNoise, false);
    setDefault(p.allowUnmaskedSmallRounds, false);
  }

  @SuppressWarnings("unchecked")
  private S self() {
    return (S) this;
  }

  /** MLP layer sizes, input first (e.g. {784, 256, 128, 10}). */
  default IntArrayParam layers() {
    return emberParamSet().layers;
  }

  default int[] getLayers() {
    return (int[]) getOrDefault(emberParamSet().layers);
  }

  default S setLayers(int[] value) {
    set(emberParamSet().layers, value);
    return self();
  }

  /** A layer spec for {@link org.emberdl.nn.NetworkSpec}; needs {@link #inputShape()}. */
  default Param<String> network() {
    return emberParamSet().network;
  }

  default String getNetwork() {
    return (String) getOrDefault(emberParamSet().network);
  }

  default S setNetwork(String value) {
    set(emberParamSet().network, value);
    return self();
  }

  /** The shape of one example, batch dim excluded. */
  default IntArrayParam inputShape() {
    return emberParamSet().inputShape;
  }

  default int[] getInputShape() {
    return (int[]) getOrDefault(emberParamSet().inputShape);
  }

  default S setInputShape(int[] value) {
    set(emberParamSet().inputShape, value);
    return self();
  }

  /** Class name of a {@link ModuleFactory} that builds the network. */
  default Param<String> moduleFactory() {
    return emberParamSet().moduleFactory;
  }

  default String getModuleFactory() {
    return (String) getOrDefault(emberParamSet().moduleFactory);
  }

  default S setModuleFactory(String value) {
    set(emberParamSet().moduleFactory, value);
    return self();
  }

  /**
   * An ONNX model whose graph is the network and whose weights a fit starts from (fine-tuning);
   * excludes {@link #layers()}, {@link #network()} and {@link #moduleFactory()}.
   */
  default Param<String> initialModel() {
    return emberParamSet().initialModel;
  }

  default String getInitialModel() {
    return (String) getOrDefault(emberParamSet().initialModel);
  }

  default S setInitialModel(String value) {
    set(emberParamSet().initialModel, value);
    return self();
  }

  /** Parameter-name prefixes whose parameters training leaves unchanged. */
  default StringArrayParam frozenPrefixes() {
    return emberParamSet().frozenPrefixes;
  }

  default String[] getFrozenPrefixes() {
    return (String[]) getOrDefault(emberParamSet().frozenPrefixes);
  }

  default S setFrozenPrefixes(String... value) {
    set(emberParamSet().frozenPrefixes, value);
    return self();
  }

  /** The loss: cross_entropy or mse. */
  default Param<String> loss() {
    return emberParamSet().loss;
  }

  default String getLoss() {
    return (String) getOrDefault(emberParamSet().loss);
  }

  default S setLoss(String value) {
    set(emberParamSet().loss, value);
    return self();
  }

  /** adam, adamw or sgd. */
  default Param<String> optimizer() {
    return emberParamSet().optimizer;
  }

  default String getOptimizer() {
    return (String) getOrDefault(emberParamSet().optimizer);
  }

  default S setOptimizer(String value) {
    set(emberParamSet().optimizer, value);
    return self();
  }

  /** The optimizer's learning rate. */
  default DoubleParam learningRate() {
    return emberParamSet().learningRate;
  }

  default double getLearningRate() {
    return (Double) getOrDefault(emberParamSet().learningRate);
  }

  default S setLearningRate(double value) {
    set(emberParamSet().learningRate, value);
    return self();
  }

  /**
   * How the learning rate changes over the fit's optimizer steps: {@code constant} (default) or
   * {@code cosine} (annealing from {@link #learningRate()} to {@link #minLearningRate()}), after
   * {@link #warmupSteps()}.
   */
  default Param<String> lrSchedule() {
    return emberParamSet().lrSchedule;
  }

  default String getLrSchedule() {
    return (String) getOrDefault(emberParamSet().lrSchedule);
  }

  /**
   * @throws IllegalArgumentException naming the Param and its values, for an unknown schedule
   */
  default S setLrSchedule(String value) {
    LrScheduleName.of(value); // names the accepted values, which Spark's validator does not
    set(emberParamSet().lrSchedule, value);
    return self();
  }

  /** The cosine schedule's final rate. */
  default DoubleParam minLearningRate() {
    return emberParamSet().minLearningRate;
  }

  default double getMinLearningRate() {
    return (Double) getOrDefault(emberParamSet().minLearningRate);
  }

  default S setMinLearningRate(double value) {
    if (!(value >= 0) || Double.isInfinite(value)) {
      throw new IllegalArgumentException("minLearningRate must be finite and >= 0, got " + value);
    }
    set(emberParamSet().minLearningRate, value);
    return self();
  }

  /** Optimizer steps of linear warmup before the schedule (0 = none). */
  default IntParam warmupSteps() {
    return emberParamSet().warmupSteps;
  }

  default int getWarmupSteps() {
    return (Integer) getOrDefault(emberParamSet().warmupSteps);
  }

  default S setWarmupSteps(int value) {
    if (value < 0) {
      throw new IllegalArgumentException(
          "warmupSteps must be >= 0 (optimizer steps of linear warmup; 0 = none), got " + value);
    }
    set(emberParamSet().warmupSteps, value);
    return self();
  }

  /** SGD momentum. */
  default DoubleParam momentum() {
    return emberParamSet().momentum;
  }

  default double getMomentum() {
    return (Double) getOrDefault(emberParamSet().momentum);
  }

  default S setMomentum(double value) {
    set(emberParamSet().momentum, value);
    return self();
  }

  /** Weight decay. */
  default DoubleParam weightDecay() {
    return emberParamSet().weightDecay;
  }

  default double getWeightDecay() {
    return (Double) getOrDefault(emberParamSet().weightDecay);
  }

  default S setWeightDecay(double value) {
    set(emberParamSet().weightDecay, value);
    return self();
  }

  /** The global mini-batch size. */
  default IntParam batchSize() {
    return emberParamSet().batchSize;
  }

  default int getBatchSize() {
    return (Integer) getOrDefault(emberParamSet().batchSize);
  }

  default S setBatchSize(int value) {
    set(emberParamSet().batchSize, value);
    return self();
  }

  /** Passes over the training data. */
  default IntParam maxEpochs() {
    return emberParamSet().maxEpochs;
  }

  default int getMaxEpochs() {
    return (Integer) getOrDefault(emberParamSet().maxEpochs);
  }

  default S setMaxEpochs(int value) {
    set(emberParamSet().maxEpochs, value);
    return self();
  }

  /** Seed of the weights, shuffling and dropout. */
  default LongParam seed() {
    return emberParamSet().seed;
  }

  default long getSeed() {
    return (Long) getOrDefault(emberParamSet().seed);
  }

  default S setSeed(long value) {
    set(emberParamSet().seed, value);
    return self();
  }

  /** Partitions to train on; 0 keeps the input's. */
  default IntParam numPartitions() {
    return emberParamSet().numPartitions;
  }

  default int getNumPartitions() {
    return (Integer) getOrDefault(emberParamSet().numPartitions);
  }

  default S setNumPartitions(int value) {
    set(emberParamSet().numPartitions, value);
    return self();
  }

  /** Local steps per round; 1 is synchronous SGD. */
  default IntParam localSteps() {
    return emberParamSet().localSteps;
  }

  default int getLocalSteps() {
    return (Integer) getOrDefault(emberParamSet().localSteps);
  }

  default S setLocalSteps(int value) {
    set(emberParamSet().localSteps, value);
    return self();
  }

  /** Where checkpoints go; empty for none. */
  default Param<String> checkpointDir() {
    return emberParamSet().checkpointDir;
  }

  default String getCheckpointDir() {
    return (String) getOrDefault(emberParamSet().checkpointDir);
  }

  default S setCheckpointDir(String value) {
    set(emberParamSet().checkpointDir, value);
    return self();
  }

  /** Epochs between checkpoints. */
  default IntParam checkpointInterval() {
    return emberParamSet().checkpointInterval;
  }

  default int getCheckpointInterval() {
    return (Integer) getOrDefault(emberParamSet().checkpointInterval);
  }

  default S setCheckpointInterval(int value) {
    set(emberParamSet().checkpointInterval, value);
    return self();
  }

  /** Fraction of rows held out for validation. */
  default DoubleParam validationFraction() {
    return emberParamSet().validationFraction;
  }

  default double getValidationFraction() {
    return (Double) getOrDefault(emberParamSet().validationFraction);
  }

  default S setValidationFraction(double value) {
    set(emberParamSet().validationFraction, value);
    return self();
  }

  /** Epochs without improvement before stopping; 0 = off. */
  default IntParam earlyStoppingPatience() {
    return emberParamSet().earlyStoppingPatience;
  }

  default int getEarlyStoppingPatience() {
    return (Integer) getOrDefault(emberParamSet().earlyStoppingPatience);
  }

  default S setEarlyStoppingPatience(int value) {
    set(emberParamSet().earlyStoppingPatience, value);
    return self();
  }

  /** Rows per forward pass in transform. */
  default IntParam inferenceBatchSize() {
    return emberParamSet().inferenceBatchSize;
  }

  default int getInferenceBatchSize() {
    return (Integer) getOrDefault(emberParamSet().inferenceBatchSize);
  }

  default S setInferenceBatchSize(int value) {
    set(emberParamSet().inferenceBatchSize, value);
    return self();
  }

  /** error, skip or keep for invalid feature rows. */
  default Param<String> handleInvalid() {
    return emberParamSet().handleInvalid;
  }

  default String getHandleInvalid() {
    return (String) getOrDefault(emberParamSet().handleInvalid);
  }

  default S setHandleInvalid(String value) {
    set(emberParamSet().handleInvalid, value);
    return self();
  }

  /** sync, fedavg, fedprox, dp-sgd or dp-fedavg. */
  default Param<String> aggregation() {
    return emberParamSet().aggregation;
  }

  default String getAggregation() {
    return (String) getOrDefault(emberParamSet().aggregation);
  }

  default S setAggregation(String value) {
    set(emberParamSet().aggregation, value);
    return self();
  }

  /** stage or rounds: how a sync or dp-sgd fit runs on Spark ({@link ExecutionMode}). */
  default Param<String> executionMode() {
    return emberParamSet().executionMode;
  }

  default String getExecutionMode() {
    return (String) getOrDefault(emberParamSet().executionMode);
  }

  default S setExecutionMode(String value) {
    set(emberParamSet().executionMode, value);
    return self();
  }

  /**
   * auto, cpu or cuda: where tasks run ({@link DeviceChoice}); auto (the default) uses the task's
   * Spark-assigned GPU where this build can, else the CPU with a WARN.
   */
  default Param<String> device() {
    return emberParamSet().device;
  }

  default String getDevice() {
    return (String) getOrDefault(emberParamSet().device);
  }

  /**
   * @throws IllegalArgumentException naming the Param and its values, for any other value
   */
  default S setDevice(String value) {
    DeviceChoice.of(value); // names the accepted values, which Spark's validator does not
    set(emberParamSet().device, value);
    return self();
  }

  /** DP noise multiplier sigma. */
  default DoubleParam noiseMultiplier() {
    return emberParamSet().noiseMultiplier;
  }

  default double getNoiseMultiplier() {
    return (Double) getOrDefault(emberParamSet().noiseMultiplier);
  }

  default S setNoiseMultiplier(double value) {
    set(emberParamSet().noiseMultiplier, value);
    return self();
  }

  /** Privacy budget epsilon; 0 = none. */
  default DoubleParam targetEpsilon() {
    return emberParamSet().targetEpsilon;
  }

  default double getTargetEpsilon() {
    return (Double) getOrDefault(emberParamSet().targetEpsilon);
  }

  default S setTargetEpsilon(double value) {
    set(emberParamSet().targetEpsilon, value);
    return self();
  }

  /** DP delta. */
  default DoubleParam delta() {
    return emberParamSet().delta;
  }

  default double getDelta() {
    return (Double) getOrDefault(emberParamSet().delta);
  }

  default S setDelta(double value) {
    set(emberParamSet().delta, value);
    return self();
  }

  /** Per-example clipping norm C. */
  default DoubleParam l2NormClip() {
    return emberParamSet().l2NormClip;
  }

  default double getL2NormClip() {
    return (Double) getOrDefault(emberParamSet().l2NormClip);
  }

  default S setL2NormClip(double value) {
    set(emberParamSet().l2NormClip, value);
    return self();
  }

  /** DP-SGD sampling rate q; 0 = batchSize / rows. */
  default DoubleParam samplingRate() {
    return emberParamSet().samplingRate;
  }

  default double getSamplingRate() {
    return (Double) getOrDefault(emberParamSet().samplingRate);
  }

  default S setSamplingRate(double value) {
    set(emberParamSet().samplingRate, value);
    return self();
  }

  /** Fraction of clients sampled per federated round. */
  default DoubleParam clientFraction() {
    return emberParamSet().clientFraction;
  }

  default double getClientFraction() {
    return (Double) getOrDefault(emberParamSet().clientFraction);
  }

  default S setClientFraction(double value) {
    set(emberParamSet().clientFraction, value);
    return self();
  }

  /** Local epochs per federated round. */
  default IntParam localEpochs() {
    return emberParamSet().localEpochs;
  }

  default int getLocalEpochs() {
    return (Integer) getOrDefault(emberParamSet().localEpochs);
  }

  default S setLocalEpochs(int value) {
    set(emberParamSet().localEpochs, value);
    return self();
  }

  /** FedProx's proximal weight mu. */
  default DoubleParam proximalMu() {
    return emberParamSet().proximalMu;
  }

  default double getProximalMu() {
    return (Double) getOrDefault(emberParamSet().proximalMu);
  }

  default S setProximalMu(double value) {
    set(emberParamSet().proximalMu, value);
    return self();
  }

  /** The federated server's learning rate. */
  default DoubleParam serverLearningRate() {
    return emberParamSet().serverLearningRate;
  }

  default double getServerLearningRate() {
    return (Double) getOrDefault(emberParamSet().serverLearningRate);
  }

  default S setServerLearningRate(double value) {
    set(emberParamSet().serverLearningRate, value);
    return self();
  }

  /** The column naming each row's federated client; empty = partitions are clients. */
  default Param<String> clientIdCol() {
    return emberParamSet().clientIdCol;
  }

  default String getClientIdCol() {
    return (String) getOrDefault(emberParamSet().clientIdCol);
  }

  default S setClientIdCol(String value) {
    set(emberParamSet().clientIdCol, value);
    return self();
  }

  /** Whether federated rounds sum the clients' updates with secure aggregation. */
  default BooleanParam secureAggregation() {
    return emberParamSet().secureAggregation;
  }

  default boolean getSecureAggregation() {
    return (Boolean) getOrDefault(emberParamSet().secureAggregation);
  }

  default S setSecureAggregation(boolean value) {
    set(emberParamSet().secureAggregation, value);
    return self();
  }

  /** The federated server's optimizer: sgd, momentum or adam. */
  default Param<String> serverOptimizer() {
    return emberParamSet().serverOptimizer;
  }

  default String getServerOptimizer() {
    return (String) getOrDefault(emberParamSet().serverOptimizer);
  }

  default S setServerOptimizer(String value) {
    set(emberParamSet().serverOptimizer, value);
    return self();
  }

  /** The federated server optimizer's momentum. */
  default DoubleParam serverMomentum() {
    return emberParamSet().serverMomentum;
  }

  default double getServerMomentum() {
    return (Double) getOrDefault(emberParamSet().serverMomentum);
  }

  default S setServerMomentum(double value) {
    set(emberParamSet().serverMomentum, value);
    return self();
  }

  /** Whether the driver's DP noise comes from SecureRandom rather than the seeded generator. */
  default BooleanParam secureNoise() {
    return emberParamSet().secureNoise;
  }

  default boolean getSecureNoise() {
    return (Boolean) getOrDefault(emberParamSet().secureNoise);
  }

  default S setSecureNoise(boolean value) {
    set(emberParamSet().secureNoise, value);
    return self();
  }

  /** Whether a secure round that samples one client may send its update unmasked (with a WARN). */
  default BooleanParam allowUnmaskedSmallRounds() {
    return emberParamSet().allowUnmaskedSmallRounds;
  }

  default boolean getAllowUnmaskedSmallRounds() {
    return (Boolean) getOrDefault(emberParamSet().allowUnmaskedSmallRounds);
  }

  default S setAllowUnmaskedSmallRounds(boolean value) {
    set(emberParamSet().allowUnmaskedSmallRounds, value);
    return self();
  }
}
