package org.emberdl.spark.internal.stage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.logging.log4j.Level;
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
import org.emberdl.spark.ResumeTest;
import org.emberdl.spark.SparkTestSession;
import org.emberdl.spark.TestData;
import org.emberdl.spark.internal.data.PartitionData;
import org.emberdl.tensor.memory.Allocators;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code executionMode=stage} trains to the rounds path's weights and per-epoch metrics bit for
 * bit, also across a failed and retried barrier stage, and refuses clearly what it cannot run.
 */
class StageTrainingTest {
  private final SparkSession spark = SparkTestSession.get();

  @AfterEach
  void clearHook() {
    spark.sparkContext().setLocalProperty(StageTask.FAIL_AT_PROPERTY, null);
  }

  /** The descriptions of the jobs started while it is registered. */
  private static final class Jobs extends SparkListener implements AutoCloseable {
    private final SparkSession spark;
    final List<String> descriptions = new CopyOnWriteArrayList<>();
    final AtomicInteger retries = new AtomicInteger();
    private final long createdAt = System.currentTimeMillis();

    Jobs(SparkSession spark) {
      this.spark = spark;
      spark.sparkContext().addSparkListener(this);
    }

    @Override
    public void onJobStart(SparkListenerJobStart start) {
      if (start.time() < createdAt) {
        // an earlier fit's job whose event the (asynchronous) listener bus delivers late
        return;
      }
      String d =
          start.properties() == null
              ? null
              : start.properties().getProperty("spark.job.description");
      descriptions.add(String.valueOf(d));
    }

    @Override
    public void onStageSubmitted(SparkListenerStageSubmitted submitted) {
      if (submitted.stageInfo().attemptNumber() > 0) {
        retries.incrementAndGet();
      }
    }

    /** Stage attempts after the first, once {@code expected} have been seen. */
    int retriedStages(int expected) throws InterruptedException {
      long deadline = System.currentTimeMillis() + 5000; // the listener bus is asynchronous
      while (retries.get() < expected && System.currentTimeMillis() < deadline) {
        Thread.sleep(20);
      }
      Thread.sleep(100);
      return retries.get();
    }

    /** The jobs whose description contains {@code text}, once {@code expected} have been seen. */
    long count(String text, long expected) throws InterruptedException {
      long deadline = System.currentTimeMillis() + 5000; // the listener bus is asynchronous
      long n;
      while ((n = descriptions.stream().filter(d -> d.contains(text)).count()) < expected
          && System.currentTimeMillis() < deadline) {
        Thread.sleep(20);
      }
      Thread.sleep(100);
      return descriptions.stream().filter(d -> d.contains(text)).count();
    }

    @Override
    public void close() {
      spark.sparkContext().removeSparkListener(this);
    }
  }

  private static void assertSameTraining(
      EmberClassificationModel rounds, EmberClassificationModel stage) {
    assertArrayEquals(rounds.weights(), stage.weights(), "stage weights != rounds weights");
    List<EpochMetrics> a = rounds.trainingSummary().epochs();
    List<EpochMetrics> b = stage.trainingSummary().epochs();
    assertEquals(a.size(), b.size());
    for (int i = 0; i < a.size(); i++) {
      EpochMetrics x = a.get(i);
      EpochMetrics y = b.get(i);
      String at = "epoch " + x.epoch();
      assertEquals(x.epoch(), y.epoch(), at);
      // assertEquals(double, double) compares bit patterns via Double.compare: NaN == NaN
      assertEquals(x.loss(), y.loss(), 0.0, at);
      assertEquals(x.accuracy(), y.accuracy(), 0.0, at);
      assertEquals(x.validationLoss(), y.validationLoss(), 0.0, at);
      assertEquals(x.validationAccuracy(), y.validationAccuracy(), 0.0, at);
      assertEquals(x.epsilon(), y.epsilon(), 0.0, at);
    }
    assertEquals(rounds.trainingSummary().bestEpoch(), stage.trainingSummary().bestEpoch());
    assertEquals(rounds.trainingSummary().stoppedEarly(), stage.trainingSummary().stoppedEarly());
  }

