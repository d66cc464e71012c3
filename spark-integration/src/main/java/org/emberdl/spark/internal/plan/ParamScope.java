package org.emberdl.spark.internal.plan;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Predicate;
import org.apache.spark.ml.param.Param;
import org.emberdl.spark.EmberParams;

/**
 * Which Params each setting uses, and the refusal of a fit that sets one it would ignore.
 *
 * <p>Many Params apply to some aggregations only (the privacy Params to dp-sgd and dp-fedavg, the
 * server optimizer's to the federated ones, ...). A fit that silently ignored such a Param would
 * train without the property the user asked for and then save the Param in the model's metadata as
 * if it had applied, e.g. {@code targetEpsilon=1, secureNoise=true} with {@code aggregation=sync}
 * trains without any privacy. So {@code fit} refuses, before any Spark job, a Param that is set to
 * a value other than its default where the fit would not use it.
 *
 * <p>Why "other than its default" rather than "set": a model's metadata lists every default anyway,
 * so a default value claims nothing, and {@code stage.copy(stage.extractParamMap())} marks every
 * Param as set. Switches at their off value ({@code secureNoise=false}, {@code clientIdCol=""},
 * {@code targetEpsilon=0}) are defaults, so they are always accepted.
 */
public final class ParamScope {
  private static final Set<Aggregation> DP = Aggregation.where(Aggregation::differentiallyPrivate);
  private static final Set<Aggregation> FEDERATED = Aggregation.where(Aggregation::federated);

  /** A Param, when the fit uses it, and the words that say so in the error. */
  private record Rule(
      Function<EmberParamSet, Param<?>> param, Predicate<EmberParams<?>> used, String usedBy) {}

  private static final List<Rule> RULES =
      List.of(
          aggregations(s -> s.noiseMultiplier, DP),
          aggregations(s -> s.targetEpsilon, DP),
          aggregations(s -> s.delta, DP),
          aggregations(s -> s.l2NormClip, DP),
          aggregations(s -> s.secureNoise, DP),
          aggregations(s -> s.samplingRate, EnumSet.of(Aggregation.DP_SGD)),
          aggregations(s -> s.clientFraction, FEDERATED),
          aggregations(s -> s.localEpochs, FEDERATED),
          aggregations(s -> s.serverLearningRate, FEDERATED),
          aggregations(s -> s.serverOptimizer, FEDERATED),
          aggregations(s -> s.clientIdCol, FEDERATED),
          aggregations(s -> s.secureAggregation, FEDERATED),
          aggregations(s -> s.proximalMu, EnumSet.of(Aggregation.FEDPROX)),
          // dp-sgd and dp-fedavg refuse localSteps != 1 themselves (DpPlan); federated rounds
          // train localEpochs instead
          new Rule(
              s -> s.localSteps,
              p ->
                  EnumSet.of(Aggregation.SYNC, Aggregation.DP_SGD, Aggregation.DP_FEDAVG)
                      .contains(Aggregation.of(p)),
              Aggregation.SYNC.paramValue()),
          new Rule(
              s -> s.serverMomentum,
              p ->
                  FEDERATED.contains(Aggregation.of(p))
                      && ServerOptimizerName.of(p.getServerOptimizer()).usesMomentum(),
              "serverOptimizer momentum or adam under " + Aggregation.list(FEDERATED, "or")),
          new Rule(
              s -> s.allowUnmaskedSmallRounds,
              p -> FEDERATED.contains(Aggregation.of(p)) && p.getSecureAggregation(),
              "secureAggregation=true"),
          new Rule(
              s -> s.minLearningRate,
              p -> LrScheduleName.of(p.getLrSchedule()) == LrScheduleName.COSINE,
              "lrSchedule cosine"),
          new Rule(
              s -> s.momentum,
              p -> OptimizerName.of(p.getOptimizer()) == OptimizerName.SGD,
              "optimizer sgd"),
          new Rule(
              s -> s.batchSize,
              p -> Aggregation.of(p) != Aggregation.DP_SGD || p.getSamplingRate() == 0,
              "every aggregation but dp-sgd with samplingRate > 0, which samples each row with"
                  + " probability samplingRate instead"));

  private ParamScope() {}

  /** A Param used by {@code aggregations} only. */
  private static Rule aggregations(
      Function<EmberParamSet, Param<?>> param, Set<Aggregation> aggregations) {
    return new Rule(
        param,
        p -> aggregations.contains(Aggregation.of(p)),
        Aggregation.list(aggregations, "and"));
  }

  /**
   * @throws IllegalArgumentException naming every Param of {@code p} set to a non-default value
   *     that this fit would ignore, what uses each, and the aggregation
   */
  public static void check(EmberParams<?> p) {
    List<String> ignored = new ArrayList<>();
    for (Rule rule : RULES) {
      Param<?> param = rule.param().apply(p.emberParamSet());
      if (!rule.used().test(p) && changed(p, param)) {
        ignored.add(
            param.name() + "=" + p.getOrDefault(param) + " (used only by " + rule.usedBy() + ")");
      }
    }
    if (!ignored.isEmpty()) {
      throw new IllegalArgumentException(
          "aggregation="
              + p.getAggregation()
              + " (optimizer="
              + p.getOptimizer()
              + ") would ignore "
              + String.join(", ", ignored)
              + ", yet save "
              + (ignored.size() == 1 ? "it" : "them")
              + " with the model as if applied; remove "
              + (ignored.size() == 1 ? "it" : "them")
              + " or choose a setting that uses "
              + (ignored.size() == 1 ? "it" : "them"));
    }
  }

  /** Whether {@code param} holds a value other than its default. */
  private static boolean changed(EmberParams<?> p, Param<?> param) {
    if (!p.isSet(param)) {
      return false;
    }
    Object value = p.getOrDefault(param);
    return !p.hasDefault(param) || !Objects.equals(value, p.getDefault(param).get());
  }
}
