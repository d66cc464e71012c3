package org.emberdl.spark.internal.plan;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.emberdl.spark.EmberClassifier;
import org.junit.jupiter.api.Test;

/**
 * A Param set to a non-default value that the fit would ignore is refused, naming the Param, its
 * value, what uses it and the aggregation (no Spark needed: the check runs before any job).
 */
class ParamScopeTest {
  private static String refusal(EmberClassifier stage) {
    return assertThrows(IllegalArgumentException.class, () -> ParamScope.check(stage)).getMessage();
  }

  private static EmberClassifier stage(String aggregation) {
    return new EmberClassifier().setLayers(new int[] {4, 2}).setAggregation(aggregation);
  }

  @Test
  void privacyParamsWithANonPrivateAggregationAreRefused() {
    // the example: --target-epsilon 1 --secure-noise true --clip 0.5 with the default sync
    assertEquals(
        "aggregation=sync (optimizer=adam) would ignore targetEpsilon=1.0 (used only by dp-sgd"
            + " and dp-fedavg), l2NormClip=0.5 (used only by dp-sgd and dp-fedavg),"
            + " secureNoise=true (used only by dp-sgd and dp-fedavg), yet save them with the model"
            + " as if applied; remove them or choose a setting that uses them",
        refusal(
            new EmberClassifier()
                .setLayers(new int[] {4, 2})
                .setTargetEpsilon(1)
                .setSecureNoise(true)
                .setL2NormClip(0.5)));
    for (String aggregation : new String[] {"sync", "fedavg", "fedprox"}) {
      assertEquals(
          "aggregation="
              + aggregation
              + " (optimizer=adam) would ignore noiseMultiplier=0.3 (used only by dp-sgd and"
              + " dp-fedavg), delta=1.0E-6 (used only by dp-sgd and dp-fedavg), yet save them with"
              + " the model as if applied; remove them or choose a setting that uses them",
          refusal(stage(aggregation).setNoiseMultiplier(0.3).setDelta(1e-6)));
    }
  }

  @Test
  void eachParamIsRefusedWhereItWouldBeIgnored() {
    assertEquals(
        "aggregation=dp-fedavg (optimizer=adam) would ignore samplingRate=0.1 (used only by"
            + " dp-sgd), yet save it with the model as if applied; remove it or choose a setting"
            + " that uses it",
        refusal(stage("dp-fedavg").setSamplingRate(0.1)));
    String federatedOnly = " (used only by fedavg, fedprox and dp-fedavg)";
    assertEquals(
        "aggregation=dp-sgd (optimizer=adam) would ignore clientFraction=0.5"
            + federatedOnly
            + ", localEpochs=3"
            + federatedOnly
            + ", serverLearningRate=0.5"
            + federatedOnly
            + ", serverOptimizer=adam"
            + federatedOnly
            + ", clientIdCol=client"
            + federatedOnly
            + ", secureAggregation=true"
            + federatedOnly
            + ", yet save them with the model as if applied; remove them or choose a setting that"
            + " uses them",
        refusal(
            stage("dp-sgd")
                .setClientFraction(0.5)
                .setLocalEpochs(3)
                .setServerLearningRate(0.5)
                .setServerOptimizer("adam")
                .setClientIdCol("client")
                .setSecureAggregation(true)));
    assertEquals(
        "aggregation=fedavg (optimizer=adam) would ignore proximalMu=0.1 (used only by fedprox),"
            + " yet save it with the model as if applied; remove it or choose a setting that uses"
            + " it",
        refusal(stage("fedavg").setProximalMu(0.1)));
    assertEquals(
        "aggregation=fedavg (optimizer=adam) would ignore localSteps=4 (used only by sync), yet"
            + " save it with the model as if applied; remove it or choose a setting that uses it",
        refusal(stage("fedavg").setLocalSteps(4)));
    assertEquals(
        "aggregation=fedprox (optimizer=adam) would ignore serverMomentum=0.5 (used only by"
            + " serverOptimizer momentum or adam under fedavg, fedprox or dp-fedavg), yet save it"
            + " with the model as if applied; remove it or choose a setting that uses it",
        refusal(stage("fedprox").setServerMomentum(0.5)));
    assertEquals(
        "aggregation=fedavg (optimizer=adam) would ignore allowUnmaskedSmallRounds=true (used"
            + " only by secureAggregation=true), yet save it with the model as if applied; remove"
            + " it or choose a setting that uses it",
        refusal(stage("fedavg").setAllowUnmaskedSmallRounds(true)));
    assertEquals(
        "aggregation=sync (optimizer=adamw) would ignore momentum=0.9 (used only by optimizer"
            + " sgd), yet save it with the model as if applied; remove it or choose a setting that"
            + " uses it",
        refusal(stage("sync").setOptimizer("adamw").setMomentum(0.9)));
    assertEquals(
        "aggregation=dp-sgd (optimizer=adam) would ignore batchSize=64 (used only by every"
            + " aggregation but dp-sgd with samplingRate > 0, which samples each row with"
            + " probability samplingRate instead), yet save it with the model as if applied; remove"
            + " it or choose a setting that uses it",
        refusal(stage("dp-sgd").setSamplingRate(0.01).setBatchSize(64)));
  }

  @Test
  void usedParamsDefaultsAndOffSwitchesAreAccepted() {
    assertDoesNotThrow(
        () ->
            ParamScope.check(
                stage("dp-fedavg")
                    .setNoiseMultiplier(0.5)
                    .setTargetEpsilon(2)
                    .setDelta(1e-6)
                    .setL2NormClip(0.1)
                    .setSecureNoise(true)
                    .setClientFraction(0.5)
                    .setLocalEpochs(2)
                    .setServerOptimizer("momentum")
                    .setServerMomentum(0.5)
                    .setClientIdCol("c")
                    .setSecureAggregation(true)
                    .setAllowUnmaskedSmallRounds(true)));
    assertDoesNotThrow(() -> ParamScope.check(stage("fedprox").setProximalMu(0.5)));
    assertDoesNotThrow(() -> ParamScope.check(stage("dp-sgd").setSamplingRate(0.01)));
    assertDoesNotThrow(
        () ->
            ParamScope.check(stage("sync").setOptimizer("sgd").setMomentum(0.9).setLocalSteps(3)));
    // off switches and defaults claim nothing (a model's metadata lists every default anyway)
    assertDoesNotThrow(
        () ->
            ParamScope.check(
                stage("sync")
                    .setSecureNoise(false)
                    .setSecureAggregation(false)
                    .setAllowUnmaskedSmallRounds(false)
                    .setTargetEpsilon(0)
                    .setClientIdCol("")
                    .setNoiseMultiplier(1.0)));
    // copy(extractParamMap()) marks every Param as set, at its default
    EmberClassifier fedavg = stage("fedavg").setClientFraction(0.5);
    assertDoesNotThrow(() -> ParamScope.check(fedavg.copy(fedavg.extractParamMap())));
  }
}
