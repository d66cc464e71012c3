package org.emberdl.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.apache.spark.SparkConf;
import org.apache.spark.ml.evaluation.MulticlassClassificationEvaluator;
import org.apache.spark.ml.evaluation.RegressionEvaluator;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.emberdl.autograd.Tensor;
import org.emberdl.nn.Linear;
import org.emberdl.nn.Module;
import org.emberdl.spark.internal.local.ExecutorEngine;
import org.emberdl.tensor.Generator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainingOptionsTest {
  private final SparkSession spark = SparkTestSession.get();

  @AfterEach
  void releaseReplicas() {
    ExecutorEngine.get().releaseAll();
  }

  private static double accuracy(Dataset<Row> scored) {
    return new MulticlassClassificationEvaluator().setMetricName("accuracy").evaluate(scored);
  }

  @Test
  void resumingFromACheckpointGivesTheUninterruptedWeights(@TempDir Path dir) throws Exception {
    Dataset<Row> data = TestData.blobs(spark, 200, 8, 3, 9, 2);
    EmberClassifier clf = EmberClassifierTest.mlp().setMaxEpochs(4);
    byte[] uninterrupted = clf.fit(data).weights();

    String ckpt = dir.resolve("ckpt").toString();
    // A first run "dies" after 2 epochs (it was asked for 2), leaving checkpoints behind.
    clf.copy(new org.apache.spark.ml.param.ParamMap())
        .setCheckpointDir(ckpt)
        .setMaxEpochs(2)
        .fit(data);
    assertTrue(Files.isDirectory(dir.resolve("ckpt/epoch-000002")));
    assertTrue(Files.isDirectory(dir.resolve("ckpt/epoch-000001")));
    // The rerun with the same checkpointDir resumes at epoch 3 and ends where the uninterrupted run
    // did.
    EmberClassificationModel resumed =
        clf.copy(new org.apache.spark.ml.param.ParamMap()).setCheckpointDir(ckpt).fit(data);
    assertArrayEquals(uninterrupted, resumed.weights());
    assertEquals(4, resumed.trainingSummary().epochs().size());
    assertTrue(Files.isDirectory(dir.resolve("ckpt/epoch-000004")));

    // A checkpoint of another network is refused rather than silently loaded.
    IllegalStateException e =
        assertThrows(
            IllegalStateException.class,
            () ->
                clf.copy(new org.apache.spark.ml.param.ParamMap())
                    .setLayers(new int[] {8, 5, 3})
                    .setCheckpointDir(ckpt)
                    .fit(data));
    assertTrue(e.getMessage().contains("use another checkpointDir"), e.getMessage());
  }

  @Test
  void validationMetricsAreReportedEveryEpoch() {
    Dataset<Row> data = TestData.blobs(spark, 400, 8, 3, 10, 2);
    EmberClassificationModel model =
        EmberClassifierTest.mlp()
            .setValidationFraction(0.25)
            .setMaxEpochs(3)
            .setLearningRate(0.05)
            .fit(data);
    TrainingSummary s = model.trainingSummary();
    assertTrue(
        s.validationRows() > 60 && s.validationRows() < 140,
        "validation rows " + s.validationRows());
    assertEquals(400, s.trainRows() + s.validationRows());
    assertEquals(3, s.epochs().size());
    for (EpochMetrics m : s.epochs()) {
      assertFalse(Double.isNaN(m.validationLoss()));
      assertTrue(m.validationAccuracy() >= 0 && m.validationAccuracy() <= 1);
    }
    assertTrue(accuracy(model.transform(data)) > 0.95);
  }

  @Test
  void earlyStoppingStopsAndKeepsTheBestEpochsWeights() {
    // Random labels: the validation loss must turn up, so the fit does stop early.
    Dataset<Row> data = ResumeTest.randomLabels(spark).cache();
    EmberClassificationModel model = ResumeTest.earlyStopping().fit(data);
    TrainingSummary s = model.trainingSummary();
    assertTrue(s.stoppedEarly(), "did not stop early: " + s.epochs().size() + " epochs");
    // Patience 2: two epochs without a better validation loss after the best, then it stops.
    assertEquals(s.bestEpoch() + 2, s.epochs().size());
    assertTrue(s.epochs().size() < 40);
    double best = s.epochs().get(s.bestEpoch() - 1).validationLoss();
    for (EpochMetrics m : s.epochs()) {
      if (m.epoch() != s.bestEpoch()) {
        assertTrue(m.validationLoss() > best, "epoch " + m.epoch() + " is as good as the best");
      }
    }
    // The weights returned are the best epoch's: those of the same fit run for bestEpoch epochs.
    byte[] atBest =
        ResumeTest.earlyStopping()
            .setEarlyStoppingPatience(0)
            .setMaxEpochs(s.bestEpoch())
            .fit(data)
            .weights();
    assertArrayEquals(atBest, model.weights());
    byte[] last =
        ResumeTest.earlyStopping()
            .setEarlyStoppingPatience(0)
            .setMaxEpochs(s.epochs().size())
            .fit(data)
            .weights();
    assertFalse(Arrays.equals(last, model.weights()), "the last epoch's weights");
  }

  @Test
  void vectorFeaturesTrainLikeFloatArrays() {
    Dataset<Row> vectors = TestData.blobVectors(spark, 300, 8, 3, 12);
    EmberClassificationModel model = EmberClassifierTest.mlp().fit(vectors);
    assertTrue(accuracy(model.transform(vectors)) > 0.97);
    // The same points as array<float> in the same single partition and order (no repartition,
    // whose round robin first sorts rows by their bytes): float -> double -> float is exact, so
    // both fits see the same rows and end with the same weights.
    List<Row> rows = new java.util.ArrayList<>();
    for (float[][] p : TestData.blobPoints(300, 8, 3, 12)) {
      rows.add(org.apache.spark.sql.RowFactory.create(p[0], (double) p[1][0]));
    }
    Dataset<Row> arrays = spark.createDataFrame(rows, TestData.FLOAT_ARRAY_SCHEMA).coalesce(1);
    EmberClassifier onePartition = EmberClassifierTest.mlp().setNumPartitions(0);
    assertArrayEquals(onePartition.fit(arrays).weights(), onePartition.fit(vectors).weights());
  }

  @Test
  void localStepsAverageModelsAndStillLearn() {
    Dataset<Row> data = TestData.blobs(spark, 400, 8, 3, 13, 2);
    EmberClassificationModel model =
        EmberClassifierTest.mlp()
            .setLocalSteps(4)
            .setOptimizer("sgd")
            .setLearningRate(0.1)
            .setMomentum(0.5)
            .fit(data);
    // 400 rows / 32 = 13 slices per epoch, 4 local steps each round: 4 rounds per epoch.
    assertEquals(4, model.trainingSummary().roundsPerEpoch());
    assertTrue(accuracy(model.transform(data)) > 0.95);
  }

  @Test
  void convNetworkSpecOnImageShapedFeatures() {
    // 16 features seen as 1x4x4 images.
    Dataset<Row> data = TestData.blobs(spark, 300, 16, 3, 14, 2);
    EmberClassificationModel model =
        new EmberClassifier()
            .setNetwork("conv(4, k=3, p=1), relu, maxpool(2), flatten, linear(3)")
            .setInputShape(new int[] {1, 4, 4})
            .setBatchSize(32)
            .setMaxEpochs(4)
            .setLearningRate(0.02)
            .fit(data);
    assertEquals(3, model.numClasses());
    assertTrue(accuracy(model.transform(data)) > 0.9);
  }

  /** A user network for the moduleFactory test. */
  public static final class TwoLayerFactory implements ModuleFactory {
    @Override
    public Module create(int[] inputShape, Generator gen) {
      return new TwoLayer(inputShape[0], gen);
    }
  }

  static final class TwoLayer extends Module {
    private final Linear a;
    private final Linear b;

    TwoLayer(int in, Generator gen) {
      a = registerModule("a", new Linear(in, 12, gen));
      b = registerModule("b", new Linear(12, 3, gen));
    }

    @Override
    public Tensor forward(Tensor x) {
      try (Tensor h = a.forward(x);
          Tensor r = h.tanh()) {
        return b.forward(r);
      }
    }
  }

  @Test
  void moduleFactoryPlugsInAUserNetwork() throws Exception {
    Dataset<Row> data = TestData.blobs(spark, 300, 8, 3, 15, 2);
    EmberClassificationModel model =
        EmberClassifierTest.mlp()
            .setModuleFactory(TwoLayerFactory.class.getName())
            .setInputShape(new int[] {8})
            .fit(data);
    assertTrue(accuracy(model.transform(data)) > 0.95);
    // The factory's network was trained, not the layers that mlp() also sets.
    try (org.emberdl.tensor.io.Safetensors.SafetensorsFile f =
        org.emberdl.tensor.io.Safetensors.read(model.weights())) {
      assertEquals(
          List.of("a.bias", "a.weight", "b.bias", "b.weight"),
          f.tensors().keySet().stream().sorted().toList());
    }
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                EmberClassifierTest.mlp()
                    .setModuleFactory("no.such.Factory")
                    .setInputShape(new int[] {8})
                    .fit(data));
    assertTrue(
        e.getMessage().contains("cannot instantiate moduleFactory no.such.Factory"),
        e.getMessage());
  }

  @Test
  void regressorFitsALinearFunction() {
    Dataset<Row> data = TestData.linear(spark, 500, 3, 16);
    EmberRegressionModel model =
        new EmberRegressor()
            .setLayers(new int[] {3, 16, 1})
            .setBatchSize(25)
            .setMaxEpochs(30)
            .setLearningRate(0.01)
            .setSeed(1L)
            .fit(data);
    Dataset<Row> scored = model.transform(data);
    assertEquals(List.of("features", "label", "prediction"), List.of(scored.columns()));
    double rmse = new RegressionEvaluator().setMetricName("rmse").evaluate(scored);
    // The labels have sd ~1.3; a fitted network is far below that.
    assertTrue(rmse < 0.1, "rmse " + rmse);
    assertTrue(Double.isNaN(model.trainingSummary().last().accuracy()));
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> new EmberRegressor().setLayers(new int[] {3, 2}).fit(data));
    assertTrue(e.getMessage().contains("1 output"), e.getMessage());
  }

  @Test
  void memoryLimitFollowsSparkSettings() {
    assertEquals(384L << 20, ExecutorEngine.memoryLimit(new SparkConf(false)));
    assertEquals(
        819L << 20,
        ExecutorEngine.memoryLimit(new SparkConf(false).set("spark.executor.memory", "8g")));
    assertEquals(
        2048L << 20,
        ExecutorEngine.memoryLimit(
            new SparkConf(false).set("spark.executor.memoryOverhead", "2g")));
    assertEquals(
        100L << 20,
        ExecutorEngine.memoryLimit(
            new SparkConf(false)
                .set("spark.executor.memoryOverhead", "2g")
                .set(ExecutorEngine.MEMORY_LIMIT_CONF, "100m")));
  }

  @Test
  void privacyParamsWithoutAPrivateAggregationAreRefusedBeforeAnySparkJob() {
    // Any Spark job over these rows fails with "a Spark job ran": the refusal must come first.
    Dataset<Row> poisoned =
        TestData.blobs(spark, 60, 8, 3, 14, 2)
            .where(functions.expr("IF(label >= 0, raise_error('a Spark job ran'), true)"));
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                EmberClassifierTest.mlp()
                    .setTargetEpsilon(1)
                    .setSecureNoise(true)
                    .setL2NormClip(0.5)
                    .fit(poisoned));
    assertEquals(
        "aggregation=sync (optimizer=adam) would ignore targetEpsilon=1.0 (used only by dp-sgd"
            + " and dp-fedavg), l2NormClip=0.5 (used only by dp-sgd and dp-fedavg),"
            + " secureNoise=true (used only by dp-sgd and dp-fedavg), yet save them with the model"
            + " as if applied; remove them or choose a setting that uses them",
        e.getMessage());
    // the poison works: a fit that passes the check runs a job and hits it
    Exception ran = assertThrows(Exception.class, () -> EmberClassifierTest.mlp().fit(poisoned));
    StringBuilder chain = new StringBuilder();
    for (Throwable t = ran; t != null; t = t.getCause()) {
      chain.append(t.getMessage()).append('\n');
    }
    assertTrue(chain.toString().contains("a Spark job ran"), chain.toString());
  }
}