  /**
   * Fits in both modes, the stage's tasks reaching the driver in-process (local mode's default) and
   * through Spark's RPC; checks that the stage path ran one barrier job per epoch.
   */
  private void assertStageEqualsRounds(EmberClassifier clf, Dataset<Row> data) throws Exception {
    EmberClassificationModel rounds = clf.copy(new ParamMap()).setExecutionMode("rounds").fit(data);
    for (boolean inProcess : new boolean[] {true, false}) {
      spark.sparkContext().setLocalProperty(LocalStages.IN_PROCESS_CONF, "" + inProcess);
      long direct = LocalStages.messages();
      EmberClassificationModel stage;
      try (Jobs jobs = new Jobs(spark)) {
        stage = clf.copy(new ParamMap()).setExecutionMode("stage").fit(data);
        int epochs = stage.trainingSummary().epochs().size();
        assertEquals(epochs, jobs.count("training stage", epochs));
        assertEquals(0, jobs.count(", round ", 0), "no per-round job in stage mode");
      } finally {
        spark.sparkContext().setLocalProperty(LocalStages.IN_PROCESS_CONF, null);
      }
      assertEquals(inProcess, LocalStages.messages() > direct, "in-process: " + inProcess);
      assertSameTraining(rounds, stage);
    }
  }

  @Test
  void stageEqualsRoundsWithAdam() throws Exception {
    Dataset<Row> data = TestData.blobs(spark, 200, 8, 3, 11, 2);
    assertStageEqualsRounds(EmberClassifierTest.mlp().setBatchSize(24), data);
  }

  @Test
  void stageEqualsRoundsWithSgdMomentumAndUnevenPartitions() throws Exception {
    // 3 input partitions coalesced into numPartitions=2 unequal ones
    Dataset<Row> data = TestData.blobs(spark, 173, 8, 3, 12, 3);
    assertStageEqualsRounds(
        EmberClassifierTest.mlp()
            .setOptimizer("sgd")
            .setMomentum(0.9)
            .setLearningRate(0.05)
            .setBatchSize(20),
        data);
  }

  @Test
  void stageEqualsRoundsWithValidationAndEarlyStopping() throws Exception {
    Dataset<Row> data = TestData.blobs(spark, 120, 8, 3, 3, 2);
    EmberClassifier clf = ResumeTest.earlyStopping().setMaxEpochs(12);
    assertStageEqualsRounds(clf, data);
  }

  @Test
  void stageEqualsRoundsWithModelAveraging() throws Exception {
    Dataset<Row> data = TestData.blobs(spark, 160, 8, 3, 4, 2);
    assertStageEqualsRounds(EmberClassifierTest.mlp().setLocalSteps(2).setBatchSize(16), data);
  }

  @Test
  void stageEqualsRoundsWithBatchNormBuffers() throws Exception {
    // the tasks apply each step themselves: the running statistics travel in the step
    Dataset<Row> data = TestData.blobs(spark, 150, 8, 3, 5, 2);
    assertStageEqualsRounds(
        EmberClassifierTest.mlp()
            .setNetwork("linear(16), batchnorm, relu, linear(3)")
            .setInputShape(new int[] {8})
            .setBatchSize(20),
        data);
  }

  @Test
  void stageEqualsRoundsWithDpSgd() throws Exception {
    Dataset<Row> data = TestData.blobs(spark, 160, 8, 3, 5, 2);
    EmberClassifier clf =
        EmberClassifierTest.mlp().setAggregation("dp-sgd").setSamplingRate(0.1).setMaxEpochs(2);
    clf.clear(clf.batchSize()); // dp-sgd with a sampling rate has no fixed batch
    assertStageEqualsRounds(clf, data);
  }

  /** Cosine annealing after a warmup: each step's rate depends on its global step number. */
  private static EmberClassifier cosine(EmberClassifier clf) {
    return clf.setLrSchedule("cosine").setMinLearningRate(1e-4).setWarmupSteps(3);
  }

