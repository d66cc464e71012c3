package org.emberdl.spark.internal.plan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.emberdl.federated.UpdateKind;
import org.emberdl.nn.Module;
import org.emberdl.spark.EmberClassifier;
import org.emberdl.spark.internal.local.NetworkDefinition;
import org.emberdl.spark.internal.train.Federation;
import org.emberdl.tensor.Generator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** A fit's plan, resolved from Params and data sizes without Spark. */
class TrainingPlanTest {
  /** 100 training rows on 2 partitions of 50, which are the 2 clients. */
  private static final DataSizes SIZES = new DataSizes(100, 0, 0, 2, 50, 2);

  private static EmberClassifier stage() {
    return new EmberClassifier().setLayers(new int[] {4, 3}).setBatchSize(32);
  }

  private static TrainingPlan plan(EmberClassifier p, DataSizes sizes) {
    NetworkDefinition network = NetworkDefinition.of(p);
    try (Module model = network.build(new Generator(p.getSeed()))) {
      return TrainingPlan.resolve(p, TaskKind.CLASSIFICATION, network, model, sizes, "test-run");
    }
  }

  private static String refusal(Executable resolve) {
    return assertThrows(IllegalArgumentException.class, resolve).getMessage();
  }

  @Test
  void syncTakesCeilRowsOverBatchSizeRoundsPerEpochAsOneStageByDefault() {
    TrainingPlan plan = plan(stage(), SIZES);
    assertEquals(4, plan.roundsPerEpoch(), "ceil(100 / 32)");
    assertEquals(4, plan.config().chunksPerEpoch());
    assertEquals(UpdateKind.GRADIENT_SUM, plan.config().updateKind());
    assertEquals(OptimizerName.ADAM, plan.config().optimizer());
    assertEquals("test-run", plan.config().runKey());
    assertEquals(TrainingPlan.Transport.STAGE, plan.transport());
    assertFalse(plan.stageAskedFor(), "the default may fall back to rounds");
    assertTrue(plan(stage().setExecutionMode("stage"), SIZES).stageAskedFor());
    assertEquals(
        TrainingPlan.Transport.JOB_PER_ROUND,
        plan(stage().setExecutionMode("rounds"), SIZES).transport());
    assertNull(plan.dp());
    assertNull(plan.secure());
    assertNull(plan.newServerOptimizer());
    assertNull(plan.sample(0), "sync samples no clients");
  }

  @Test
  void everyTaskOfTheFitGetsTheDeviceParam() {
    assertEquals(DeviceChoice.AUTO, plan(stage(), SIZES).config().device());
    assertEquals(DeviceChoice.CPU, plan(stage().setDevice("cpu"), SIZES).config().device());
    assertEquals(DeviceChoice.CUDA, plan(stage().setDevice("cuda"), SIZES).config().device());
    assertFalse(
        plan(stage().setDevice("cuda"), SIZES).settings().containsKey("device"),
        "not a setting a resume must match: a checkpoint resumes on other hardware");
  }

  @Test
  void localStepsAverageModelsOverCeilChunksOverLocalStepsRounds() {
    TrainingPlan plan = plan(stage().setLocalSteps(3), SIZES);
    assertEquals(2, plan.roundsPerEpoch(), "ceil(4 chunks / 3 local steps)");
    assertEquals(3, plan.config().localSteps());
    assertEquals(UpdateKind.WEIGHTED_DELTA, plan.config().updateKind());
    assertEquals("model-averaging", plan.aggregatorName());
  }

  @Test
  void dpSgdSamplesBatchSizeOverRowsAndTakesOneOverQStepsPerEpoch() {
    TrainingPlan plan = plan(stage().setAggregation("dp-sgd").setBatchSize(25), SIZES);
    assertEquals(0.25, plan.dp().samplingRate(), "25 / 100");
    assertEquals(4, plan.roundsPerEpoch(), "1 / 0.25");
    assertEquals(0.25, plan.config().samplingRate());
    assertEquals(1.0, plan.config().clipNorm(), "l2NormClip's default");
    assertEquals(UpdateKind.CLIPPED_GRADIENT_SUM, plan.config().updateKind());
    assertEquals("0.25", plan.settings().get("samplingRate"));
  }

  @Test
  void federatedAggregationsRunOneRoundPerEpochInRoundsWhateverExecutionModeSays() {
    TrainingPlan fedprox =
        plan(stage().setAggregation("fedprox").setExecutionMode("stage").setLocalEpochs(2), SIZES);
    assertEquals(1, fedprox.roundsPerEpoch());
    assertEquals(TrainingPlan.Transport.JOB_PER_ROUND, fedprox.transport());
    assertEquals(2, fedprox.config().localEpochs());
    assertEquals(0.01, fedprox.config().proximalMu(), "proximalMu's default");
    assertEquals(UpdateKind.WEIGHTED_DELTA, fedprox.config().updateKind());
    assertTrue(fedprox.newServerOptimizer() != null, "the server step is checkpointed");
    assertEquals(0, plan(stage().setAggregation("fedavg"), SIZES).config().proximalMu());

    TrainingPlan half =
        plan(
            stage().setAggregation("fedavg").setClientFraction(0.5),
            new DataSizes(100, 0, 0, 2, 50, 4));
    for (long round = 0; round < 5; round++) {
      assertArrayEquals(Federation.sampleClients(42, round, 4, 0.5), half.sample(round));
    }
    assertEquals(
        TrainingPlan.Transport.SECURE,
        plan(stage().setAggregation("fedavg").setSecureAggregation(true), SIZES).transport());
  }

  @Test
  void refusedCombinationsNameTheirParams() {
    assertEquals(
        "no training rows (3 invalid rows skipped under handleInvalid=skip, 2 rows set aside by"
            + " validationFraction=0.5)",
        refusal(() -> plan(stage().setValidationFraction(0.5), new DataSizes(0, 2, 3, 2, 0, 2))));
    assertEquals("no training rows", refusal(() -> plan(stage(), new DataSizes(0, 0, 0, 2, 0, 2))));
    assertEquals(
        "earlyStoppingPatience=2 needs validationFraction > 0 (it watches the validation loss)",
        refusal(() -> plan(stage().setEarlyStoppingPatience(2), SIZES)));
    assertEquals(
        "earlyStoppingPatience=2 needs validation rows, but validationFraction=0.001 set aside"
            + " none of the 100 rows; raise validationFraction",
        refusal(
            () -> plan(stage().setEarlyStoppingPatience(2).setValidationFraction(0.001), SIZES)));
    assertEquals(
        "aggregation=dp-sgd takes one step per round, but localSteps=2: set localSteps to 1",
        refusal(() -> plan(stage().setAggregation("dp-sgd").setLocalSteps(2), SIZES)));
    assertEquals(
        "secureAggregation needs at least 2 clients per round (one client's update cannot be"
            + " masked), but aggregation=fedavg with clientFraction=0.25 and 4 clients samples 1"
            + " client per round: raise clientFraction to at least 0.5000 or use more clients",
        refusal(
            () ->
                plan(
                    stage()
                        .setAggregation("fedavg")
                        .setSecureAggregation(true)
                        .setClientFraction(0.25),
                    new DataSizes(100, 0, 0, 4, 25, 4))));
    assertEquals(
        "a regressor's network must have 1 output per example, this one has 3",
        refusal(() -> TrainingPlan.checkOutputs(TaskKind.REGRESSION, 3)));
    TrainingPlan.checkOutputs(TaskKind.CLASSIFICATION, 3);
    TrainingPlan.checkOutputs(TaskKind.REGRESSION, 1);
  }
}
