package org.emberdl.spark.internal.plan;

import java.util.LinkedHashMap;
import java.util.Map;
import org.emberdl.spark.EmberParams;
import org.emberdl.spark.internal.local.NetworkDefinition;

/**
 * The settings that define a fit's trajectory and its privacy claim, as a checkpoint records them
 * and a resume must match: everything that changes the weights an epoch produces (the network, the
 * data's split and partitioning, the seed, the optimizer and its hyper-parameters, the aggregation,
 * its sampling and server step), plus the privacy and security settings (the resolved sampling rate
 * and noise multiplier, clip, delta, secure aggregation and noise).
 *
 * <p>Only the settings that apply are recorded (the clip norm of a non-private fit changes
 * nothing), so that a difference always means a different fit. What may change between a fit and
 * its resume: {@code maxEpochs} (to train longer), {@code targetEpsilon} (the budget is checked
 * against the whole privacy ledger; not under {@code lrSchedule=cosine}, whose length it is),
 * {@code checkpointInterval}, and the Params that do not touch training (columns, {@code
 * inferenceBatchSize}, {@code device}: a checkpoint written on one kind of hardware resumes on
 * another).
 */
final class TrainingSettings {
  private TrainingSettings() {}

  static Map<String, String> of(
      EmberParams<?> p,
      TaskKind kind,
      NetworkDefinition network,
      long trainRows,
      long validRows,
      int partitions,
      int clients,
      DpPlan dp) {
    Map<String, String> s = new LinkedHashMap<>();
    s.put("task", kind.name().toLowerCase(java.util.Locale.ROOT));
    s.put("network", network.toString());
    s.put("trainRows", Long.toString(trainRows));
    s.put("validationRows", Long.toString(validRows));
    s.put("partitions", Integer.toString(partitions));
    s.put("seed", Long.toString(p.getSeed()));
    s.put("optimizer", p.getOptimizer());
    // The learning rate and hyper-parameters are in the optimizer's state dict too, which a resume
    // restores over the Params: a changed value would be silently ignored.
    s.put("learningRate", Double.toString(p.getLearningRate()));
    // Recorded only when not at their defaults, so that checkpoints written before these Params
    // existed (a constant rate, no warmup) still resume.
    LrScheduleName schedule = LrScheduleName.of(p.getLrSchedule());
    if (schedule != LrScheduleName.CONSTANT) {
      s.put("lrSchedule", schedule.paramValue());
    }
    if (schedule == LrScheduleName.COSINE) {
      s.put("minLearningRate", Double.toString(p.getMinLearningRate()));
      // cosine anneals over all of maxEpochs: a resume with another maxEpochs would jump rates
      s.put("maxEpochs", Integer.toString(p.getMaxEpochs()));
    }
    if (p.getWarmupSteps() > 0) {
      s.put("warmupSteps", Integer.toString(p.getWarmupSteps()));
    }
    if (OptimizerName.of(p.getOptimizer()) == OptimizerName.SGD) {
      s.put("momentum", Double.toString(p.getMomentum()));
    }
    s.put("weightDecay", Double.toString(p.getWeightDecay()));
    s.put("batchSize", Integer.toString(p.getBatchSize()));
    s.put("localSteps", Integer.toString(p.getLocalSteps()));
    if (validRows > 0) {
      s.put("earlyStoppingPatience", Integer.toString(p.getEarlyStoppingPatience()));
    }
    Aggregation aggregation = Aggregation.of(p);
    s.put("aggregation", aggregation.paramValue());
    if (aggregation.federated()) {
      s.put("clients", Integer.toString(clients));
      s.put("clientIdCol", p.getClientIdCol());
      s.put("clientFraction", Double.toString(p.getClientFraction()));
      s.put("localEpochs", Integer.toString(p.getLocalEpochs()));
      if (aggregation == Aggregation.FEDPROX) {
        s.put("proximalMu", Double.toString(p.getProximalMu()));
      }
      s.put("serverOptimizer", p.getServerOptimizer());
      s.put("serverLearningRate", Double.toString(p.getServerLearningRate()));
      if (ServerOptimizerName.of(p.getServerOptimizer()).usesMomentum()) {
        s.put("serverMomentum", Double.toString(p.getServerMomentum()));
      }
      s.put("secureAggregation", Boolean.toString(p.getSecureAggregation()));
      if (p.getSecureAggregation()) {
        s.put("allowUnmaskedSmallRounds", Boolean.toString(p.getAllowUnmaskedSmallRounds()));
      }
    }
    if (dp != null) {
      // The resolved values: a noise multiplier calibrated from targetEpsilon depends on maxEpochs.
      s.put("samplingRate", Double.toString(dp.samplingRate()));
      s.put("noiseMultiplier", Double.toString(dp.sigma()));
      s.put("l2NormClip", Double.toString(dp.clipNorm()));
      s.put("delta", Double.toString(dp.delta()));
      s.put("secureNoise", Boolean.toString(dp.secureNoise()));
    }
    return s;
  }
}
