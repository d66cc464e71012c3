package org.emberdl.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.logging.log4j.Level;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.emberdl.spark.internal.plan.LrSchedule;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code lrSchedule}, {@code minLearningRate} and {@code warmupSteps} Params: every party that
 * runs an optimizer (the driver, a training stage's replicas, a partition's local steps, a
 * federated client) takes each step at the schedule's rate, worked out here by hand; a schedule
 * changes the weights; bad values are refused naming the Param; the Params save and load.
 */
class LrScheduleTrainingTest {
  private static final Pattern STEP =
      Pattern.compile("DEBUG optimizer step (\\d+) at learning rate (\\S+)");

  private final SparkSession spark = SparkTestSession.get();

  /**
   * 200 rows on 2 partitions in global batches of 40: 5 steps per epoch, 10 in 2 epochs; lr 0.01,
   * warming up over 2 steps, then cosine to 0.001 over the 8 steps left.
   */
  private static EmberClassifier cosine() {
    return EmberClassifierTest.mlp()
        .setBatchSize(40)
        .setMaxEpochs(2)
        .setLearningRate(0.01)
        .setLrSchedule("cosine")
        .setMinLearningRate(0.001)
        .setWarmupSteps(2);
  }

  /**
   * {@link #cosine()}'s rates by hand: warmup lr(t) = 0.01 (1/3 + (2/3) t / 2), then lr(t) = 0.001
   * + 0.009 (1 + cos(pi (t - 2) / 8)) / 2, with cos(pi/8) = 0.92387953251128676 and cos(pi/4) =
   * 0.70710678118654752.
   */
  private static final double[] COSINE_RATES = {
    0.01 / 3, // warmup from lr / 3
    0.01 * 2 / 3,
    0.01, // cosine's step 0: lr
    0.001 + 0.009 * (1 + 0.92387953251128676) / 2,
    0.001 + 0.009 * (1 + 0.70710678118654752) / 2,
    0.001 + 0.009 * (1 + 0.38268343236508977) / 2, // cos(3 pi / 8)
    0.0055, // the midpoint, (0.01 + 0.001) / 2
    0.001 + 0.009 * (1 - 0.38268343236508977) / 2,
    0.001 + 0.009 * (1 - 0.70710678118654752) / 2,
    0.001 + 0.009 * (1 - 0.92387953251128676) / 2,
  };

  /** Step -> the rates logged for it, one per optimizer that took it. */
  private static Map<Integer, List<Double>> ratesBySteps(LogCapture log) {
    Map<Integer, List<Double>> out = new TreeMap<>();
    for (String line : log.lines()) {
      Matcher m = STEP.matcher(line);
      assertTrue(m.matches(), line);
      out.computeIfAbsent(Integer.parseInt(m.group(1)), k -> new ArrayList<>())
          .add(Double.parseDouble(m.group(2)));
    }
    return out;
  }

  /** Every step 0..n-1 taken {@code counts[t]} times, each time at {@code rates[t]}. */
  private static void assertRates(
      double[] rates, int[] counts, Map<Integer, List<Double>> got, String what) {
    assertEquals(rates.length, got.size(), what + ": steps " + got.keySet());
    for (int t = 0; t < rates.length; t++) {
      List<Double> at = got.get(t);
      assertEquals(counts[t], at == null ? 0 : at.size(), what + ": optimizers at step " + t);
      for (double r : at) {
        assertEquals(rates[t], r, 1e-15, what + ": step " + t);
      }
    }
  }

  private static int[] times(int n, int count) {
    int[] c = new int[n];
    Arrays.fill(c, count);
    return c;
  }

  private static Map<Integer, List<Double>> fitLoggingRates(EmberClassifier clf, Dataset<Row> d) {
    try (LogCapture log = new LogCapture(LrSchedule.class, Level.DEBUG)) {
      clf.fit(d);
      return ratesBySteps(log);
    }
  }

  @Test
  void theDriverStepsAtTheScheduledRateInRounds() {
    Dataset<Row> data = TestData.blobs(spark, 200, 8, 3, 21, 2);
    assertRates(
        COSINE_RATES,
        times(10, 1),
        fitLoggingRates(cosine().setExecutionMode("rounds"), data),
        "rounds: the driver's optimizer");
  }

  @Test
  void theDriverAndEveryStageReplicaStepAtTheScheduledRate() {
    Dataset<Row> data = TestData.blobs(spark, 200, 8, 3, 21, 2);
    // the driver takes every step; each partition's replica every step but an epoch's last (the
    // next epoch's stage starts from the driver's weights)
    // (through the RPC endpoint, as on a cluster)
    int[] counts = {3, 3, 3, 3, 1, 3, 3, 3, 3, 1};
    spark.sparkContext().setLocalProperty("spark.ember.stageInProcess", "false");
    try {
      assertRates(
          COSINE_RATES,
          counts,
          fitLoggingRates(cosine().setExecutionMode("stage"), data),
          "stage: the driver's and the replicas' optimizers");
    } finally {
      spark.sparkContext().setLocalProperty("spark.ember.stageInProcess", null);
    }
    // in-process (local[N]'s default) the driver's step is taken once and the replicas copy it
    assertRates(
        COSINE_RATES,
        times(10, 1),
        fitLoggingRates(cosine().setExecutionMode("stage"), data),
        "stage in-process: the driver's optimizer only");
  }

