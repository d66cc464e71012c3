package org.emberdl.spark.internal.plan;

import org.emberdl.federated.Aggregator;
import org.emberdl.federated.ServerOptimizer;
import org.emberdl.federated.dp.DpFedAvgAggregator;
import org.emberdl.federated.dp.DpSgd;
import org.emberdl.federated.dp.DpSgdAggregator;
import org.emberdl.federated.dp.NoiseSource;
import org.emberdl.federated.dp.RdpAccountant;
import org.emberdl.federated.dp.SecretSampler;
import org.emberdl.nn.Module;
import org.emberdl.onnx.OnnxModule;
import org.emberdl.onnx.proto.NodeProto;
import org.emberdl.spark.EmberParams;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The differential-privacy settings of one private fit, resolved from the stage's Params.
 *
 * <p>DP-SGD (example level): sampling rate q (each step samples every training row independently
 * with probability q), steps per epoch (1/q, rounded up), clip norm C on each example's gradient.
 * DP-FedAvg (client level): q = clientFraction (each round samples every client independently), one
 * round per "epoch", clip norm S on each client's delta. Both: noise multiplier sigma (given, or
 * calibrated so that {@code maxEpochs} epochs spend {@code targetEpsilon}), delta and the budget;
 * the accountant's step is the sampled Gaussian mechanism with (q, sigma) in both.
 *
 * <p>Under {@code secureNoise} both the noise and the sampling come from {@code SecureRandom}: the
 * noise from {@link NoiseSource#secure()}, the sample (of rows by the executors under DP-SGD, of
 * clients by the driver under DP-FedAvg) from one {@link SecretSampler} with a fresh key per fit,
 * so that neither can be recomputed from the public seed.
 *
 * @param expectedBatchSize the fixed denominator: qN examples (DP-SGD) or qK clients (DP-FedAvg)
 * @param sampler the fit's secret sampler under secureNoise, else null (sampling keyed by seed)
 */
public record DpPlan(
    boolean clientLevel,
    boolean secure,
    boolean secureNoise,
    double samplingRate,
    int roundsPerEpoch,
    double clipNorm,
    double sigma,
    double delta,
    double targetEpsilon,
    double expectedBatchSize,
    SecretSampler sampler) {
  private static final Logger LOG = LoggerFactory.getLogger(DpPlan.class);

  /**
   * The plan for {@code p}, or null when it does not train privately.
   *
   * @param clients the number of federated clients K (DP-FedAvg)
   */
  static DpPlan of(EmberParams<?> p, Module model, long trainRows, int clients) {
    Aggregation aggregation = Aggregation.of(p);
    if (!aggregation.differentiallyPrivate()) {
      return null;
    }
    boolean clientLevel = aggregation == Aggregation.DP_FEDAVG;
    if (p.getLocalSteps() != 1) {
      throw new IllegalArgumentException(
          "aggregation="
              + aggregation
              + " takes one step per round, but localSteps="
              + p.getLocalSteps()
              + ": set localSteps to 1");
    }
    DpSgd.refuseBatchNorm(model);
    refuseOnnxBatchNorm(model);
    double q;
    int rounds;
    double expected;
    if (clientLevel) {
      q = p.getClientFraction();
      rounds = 1;
      expected = q * clients;
    } else {
      q =
          p.getSamplingRate() > 0
              ? p.getSamplingRate()
              : Math.min(1.0, (double) p.getBatchSize() / trainRows);
      rounds = (int) Math.ceil(1.0 / q - 1e-9);
      expected = q * trainRows;
    }
    double target = p.getTargetEpsilon();
    double sigma = p.getNoiseMultiplier();
    long plannedSteps = (long) rounds * p.getMaxEpochs();
    if (target > 0 && !p.isSet(p.noiseMultiplier())) {
      sigma = RdpAccountant.noiseMultiplierFor(target, p.getDelta(), q, plannedSteps);
      LOG.info(
          "{}: noise multiplier {} calibrated for epsilon {} at delta {} over {} steps at q {}",
          p.getAggregation(),
          sigma,
          target,
          p.getDelta(),
          plannedSteps,
          q);
    }
    return new DpPlan(
        clientLevel,
        p.getSecureAggregation(),
        p.getSecureNoise(),
        q,
        rounds,
        p.getL2NormClip(),
        sigma,
        p.getDelta(),
        target,
        expected,
        p.getSecureNoise() ? SecretSampler.fresh() : null);
  }

  /**
   * The aggregator that adds this plan's noise (none under secure aggregation: clients do).
   *
   * @param server DP-FedAvg's server optimizer, whose state the fit checkpoints (unused by DP-SGD)
   */
  Aggregator aggregator(long seed, long firstRound, ServerOptimizer server) {
    NoiseSource noise = secureNoise ? NoiseSource.secure() : null;
    if (!clientLevel) {
      return noise != null
          ? new DpSgdAggregator(clipNorm, sigma, expectedBatchSize, noise, firstRound)
          : new DpSgdAggregator(clipNorm, sigma, expectedBatchSize, seed, firstRound);
    }
    if (secure) {
      return DpFedAvgAggregator.distributed(clipNorm, sigma, expectedBatchSize, server);
    }
    return noise != null
        ? DpFedAvgAggregator.central(clipNorm, sigma, expectedBatchSize, server, noise, firstRound)
        : DpFedAvgAggregator.central(clipNorm, sigma, expectedBatchSize, server, seed, firstRound);
  }

  /**
   * {@link DpSgd#refuseBatchNorm} for an imported ONNX graph, whose BatchNormalization nodes are
   * not {@code BatchNorm} modules: in training mode they mix the examples of a batch just the same.
   */
  static void refuseOnnxBatchNorm(Module model) {
    if (!(model instanceof OnnxModule onnx)) {
      return;
    }
    for (NodeProto node : onnx.toModelProto().getGraph().getNodeList()) {
      if (node.getOpType().equals("BatchNormalization")) {
        throw new IllegalArgumentException(
            "the ONNX node '"
                + node.getName()
                + "' (BatchNormalization) is not allowed under DP-SGD: batch norm mixes the"
                + " examples of a batch, so per-example clipping does not bound one example's"
                + " influence; use a graph with GroupNorm or LayerNorm");
      }
    }
  }
}
