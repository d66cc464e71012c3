package org.emberdl.spark.internal.plan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.function.Function;
import org.apache.spark.ml.param.Param;
import org.emberdl.spark.EmberClassifier;
import org.junit.jupiter.api.Test;

/**
 * Each option Param's values are spelled once, by its enum: the Param accepts exactly the enum's
 * names, and every name parses back to its constant.
 */
class ParamValueTest {
  private static final EmberClassifier STAGE = new EmberClassifier();

  private static <E extends Enum<E> & ParamValue> void roundTrips(
      E[] values, String[] expected, Function<String, E> parse, Param<String> param) {
    assertArrayEquals(expected, ParamValue.names(values));
    for (E e : values) {
      assertSame(e, parse.apply(e.paramValue()));
      assertTrue((Boolean) param.isValid().apply(e.paramValue()), param.name() + " accepts " + e);
    }
    assertFalse((Boolean) param.isValid().apply("bogus"));
    assertEquals(
        param.name() + "='bogus' is not one of " + String.join(", ", expected),
        assertThrows(IllegalArgumentException.class, () -> parse.apply("bogus")).getMessage());
  }

  @Test
  void aggregation() {
    roundTrips(
        Aggregation.values(),
        new String[] {"sync", "fedavg", "fedprox", "dp-sgd", "dp-fedavg"},
        Aggregation::of,
        STAGE.aggregation());
    assertEquals("dp-fedavg", Aggregation.DP_FEDAVG.toString(), "messages print the Param value");
  }

  @Test
  void aggregationGroupsInWords() {
    assertEquals(
        "fedavg, fedprox and dp-fedavg",
        Aggregation.list(Aggregation.where(Aggregation::federated), "and"));
    assertEquals(
        "dp-sgd or dp-fedavg",
        Aggregation.list(Aggregation.where(Aggregation::differentiallyPrivate), "or"));
    assertEquals(
        "sync and dp-sgd", Aggregation.list(Aggregation.where(Aggregation::canRunAsStage), "and"));
    assertEquals("fedprox", Aggregation.list(java.util.EnumSet.of(Aggregation.FEDPROX), "and"));
  }

  @Test
  void optimizer() {
    roundTrips(
        OptimizerName.values(),
        new String[] {"adam", "adamw", "sgd"},
        OptimizerName::of,
        STAGE.optimizer());
  }

  @Test
  void lrSchedule() {
    roundTrips(
        LrScheduleName.values(),
        new String[] {"constant", "cosine"},
        LrScheduleName::of,
        STAGE.lrSchedule());
  }

  @Test
  void serverOptimizer() {
    roundTrips(
        ServerOptimizerName.values(),
        new String[] {"sgd", "momentum", "adam"},
        ServerOptimizerName::of,
        STAGE.serverOptimizer());
  }

  @Test
  void handleInvalid() {
    roundTrips(
        HandleInvalid.values(),
        new String[] {"error", "skip", "keep"},
        HandleInvalid::of,
        STAGE.handleInvalid());
  }

  @Test
  void device() {
    roundTrips(
        DeviceChoice.values(),
        new String[] {"auto", "cpu", "cuda"},
        DeviceChoice::of,
        STAGE.device());
  }

  @Test
  void executionMode() {
    roundTrips(
        ExecutionMode.values(),
        new String[] {"stage", "rounds"},
        v -> ParamValue.parse(ExecutionMode.values(), "executionMode", v),
        STAGE.executionMode());
  }

  @Test
  void lossNamesFollowTheTaskKinds() {
    assertArrayEquals(new String[] {"cross_entropy", "mse"}, TaskKind.lossNames());
    assertEquals("cross_entropy", TaskKind.CLASSIFICATION.lossName());
    assertEquals("mse", TaskKind.REGRESSION.lossName());
    assertTrue((Boolean) STAGE.loss().isValid().apply("mse"));
    assertFalse((Boolean) STAGE.loss().isValid().apply("hinge"));
  }

  @Test
  void defaultsAreEnumValues() {
    assertSame(Aggregation.SYNC, Aggregation.of(STAGE.getAggregation()));
    assertSame(OptimizerName.ADAM, OptimizerName.of(STAGE.getOptimizer()));
    assertSame(ServerOptimizerName.SGD, ServerOptimizerName.of(STAGE.getServerOptimizer()));
    assertSame(HandleInvalid.ERROR, HandleInvalid.of(STAGE.getHandleInvalid()));
    assertSame(ExecutionMode.STAGE, ExecutionMode.of(STAGE));
    assertSame(
        ExecutionMode.ROUNDS, ExecutionMode.of(new EmberClassifier().setAggregation("fedavg")));
  }
}