  @Test
  void localStepsOfModelAveragingStepAtTheRateOfTheirGlobalBatch() {
    Dataset<Row> data = TestData.blobs(spark, 200, 8, 3, 21, 2);
    // localSteps=2: rounds of 2 batches (the last of an epoch 1); each partition takes each
    // batch's step with its own optimizer, the driver adds the averaged delta
    assertRates(
        COSINE_RATES,
        times(10, 2),
        fitLoggingRates(cosine().setLocalSteps(2).setExecutionMode("rounds"), data),
        "model averaging: the partitions' optimizers");
  }

  @Test
  void federatedClientsTakeTheRoundsRate() {
    Dataset<Row> data = TestData.blobs(spark, 200, 8, 3, 21, 2);
    // 4 rounds, 1 of warmup: 0.01 / 3, then cosine over 3 rounds: 0.01, 0.001 + 0.009 (1 +
    // cos(pi / 3)) / 2 = 0.00775, 0.001 + 0.009 (1 + cos(2 pi / 3)) / 2 = 0.00325
    double[] rates = {0.01 / 3, 0.01, 0.00775, 0.00325};
    EmberClassifier clf = cosine().setAggregation("fedavg").setMaxEpochs(4).setWarmupSteps(1);
    // each of the 2 clients (partitions) sets the round's rate once, for all its local steps
    assertRates(rates, times(4, 2), fitLoggingRates(clf, data), "fedavg: the clients' optimizers");
  }

  @Test
  void earlyStoppingDoesNotShortenTheSchedule() {
    Dataset<Row> data = ResumeTest.randomLabels(spark).cache();
    EmberClassifier clf =
        ResumeTest.earlyStopping() // lr 0.05, maxEpochs 40, patience 2 on random labels
            .setBatchSize(40)
            .setLrSchedule("cosine")
            .setMinLearningRate(0.001)
            .setWarmupSteps(2)
            .setExecutionMode("rounds");
    EmberClassificationModel model;
    Map<Integer, List<Double>> got;
    try (LogCapture log = new LogCapture(LrSchedule.class, Level.DEBUG)) {
      model = clf.fit(data);
      got = ratesBySteps(log);
    }
    TrainingSummary s = model.trainingSummary();
    assertTrue(s.stoppedEarly(), s.epochs().size() + " epochs");
    int perEpoch = s.roundsPerEpoch();
    long total = 40L * perEpoch; // the schedule spans maxEpochs, however early the fit stops
    double[] rates = new double[s.epochs().size() * perEpoch];
    for (int t = 0; t < rates.length; t++) {
      rates[t] =
          t < 2
              ? 0.05 * (1.0 / 3 + (2.0 / 3) * t / 2)
              : 0.001 + 0.049 * (1 + Math.cos(Math.PI * (t - 2) / (total - 2))) / 2;
    }
    assertRates(rates, times(rates.length, 1), got, "early stopping");
    assertTrue(rates[rates.length - 1] > 0.04, "still near the start of a 40-epoch cosine");
  }

  @Test
  void aScheduleChangesTheWeights() {
    Dataset<Row> data = TestData.blobs(spark, 200, 8, 3, 22, 2);
    EmberClassifier constant = cosine().setLrSchedule("constant").setWarmupSteps(0);
    constant.clear(constant.minLearningRate());
    byte[] c = constant.fit(data).weights();
    byte[] cos = cosine().fit(data).weights();
    byte[] warmupOnly = constant.copy(new ParamMap()).setWarmupSteps(3).fit(data).weights();
    assertFalse(Arrays.equals(c, cos), "cosine trained like constant");
    assertFalse(Arrays.equals(c, warmupOnly), "warmup trained like constant");
    // an explicit constant schedule without warmup is the default
    assertArrayEquals(
        c,
        EmberClassifierTest.mlp()
            .setBatchSize(40)
            .setMaxEpochs(2)
            .setLearningRate(0.01)
            .fit(data)
            .weights());
  }