  @Test
  void stageEqualsRoundsWithCosineScheduleAndWarmup() throws Exception {
    // the driver and the replicas each set the global step's rate before applying it
    Dataset<Row> data = TestData.blobs(spark, 200, 8, 3, 16, 2);
    assertStageEqualsRounds(cosine(EmberClassifierTest.mlp().setBatchSize(24)), data);
  }

  @Test
  void stageEqualsRoundsWithCosineScheduleUnderSgdModelAveragingAndDpSgd() throws Exception {
    Dataset<Row> data = TestData.blobs(spark, 160, 8, 3, 17, 2);
    assertStageEqualsRounds(
        cosine(
            EmberClassifierTest.mlp()
                .setOptimizer("sgd")
                .setMomentum(0.9)
                .setLearningRate(0.05)
                .setBatchSize(20)),
        data);
    assertStageEqualsRounds(
        cosine(EmberClassifierTest.mlp().setLocalSteps(2).setBatchSize(16)), data);
    EmberClassifier dp =
        cosine(
            EmberClassifierTest.mlp()
                .setAggregation("dp-sgd")
                .setSamplingRate(0.1)
                .setMaxEpochs(2));
    dp.clear(dp.batchSize());
    assertStageEqualsRounds(dp, data);
  }

  @Test
  void aCosineFitRetriedMidStageOrResumedAfterAFailedEpochGoesOnAtTheRightRates(@TempDir Path dir)
      throws Exception {
    Dataset<Row> data = TestData.blobs(spark, 200, 8, 3, 18, 2);
    EmberClassifier clf =
        cosine(EmberClassifierTest.mlp().setBatchSize(20).setMaxEpochs(4))
            .setExecutionMode("stage");
    EmberClassificationModel undisturbed = clf.copy(new ParamMap()).fit(data);
    // a retried stage resumes at step 4 of epoch 2, the replicas at that step's rate
    spark.sparkContext().setLocalProperty(StageTask.FAIL_AT_PROPERTY, "1:1:4");
    assertSameTraining(undisturbed, clf.copy(new ParamMap()).fit(data));
    // a fit that fails in epoch 3 (every attempt) after checkpointing epochs 1 and 2 ...
    String ckpt = dir.resolve("ckpt").toString();
    spark.sparkContext().setLocalProperty(StageTask.FAIL_AT_PROPERTY, "0:2:1:*");
    assertThrows(Exception.class, () -> clf.copy(new ParamMap()).setCheckpointDir(ckpt).fit(data));
    spark.sparkContext().setLocalProperty(StageTask.FAIL_AT_PROPERTY, null);
    // ... resumes from epoch 2's checkpoint at epoch 3's rates, to the undisturbed weights
    EmberClassificationModel resumed;
    try (LogCapture log =
        new LogCapture(
            org.emberdl.spark.internal.io.Checkpoints.class, org.apache.logging.log4j.Level.INFO)) {
      resumed = clf.copy(new ParamMap()).setCheckpointDir(ckpt).fit(data);
      assertEquals(1, log.containing("(2 epochs done)").size(), log.lines().toString());
    }
    assertArrayEquals(undisturbed.weights(), resumed.weights(), "resumed != undisturbed");
  }

  @Test
  void stageResumesFromRoundsCheckpointToTheUninterruptedWeights(@TempDir Path dir)
      throws Exception {
    Dataset<Row> data = TestData.blobs(spark, 150, 8, 3, 6, 2);
    EmberClassifier clf = EmberClassifierTest.mlp().setMaxEpochs(4);
    EmberClassificationModel uninterrupted =
        clf.copy(new ParamMap()).setExecutionMode("rounds").fit(data);
    String ckpt = dir.resolve("ckpt").toString();
    clf.copy(new ParamMap())
        .setExecutionMode("stage")
        .setCheckpointDir(ckpt)
        .setMaxEpochs(2)
        .fit(data);
    EmberClassificationModel resumed =
        clf.copy(new ParamMap()).setExecutionMode("stage").setCheckpointDir(ckpt).fit(data);
    assertArrayEquals(uninterrupted.weights(), resumed.weights(), "resumed != uninterrupted");
  }

