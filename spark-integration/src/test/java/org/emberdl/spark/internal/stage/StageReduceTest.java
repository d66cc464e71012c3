package org.emberdl.spark.internal.stage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.core.config.Configurator;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerStageSubmitted;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.emberdl.spark.EmberClassificationModel;
import org.emberdl.spark.EmberClassifier;
import org.emberdl.spark.EmberClassifierTest;
import org.emberdl.spark.EpochMetrics;
import org.emberdl.spark.LogCapture;
import org.emberdl.spark.SparkTestSession;
import org.emberdl.spark.TestData;
import org.emberdl.spark.internal.data.SparkBlocks;
import org.emberdl.spark.internal.plan.StageReduce;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code spark.ember.stageReduce=tasks}: the tasks reduce-scatter each step's updates among
 * themselves, the driver sees only the chunks of the sum and sends each task its chunk of the
 * weights; the fit's weights and metrics are bit for bit those of {@code driver} and of the rounds
 * path, also across a retried stage, the driver moves about {@code 1/P} of the bytes, and no block
 * is left behind.
 */
class StageReduceTest {
  private final SparkSession spark = SparkTestSession.get();

  @BeforeEach
  void logStages() {
    Configurator.setLevel(StageTraining.class.getName(), Level.INFO);
  }

  @AfterEach
  void clear() {
    spark.sparkContext().setLocalProperty(StageTask.FAIL_AT_PROPERTY, null);
    spark.conf().unset(StageReduce.CONF);
    Configurator.setLevel(StageTraining.class.getName(), Level.WARN);
  }

  /** Jobs started and stage attempts retried while it is registered. */
  private static final class Jobs extends SparkListener implements AutoCloseable {
    private final SparkSession spark;
    private final long createdAt = System.currentTimeMillis();
    final List<String> descriptions = new CopyOnWriteArrayList<>();
    final AtomicInteger retries = new AtomicInteger();

    Jobs(SparkSession spark) {
      this.spark = spark;
      spark.sparkContext().addSparkListener(this);
    }

    @Override
    public void onJobStart(SparkListenerJobStart start) {
      if (start.time() >= createdAt) {
        descriptions.add(
            String.valueOf(
                start.properties() == null
                    ? null
                    : start.properties().getProperty("spark.job.description")));
      }
    }

    @Override
    public void onStageSubmitted(SparkListenerStageSubmitted submitted) {
      if (submitted.stageInfo().attemptNumber() > 0) {
        retries.incrementAndGet();
      }
    }

    @Override
    public void close() throws InterruptedException {
      Thread.sleep(300); // the listener bus is asynchronous
      spark.sparkContext().removeSparkListener(this);
    }
  }

  private EmberClassificationModel fit(EmberClassifier clf, Dataset<Row> data, String reduce) {
    if (reduce == null) {
      spark.conf().unset(StageReduce.CONF);
    } else {
      spark.conf().set(StageReduce.CONF, reduce);
    }
    return clf.copy(new ParamMap()).fit(data);
  }

  private static void assertSameTraining(
      EmberClassificationModel expected, EmberClassificationModel actual, String what) {
    assertArrayEquals(expected.weights(), actual.weights(), what + ": weights");
    List<EpochMetrics> a = expected.trainingSummary().epochs();
    List<EpochMetrics> b = actual.trainingSummary().epochs();
    assertEquals(a.size(), b.size(), what);
    for (int i = 0; i < a.size(); i++) {
      String at = what + ", epoch " + i;
      assertEquals(a.get(i).loss(), b.get(i).loss(), 0.0, at);
      assertEquals(a.get(i).accuracy(), b.get(i).accuracy(), 0.0, at);
      assertEquals(a.get(i).validationLoss(), b.get(i).validationLoss(), 0.0, at);
      assertEquals(a.get(i).epsilon(), b.get(i).epsilon(), 0.0, at);
    }
  }

  private static void assertNoBlockLeft() {
    assertEquals(List.of(), SparkBlocks.names(BlockAllReduce.PREFIX), "all-reduce blocks left");
  }