  @Test
  void badValuesAreRefusedNamingTheParam() {
    EmberClassifier clf = new EmberClassifier();
    assertEquals(
        "lrSchedule='step' is not one of constant, cosine",
        assertThrows(IllegalArgumentException.class, () -> clf.setLrSchedule("step")).getMessage());
    // through a ParamMap, Spark's own validator refuses it
    String viaSpark =
        assertThrows(IllegalArgumentException.class, () -> clf.set(clf.lrSchedule(), "Cosine"))
            .getMessage();
    assertTrue(viaSpark.endsWith("parameter lrSchedule given invalid value Cosine."), viaSpark);
    assertEquals(
        "warmupSteps must be >= 0 (optimizer steps of linear warmup; 0 = none), got -1",
        assertThrows(IllegalArgumentException.class, () -> clf.setWarmupSteps(-1)).getMessage());
    String warmupViaSpark =
        assertThrows(IllegalArgumentException.class, () -> clf.set(clf.warmupSteps(), -1))
            .getMessage();
    assertTrue(warmupViaSpark.endsWith("parameter warmupSteps given invalid value -1."));
    assertEquals(
        "minLearningRate must be finite and >= 0, got -1.0E-4",
        assertThrows(IllegalArgumentException.class, () -> clf.setMinLearningRate(-1e-4))
            .getMessage());
    assertEquals("constant", clf.getLrSchedule(), "nothing was set");
    assertEquals(0, clf.getWarmupSteps());
    // the regressor shares the Params
    EmberRegressor reg = new EmberRegressor();
    assertEquals("constant", reg.getLrSchedule());
    assertEquals("cosine", reg.setLrSchedule("cosine").setWarmupSteps(7).getLrSchedule());
    assertEquals(7, reg.getWarmupSteps());
    assertThrows(IllegalArgumentException.class, () -> reg.setLrSchedule("linear"));
  }

  @Test
  void impossibleSchedulesAreRefusedBeforeTraining() {
    Dataset<Row> data = TestData.blobs(spark, 200, 8, 3, 23, 2);
    assertEquals(
        "warmupSteps=10 leaves lrSchedule=cosine no steps: the fit has 10 optimizer steps"
            + " (maxEpochs=2 x 5 per epoch); lower warmupSteps or raise maxEpochs",
        assertThrows(IllegalArgumentException.class, () -> cosine().setWarmupSteps(10).fit(data))
            .getMessage());
    assertEquals(
        "minLearningRate=0.02 is above learningRate=0.01: lrSchedule=cosine anneals from"
            + " learningRate down to minLearningRate",
        assertThrows(
                IllegalArgumentException.class, () -> cosine().setMinLearningRate(0.02).fit(data))
            .getMessage());
    String ignored =
        assertThrows(
                IllegalArgumentException.class, () -> cosine().setLrSchedule("constant").fit(data))
            .getMessage();
    assertTrue(
        ignored.contains("would ignore minLearningRate=0.001 (used only by lrSchedule cosine)"),
        ignored);
  }

  @Test
  void theParamsSaveAndLoadWithEstimatorAndModel(@TempDir Path dir) throws Exception {
    Dataset<Row> data = TestData.blobs(spark, 200, 8, 3, 24, 2);
    EmberClassifier clf = cosine().setMaxEpochs(1).setWarmupSteps(1);
    String est = dir.resolve("est").toString();
    clf.write().save(est);
    EmberClassifier loadedClf = EmberClassifier.load(est);
    assertEquals("cosine", loadedClf.getLrSchedule());
    assertEquals(0.001, loadedClf.getMinLearningRate());
    assertEquals(1, loadedClf.getWarmupSteps());
    EmberClassificationModel model = clf.fit(data);
    assertEquals("cosine", model.getLrSchedule(), "fit copies the Params to the model");
    String saved = dir.resolve("model").toString();
    model.write().save(saved);
    EmberClassificationModel loaded = EmberClassificationModel.load(saved);
    assertEquals("cosine", loaded.getLrSchedule());
    assertEquals(0.001, loaded.getMinLearningRate());
    assertEquals(1, loaded.getWarmupSteps());
    // defaults load as defaults
    EmberClassifier plain = new EmberClassifier().setLayers(new int[] {8, 3});
    String plainPath = dir.resolve("plain").toString();
    plain.write().save(plainPath);
    EmberClassifier plainLoaded = EmberClassifier.load(plainPath);
    assertEquals("constant", plainLoaded.getLrSchedule());
    assertEquals(0.0, plainLoaded.getMinLearningRate());
    assertEquals(0, plainLoaded.getWarmupSteps());
  }

  @Test
  void aCosineCheckpointResumesOnlyWithItsMaxEpochs(@TempDir Path dir) {
    Dataset<Row> data = TestData.blobs(spark, 200, 8, 3, 25, 2);
    String ckpt = dir.resolve("ckpt").toString();
    cosine().setCheckpointDir(ckpt).fit(data);
    String msg =
        assertThrows(
                IllegalStateException.class,
                () -> cosine().setCheckpointDir(ckpt).setMaxEpochs(3).fit(data))
            .getMessage();
    assertTrue(msg.contains("(maxEpochs: checkpoint 2, now 3)"), msg);
    assertTrue(
        msg.endsWith(
            ". lrSchedule=cosine anneals over all maxEpochs epochs: resume with the checkpoint's"
                + " maxEpochs"),
        msg);
  }
}