  @Test
  void eachPartitionIsCopiedToArrowOnceAFitAndFreedWhenItEnds() throws Exception {
    Dataset<Row> data = TestData.blobs(spark, 120, 8, 3, 19, 2);
    EmberClassifier clf =
        EmberClassifierTest.mlp().setBatchSize(20).setMaxEpochs(3).setExecutionMode("stage");
    long before = Allocators.cpuAllocatedBytes();
    try (LogCapture log = new LogCapture(PartitionData.class, Level.DEBUG)) {
      clf.fit(data);
      // three epochs, three stages: the second and third take the copy the first one kept
      List<String> copies = log.containing("copied to Arrow buffers");
      assertEquals(2, copies.size(), String.join("\n", copies));
    }
    // the fit's end released what the tasks kept
    assertEquals(before, Allocators.cpuAllocatedBytes());
  }

  @Test
  void aFailedTaskFreesItsArrowRowsAndItsRetryCopiesAgain() throws Exception {
    Dataset<Row> data = TestData.blobs(spark, 120, 8, 3, 20, 2);
    EmberClassifier clf =
        EmberClassifierTest.mlp().setBatchSize(20).setMaxEpochs(2).setExecutionMode("stage");
    long before = Allocators.cpuAllocatedBytes();
    // Partition 0 fails at step 2 of epoch 2, which fails the stage attempt's other task too
    // (Spark kills a failed barrier stage's tasks): each freed the rows it took, and the retried
    // attempt's tasks copy anew. Epoch 1 copied each partition once.
    spark.sparkContext().setLocalProperty(StageTask.FAIL_AT_PROPERTY, "0:1:2");
    try (LogCapture log = new LogCapture(PartitionData.class, Level.DEBUG)) {
      clf.fit(data);
      assertEquals(
          List.of(0, 0, 1, 1),
          log.containing("copied to Arrow buffers").stream()
              .map(l -> Integer.parseInt(l.replaceAll("^.*partition (\\d+):.*$", "$1")))
              .sorted()
              .toList());
    }
    assertEquals(before, Allocators.cpuAllocatedBytes());
  }

  @Test
  void aTaskFailureMidStageRetriesTheStageToTheUndisturbedWeights() throws Exception {
    Dataset<Row> data = TestData.blobs(spark, 200, 8, 3, 8, 2);
    EmberClassifier clf = EmberClassifierTest.mlp().setBatchSize(20).setExecutionMode("stage");
    EmberClassificationModel undisturbed = clf.copy(new ParamMap()).fit(data);
    // partition 1 fails after computing step 4 of epoch 2 (0-based 1) in the stage's first attempt
    spark.sparkContext().setLocalProperty(StageTask.FAIL_AT_PROPERTY, "1:1:4");
    EmberClassificationModel retried;
    try (Jobs jobs = new Jobs(spark)) {
      retried = clf.copy(new ParamMap()).fit(data);
      assertEquals(1, jobs.retriedStages(1), "one retried stage attempt");
    }
    assertSameTraining(undisturbed, retried);
  }