  @Test
  void tasksReduceTrainsToTheDriversAndTheRoundsWeightsMovingHalfTheBytesThroughTheDriver()
      throws Exception {
    Dataset<Row> data = TestData.blobs(spark, 200, 8, 3, 21, 2);
    EmberClassifier clf = EmberClassifierTest.mlp().setBatchSize(24); // Adam, 2 partitions
    EmberClassificationModel rounds =
        fit(clf.copy(new ParamMap()).setExecutionMode("rounds"), data, null);
    EmberClassifier stage = clf.copy(new ParamMap()).setExecutionMode("stage");
    EmberClassificationModel driver;
    EmberClassificationModel tasks;
    EmberClassificationModel inProcess;
    try (LogCapture log = new LogCapture(StageTraining.class)) {
      // through the RPC endpoint, where every update and step travels as bytes
      spark.sparkContext().setLocalProperty(LocalStages.IN_PROCESS_CONF, "false");
      try {
        driver = fit(stage, data, "driver");
        tasks = fit(stage, data, "tasks");
      } finally {
        spark.sparkContext().setLocalProperty(LocalStages.IN_PROCESS_CONF, null);
      }
      // local[2]'s default: the tasks hand their updates over and take the steps as objects
      inProcess = fit(stage, data, "driver");
      // The MLP 8-16-3 has 8*16+16 + 16*3+3 = 195 parameters, no buffers; 2 partitions.
      // driver: 2 Submits of 8 (header) + 12 (partition, attempt, step) + 40 (times) + 24
      // (examples, loss, correct) + 4+780 + 4 (the arrays) = 872 bytes in, 2 steps (the tasks
      // apply them) of 8 + 4 (kind) + 4+780 + 4 (no buffers) = 800 bytes out. tasks: 2 Shards of 8
      // + 24 (6 ints) + 40 + 24 + 4*98 or 4*97 bytes =
      // 192 + 780 in, 2 WeightsChunks of 8 + 8 + 4*98 or 4*97 = 32 + 780 out.
      List<String> lines = log.containing("driver bytes per step");
      assertEquals(9, lines.size(), lines.toString()); // 3 epochs each
      for (int i = 0; i < 3; i++) {
        assertTrue(
            lines
                .get(i)
                .contains(
                    "(spark.ember.stageReduce=driver, driver bytes per step: in 1744,"
                        + " out 1600)"),
            lines.get(i));
        assertTrue(
            lines
                .get(3 + i)
                .contains(
                    "(spark.ember.stageReduce=tasks, driver bytes per step: in" + " 972, out 812)"),
            lines.get(3 + i));
        assertTrue(
            lines
                .get(6 + i)
                .contains("(spark.ember.stageReduce=driver, driver bytes per step: in 0, out 0)"),
            lines.get(6 + i));
      }
    }
    assertSameTraining(rounds, inProcess, "in-process vs rounds");
    assertSameTraining(rounds, driver, "driver vs rounds");
    assertSameTraining(rounds, tasks, "tasks vs rounds");
    assertNoBlockLeft();
  }

  @Test
  void tasksReduceWithSgdMomentumValidationAndUnevenPartitionsEqualsRounds() throws Exception {
    Dataset<Row> data = TestData.blobs(spark, 173, 8, 3, 22, 3);
    EmberClassifier clf =
        EmberClassifierTest.mlp()
            .setOptimizer("sgd")
            .setMomentum(0.9)
            .setLearningRate(0.05)
            .setBatchSize(20)
            .setValidationFraction(0.2);
    EmberClassificationModel rounds =
        fit(clf.copy(new ParamMap()).setExecutionMode("rounds"), data, null);
    EmberClassificationModel tasks =
        fit(clf.copy(new ParamMap()).setExecutionMode("stage"), data, "tasks");
    assertSameTraining(rounds, tasks, "tasks vs rounds");
    assertNoBlockLeft();
  }

  @Test
  void tasksReduceWithDpSgdEqualsRounds() throws Exception {
    // the noise is added once, by the driver's aggregator, to the sum assembled from the chunks
    Dataset<Row> data = TestData.blobs(spark, 160, 8, 3, 23, 2);
    EmberClassifier clf =
        EmberClassifierTest.mlp().setAggregation("dp-sgd").setSamplingRate(0.1).setMaxEpochs(2);
    clf.clear(clf.batchSize());
    EmberClassificationModel rounds =
        fit(clf.copy(new ParamMap()).setExecutionMode("rounds"), data, null);
    EmberClassificationModel tasks =
        fit(clf.copy(new ParamMap()).setExecutionMode("stage"), data, "tasks");
    assertSameTraining(rounds, tasks, "dp-sgd tasks vs rounds");
    assertNoBlockLeft();
  }

  @Test
  void aTaskFailureMidStageWithTasksReduceRetriesToTheUndisturbedWeightsAndLeavesNoBlock()
      throws Exception {
    Dataset<Row> data = TestData.blobs(spark, 200, 8, 3, 24, 2);
    EmberClassifier clf = EmberClassifierTest.mlp().setBatchSize(20).setExecutionMode("stage");
    EmberClassificationModel undisturbed =
        fit(clf.copy(new ParamMap()).setExecutionMode("rounds"), data, null);
    // partition 1 fails after computing step 4 of epoch 2 (0-based 1), before its reduce-scatter,
    // in the stage's first attempt
    spark.sparkContext().setLocalProperty(StageTask.FAIL_AT_PROPERTY, "1:1:4");
    EmberClassificationModel retried;
    try (Jobs jobs = new Jobs(spark)) {
      retried = fit(clf, data, "tasks");
      long deadline = System.currentTimeMillis() + 5000;
      while (jobs.retries.get() < 1 && System.currentTimeMillis() < deadline) {
        Thread.sleep(20);
      }
      assertEquals(1, jobs.retries.get(), "one retried stage attempt");
    }
    assertSameTraining(undisturbed, retried, "retried tasks vs rounds");
    assertNoBlockLeft();
  }

  @Test
  void anUnknownStageReduceFailsBeforeAnyJobNamingTheConfAndTheAcceptedValues() throws Exception {
    Dataset<Row> data = TestData.blobs(spark, 60, 8, 3, 25, 2);
    try (Jobs jobs = new Jobs(spark)) {
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> fit(EmberClassifierTest.mlp().setExecutionMode("stage"), data, "ring"));
      assertEquals("spark.ember.stageReduce='ring' is not one of driver, tasks", e.getMessage());
      Thread.sleep(300);
      assertEquals(List.of(), jobs.descriptions, "no Spark job before the refusal");
    }
  }
}
