package org.emberdl.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.apache.spark.ml.Pipeline;
import org.apache.spark.ml.PipelineModel;
import org.apache.spark.ml.PipelineStage;
import org.apache.spark.ml.evaluation.MulticlassClassificationEvaluator;
import org.apache.spark.ml.feature.VectorAssembler;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.tuning.CrossValidator;
import org.apache.spark.ml.tuning.CrossValidatorModel;
import org.apache.spark.ml.tuning.ParamGridBuilder;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.emberdl.spark.internal.local.ExecutorEngine;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.io.Safetensors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PersistenceAndPipelineTest {
  private final SparkSession spark = SparkTestSession.get();

  @AfterEach
  void releaseReplicas() {
    ExecutorEngine.get().releaseAll();
  }

  @Test
  void saveLoadTransformGivesIdenticalPredictions(@TempDir Path dir) throws IOException {
    Dataset<Row> data = TestData.blobs(spark, 300, 8, 3, 4, 2);
    EmberClassificationModel model = EmberClassifierTest.mlp().setMaxEpochs(2).fit(data);
    String path = dir.resolve("model").toString();
    model.write().overwrite().save(path);
    EmberClassificationModel loaded = EmberClassificationModel.load(path);

    assertEquals(model.uid(), loaded.uid());
    assertArrayEquals(model.getLayers(), loaded.getLayers());
    assertEquals(model.getLearningRate(), loaded.getLearningRate());
    assertEquals(model.numClasses(), loaded.numClasses());
    assertEquals(model.trainingSummary(), loaded.trainingSummary());
    List<Row> before =
        model.transform(data).select("rawPrediction", "probability", "prediction").collectAsList();
    List<Row> after =
        loaded.transform(data).select("rawPrediction", "probability", "prediction").collectAsList();
    assertEquals(before, after);

    // The weights file is plain safetensors with PyTorch's Sequential keys.
    try (Safetensors.SafetensorsFile f =
        Safetensors.read(dir.resolve("model/data/weights.safetensors"))) {
      Map<String, NDArray> t = f.tensors();
      assertEquals(
          List.of("0.bias", "0.weight", "2.bias", "2.weight"),
          t.keySet().stream().sorted().toList());
      assertArrayEquals(new int[] {16, 8}, t.get("0.weight").shape());
    }
  }

  @Test
  void pipelineWithAssemblerSavesAndLoadsAndCrossValidatorRuns(@TempDir Path dir)
      throws IOException {
    Dataset<Row> blobs = TestData.blobs(spark, 240, 3, 3, 6, 2);
    Dataset<Row> data =
        blobs.select(
            functions.col("features").getItem(0).cast("double").as("a"),
            functions.col("features").getItem(1).cast("double").as("b"),
            functions.col("features").getItem(2).cast("double").as("c"),
            functions.col("label"));
    VectorAssembler assembler =
        new VectorAssembler().setInputCols(new String[] {"a", "b", "c"}).setOutputCol("features");
    EmberClassifier clf =
        new EmberClassifier()
            .setLayers(new int[] {3, 8, 3})
            .setBatchSize(40)
            .setMaxEpochs(3)
            .setLearningRate(0.05)
            .setSeed(3L);
    Pipeline pipeline = new Pipeline().setStages(new PipelineStage[] {assembler, clf});
    PipelineModel fitted = pipeline.fit(data);
    String path = dir.resolve("pipeline").toString();
    fitted.write().overwrite().save(path);
    PipelineModel reloaded = PipelineModel.load(path);
    assertEquals(
        fitted.transform(data).select("prediction").collectAsList(),
        reloaded.transform(data).select("prediction").collectAsList());

    // The estimator itself round-trips too (DefaultParamsWritable).
    String estPath = dir.resolve("estimator").toString();
    clf.write().overwrite().save(estPath);
    EmberClassifier clf2 = EmberClassifier.load(estPath);
    assertEquals(clf.uid(), clf2.uid());
    assertEquals(0.05, clf2.getLearningRate());

    ParamMap[] grid =
        new ParamGridBuilder().addGrid(clf.learningRate(), new double[] {1e-4, 0.05}).build();
    CrossValidator cv =
        new CrossValidator()
            .setEstimator(pipeline)
            .setEstimatorParamMaps(grid)
            .setEvaluator(new MulticlassClassificationEvaluator().setMetricName("accuracy"))
            .setNumFolds(2)
            .setSeed(1);
    CrossValidatorModel cvModel = cv.fit(data);
    double[] metrics = cvModel.avgMetrics();
    assertEquals(2, metrics.length);
    // 3 epochs at lr 1e-4 barely move the weights; lr 0.05 separates the blobs.
    assertTrue(metrics[1] > 0.9 && metrics[1] > metrics[0], java.util.Arrays.toString(metrics));
    EmberClassificationModel best =
        (EmberClassificationModel) ((PipelineModel) cvModel.bestModel()).stages()[1];
    assertEquals(0.05, best.getLearningRate());
  }

  @Test
  void loadingCorruptOrMismatchedWeightsFailsClearly(@TempDir Path dir) throws IOException {
    Dataset<Row> data = TestData.blobs(spark, 90, 8, 3, 4, 1);
    EmberClassificationModel model = EmberClassifierTest.mlp().setMaxEpochs(1).fit(data);
    Path saved = dir.resolve("m");
    model.write().save(saved.toString());
    Path weights = saved.resolve("data/weights.safetensors");
    byte[] good = Files.readAllBytes(weights);
    // Replaced by another tool: Hadoop's local checksum file would flag the edit before us.
    Files.deleteIfExists(saved.resolve("data/.weights.safetensors.crc"));

    Files.write(weights, java.util.Arrays.copyOf(good, good.length / 2));
    IllegalArgumentException truncated =
        assertThrows(
            IllegalArgumentException.class, () -> EmberClassificationModel.load(saved.toString()));
    assertTrue(truncated.getMessage().contains("not valid safetensors"), truncated.getMessage());

    // Weights of another network (8-4-3) under the saved Params (8-16-3).
    EmberClassificationModel other =
        EmberClassifierTest.mlp().setLayers(new int[] {8, 4, 3}).setMaxEpochs(1).fit(data);
    Files.write(weights, other.weights());
    Files.deleteIfExists(saved.resolve("data/.weights.safetensors.crc"));
    IllegalArgumentException mismatched =
        assertThrows(
            IllegalArgumentException.class, () -> EmberClassificationModel.load(saved.toString()));
    assertTrue(mismatched.getMessage().contains("do not fit the network"), mismatched.getMessage());

    assertThrows(
        Exception.class, () -> EmberClassificationModel.load(dir.resolve("missing").toString()));
  }

  @Test
  void regressionModelSavesAndLoadsWithItsParamsAndPredictions(@TempDir Path dir)
      throws IOException {
    Dataset<Row> data = TestData.linear(spark, 120, 3, 5);
    EmberRegressionModel model =
        new EmberRegressor()
            .setLayers(new int[] {3, 8, 1})
            .setBatchSize(20)
            .setMaxEpochs(2)
            .setLearningRate(0.05)
            .setSeed(2L)
            .fit(data)
            .setPredictionCol("yhat")
            .setInferenceBatchSize(7)
            .setHandleInvalid("skip");
    String path = dir.resolve("regressor").toString();
    model.write().save(path);
    EmberRegressionModel loaded = EmberRegressionModel.load(path);

    assertEquals(model.uid(), loaded.uid());
    assertEquals(1, loaded.numOutputs());
    assertArrayEquals(model.weights(), loaded.weights());
    assertEquals(model.trainingSummary(), loaded.trainingSummary());
    for (Param<?> p : model.params()) {
      Param<?> q = loaded.getParam(p.name());
      assertEquals(model.isSet(p), loaded.isSet(q), p.name());
      assertEquals(model.isDefined(p), loaded.isDefined(q), p.name());
      if (model.isDefined(p)) { // a Param without default and unset (inputShape) has no value
        assertTrue(
            Objects.deepEquals(model.getOrDefault(p), loaded.getOrDefault(q)),
            p.name() + ": " + model.getOrDefault(p) + " vs " + loaded.getOrDefault(q));
      }
    }
    assertEquals("yhat", loaded.getPredictionCol());
    assertEquals(7, loaded.getInferenceBatchSize());
    assertEquals("skip", loaded.getHandleInvalid());
    assertEquals(
        model.transform(data).select("yhat").collectAsList(),
        loaded.transform(data).select("yhat").collectAsList());
    Vector x = Vectors.dense(0.5, -0.25, 1);
    assertEquals(model.predict(x), loaded.predict(x));
  }

  /**
   * Spark's ProbabilisticClassificationModel predicts argmax_k p_k / t_k, the first maximum on a
   * tie, and a class whose threshold is 0 whenever its probability is positive. A hand-built model
   * with zero weights and bias log p has softmax p for every row (to float32 rounding of log p,
   * about 1e-8), so each expected class follows from p and t alone.
   */
  @Test
  void thresholdsScaleProbabilitiesAsSparkDefines() {
    float[] logP = {(float) Math.log(0.5), (float) Math.log(0.3), (float) Math.log(0.2)};
    EmberClassificationModel model =
        EmberClassifierTest.linearModel("thresholds", new float[24], logP);
    Dataset<Row> df =
        spark
            .createDataFrame(
                List.of(RowFactory.create(new float[8], 0.0)), TestData.FLOAT_ARRAY_SCHEMA)
            .coalesce(1);
    Vector x = Vectors.dense(new double[8]);
    double[] p = ((Vector) model.transform(df).select("probability").first().get(0)).toArray();
    assertArrayEquals(new double[] {0.5, 0.3, 0.2}, p, 1e-7);

    assertEquals(0.0, prediction(model, df)); // no thresholds: argmax p
    Map<double[], Double> cases =
        Map.of(
            new double[] {0.5, 0.2, 0.1}, 2.0, // p / t = (1.0, 1.5, 2.0)
            new double[] {0.6, 0.2, 0.4}, 1.0, // (0.83, 1.5, 0.5)
            new double[] {0.3, 0.3, 0.3}, 0.0, // all equal: argmax p
            new double[] {0.9, 0.0, 0.9}, 1.0); // 0.3 / 0 = +inf: class 1 always
    for (Map.Entry<double[], Double> c : cases.entrySet()) {
      EmberClassificationModel m = model.copy(new ParamMap()).setThresholds(c.getKey());
      String t = Arrays.toString(c.getKey());
      assertEquals(c.getValue(), prediction(m, df), t);
      // Spark's own single-row path (its probability2prediction) agrees
      assertEquals(c.getValue(), m.predict(x), t);
    }

    // Exact ties: bias 0 gives p = (1/3, 1/3, 1/3); p / t = (2/3, 4/3, 4/3) picks the first, 1.
    EmberClassificationModel even =
        EmberClassifierTest.linearModel("even", new float[24], new float[3])
            .setThresholds(new double[] {0.5, 0.25, 0.25});
    assertEquals(1.0, prediction(even, df));
    assertEquals(1.0, even.predict(x));
    assertEquals(0.0, prediction(even.setThresholds(new double[] {0.2, 0.2, 0.2}), df));

    // setThresholds checks the length, but a ParamMap (a Pipeline's, a copy's) sets it unchecked.
    ParamMap two = new ParamMap().put(model.thresholds(), new double[] {0.5, 0.5});
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> model.transform(df, two));
    assertEquals(
        "thresholds has 2 values but model 'thresholds' has 3 classes; give one threshold per"
            + " class",
        e.getMessage());
  }

  private static double prediction(EmberClassificationModel m, Dataset<Row> df) {
    return m.transform(df).select("prediction").first().getDouble(0);
  }
}