  @Test
  void explicitStageWithMoreParititionsThanTaskSlotsIsRefusedBeforeTraining() {
    Dataset<Row> data = TestData.blobs(spark, 60, 8, 3, 9, 3);
    EmberClassifier clf = EmberClassifierTest.mlp().setNumPartitions(3).setExecutionMode("stage");
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> clf.fit(data));
    assertEquals(
        "executionMode=stage trains the 3 partitions as one Spark barrier stage, which needs 3 task"
            + " slots at once, but the cluster has 2 (1 executor(s), 2 cores, spark.task.cpus=1):"
            + " set numPartitions to at most 2 or add executors or cores, or set executionMode=rounds",
        e.getMessage());
  }

  @Test
  void federatedAggregationsTrainInRoundsWhateverExecutionModeSays() throws Exception {
    Dataset<Row> data = TestData.blobs(spark, 60, 8, 3, 10, 2);
    EmberClassifier clf = EmberClassifierTest.mlp().setAggregation("fedavg").setMaxEpochs(2);
    EmberClassificationModel rounds = clf.copy(new ParamMap()).setExecutionMode("rounds").fit(data);
    EmberClassificationModel asked;
    try (Jobs jobs = new Jobs(spark)) {
      asked = clf.copy(new ParamMap()).setExecutionMode("stage").fit(data);
      assertEquals(2, jobs.count(", round 1/1", 2));
      assertEquals(0, jobs.count("training stage", 0));
    }
    assertSameTraining(rounds, asked);
  }

  @Test
  void byDefaultTooFewSlotsFallBackToRoundsWithAWarning() throws Exception {
    Dataset<Row> data = TestData.blobs(spark, 90, 8, 3, 13, 3);
    EmberClassifier clf = EmberClassifierTest.mlp().setNumPartitions(3).setMaxEpochs(2);
    assertEquals("stage", clf.getExecutionMode(), "the default");
    EmberClassificationModel rounds = clf.copy(new ParamMap()).setExecutionMode("rounds").fit(data);
    EmberClassificationModel byDefault;
    try (LogCapture log = new LogCapture(StageTraining.class);
        Jobs jobs = new Jobs(spark)) {
      byDefault = clf.copy(new ParamMap()).fit(data);
      assertEquals(
          List.of(
              "WARN executionMode=stage trains the 3 partitions as one Spark barrier stage, which"
                  + " needs 3 task slots at once, but the cluster has 2 (1 executor(s), 2 cores,"
                  + " spark.task.cpus=1): set numPartitions to at most 2 or add executors or cores;"
                  + " training in rounds (one Spark job per step, slower) instead"),
          log.containing("barrier"));
      assertEquals(0, jobs.count("training stage", 0));
    }
    assertSameTraining(rounds, byDefault);
  }

  @Test
  void aCoalescedDataFrameIsRefusedExplicitlyAndTrainsInRoundsByDefault() throws Exception {
    Dataset<Row> data = TestData.blobs(spark, 90, 8, 3, 14, 2).coalesce(1);
    EmberClassifier clf = EmberClassifierTest.mlp().setNumPartitions(0).setMaxEpochs(2);
    IllegalStateException e =
        assertThrows(
            IllegalStateException.class,
            () -> clf.copy(new ParamMap()).setExecutionMode("stage").fit(data));
    assertEquals(
        "executionMode=stage needs the data's partitions to come from a shuffle or a scan, but the"
            + " plan turns 2 partitions into 1 (CoalescedRDD) without a shuffle, which Spark's"
            + " barrier mode refuses (SPARK-24820): set numPartitions (Ember then repartitions), or"
            + " set executionMode=rounds",
        e.getMessage());
    EmberClassificationModel rounds = clf.copy(new ParamMap()).setExecutionMode("rounds").fit(data);
    try (LogCapture log = new LogCapture(StageTraining.class)) {
      assertSameTraining(rounds, clf.copy(new ParamMap()).fit(data));
      assertEquals(1, log.containing("CoalescedRDD").size(), "one WARN");
    }
    // with numPartitions the data is repartitioned and trains as a stage
    assertStageEqualsRounds(clf.copy(new ParamMap()).setNumPartitions(2), data);
  }

  @Test
  void aTaskThatFailsInEveryAttemptEndsTheFitWithItsError() {
    Dataset<Row> data = TestData.blobs(spark, 100, 8, 3, 15, 2);
    spark.sparkContext().setLocalProperty(StageTask.FAIL_AT_PROPERTY, "0:0:2:*");
    Exception e =
        assertThrows(
            Exception.class, () -> EmberClassifierTest.mlp().setExecutionMode("stage").fit(data));
    // Spark retries the stage (spark.stage.maxConsecutiveAttempts, 4) and then fails the job with
    // the task's own error in its message
    assertTrue(
        e.getMessage().contains("injected failure of partition 0 at epoch 0 step 2"),
        e.getMessage());
  }
}
