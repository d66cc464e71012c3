package org.emberdl.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.spark.SparkException;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.ml.evaluation.MulticlassClassificationEvaluator;
import org.apache.spark.ml.linalg.SQLDataTypes;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.expressions.UnsafeArrayData;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.emberdl.spark.internal.data.SparkInternals;
import org.emberdl.spark.internal.io.StateDicts;
import org.emberdl.spark.internal.local.ExecutorEngine;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Invalid rows and schemas give errors that name the column, the expected size and the value. */
class BadInputTest {
  private static final SparkSession spark = SparkTestSession.get();
  private static EmberClassificationModel model;

  @BeforeAll
  static void train() {
    model = EmberClassifierTest.mlp().setMaxEpochs(1).fit(TestData.blobs(spark, 90, 8, 3, 4, 1));
  }

  @AfterAll
  static void release() {
    ExecutorEngine.get().releaseAll();
  }

  @AfterEach
  void releaseReplicas() {
    ExecutorEngine.get().releaseAll();
  }

  private static Dataset<Row> withRows(Object... featureValues) {
    List<Row> rows = new ArrayList<>();
    for (Object f : featureValues) {
      rows.add(RowFactory.create(f, 0.0));
    }
    StructType schema =
        new StructType()
            .add("features", DataTypes.createArrayType(DataTypes.FloatType, true), true)
            .add("label", DataTypes.DoubleType, false);
    return spark.createDataFrame(rows, schema).coalesce(1);
  }

  private static float[] ok() {
    return new float[] {3, 0, 0, 0, 0, 0, 0, 0};
  }

  private static String rootMessage(Throwable t) {
    StringBuilder sb = new StringBuilder();
    for (Throwable c = t; c != null; c = c.getCause()) {
      sb.append(c.getMessage()).append(" | ");
    }
    return sb.toString();
  }

  @Test
  void wrongLengthNamesColumnExpectedSizeAndRow() {
    Dataset<Row> df = withRows(ok(), new float[] {1, 2, 3});
    SparkException e =
        assertThrows(SparkException.class, () -> model.transform(df).collectAsList());
    String m = rootMessage(e);
    assertTrue(
        m.contains("features column 'features'")
            && m.contains("expected 8")
            && m.contains("length 3")
            && m.contains("row 1"),
        m);
  }

  @Test
  void nullAndNaNFeaturesAreRejectedByDefault() {
    String nul =
        rootMessage(
            assertThrows(
                SparkException.class, () -> model.transform(withRows(ok(), null)).collectAsList()));
    assertTrue(nul.contains("features are null"), nul);
    float[] nan = ok();
    nan[5] = Float.NaN;
    String m =
        rootMessage(
            assertThrows(
                SparkException.class, () -> model.transform(withRows(nan)).collectAsList()));
    assertTrue(m.contains("feature 5 is NaN"), m);
    String elem =
        rootMessage(
            assertThrows(
                SparkException.class,
                () ->
                    model
                        .transform(
                            withRows(java.util.Arrays.asList(1f, null, 1f, 1f, 1f, 1f, 1f, 1f)))
                        .collectAsList()));
    assertTrue(elem.contains("null element"), elem);
  }

  @Test
  void skipDropsInvalidRowsAndKeepOutputsNaN() {
    Dataset<Row> df = withRows(ok(), new float[] {1, 2}, null, ok());
    List<Row> skipped =
        model
            .copy(new org.apache.spark.ml.param.ParamMap())
            .setHandleInvalid("skip")
            .transform(df)
            .select("prediction")
            .collectAsList();
    assertEquals(2, skipped.size());
    assertEquals(0.0, skipped.get(0).getDouble(0)); // the first blob centre is class 0
    List<Row> kept =
        model
            .copy(new org.apache.spark.ml.param.ParamMap())
            .setHandleInvalid("keep")
            .transform(df)
            .select("prediction", "probability")
            .collectAsList();
    assertEquals(4, kept.size());
    assertTrue(Double.isNaN(kept.get(1).getDouble(0)) && Double.isNaN(kept.get(2).getDouble(0)));
    assertEquals(0.0, kept.get(3).getDouble(0));
    // A batch with no valid row still gives vectors of one value per class (it once gave 1).
    Row onlyInvalid =
        model
            .copy(new ParamMap())
            .setHandleInvalid("keep")
            .setInferenceBatchSize(1)
            .transform(withRows(ok(), new float[] {1, 2}))
            .select("rawPrediction", "probability")
            .collectAsList()
            .get(1);
    assertAllNaN(((Vector) onlyInvalid.get(0)).toArray());
    assertAllNaN(((Vector) onlyInvalid.get(1)).toArray());
  }

  @Test
  void schemaErrorsNameTheColumn() {
    Dataset<Row> df = withRows(ok());
    IllegalArgumentException missing =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                model
                    .copy(new org.apache.spark.ml.param.ParamMap())
                    .setFeaturesCol("pixels")
                    .transform(df));
    assertTrue(missing.getMessage().contains("'pixels' does not exist"), missing.getMessage());
    Dataset<Row> strings = df.selectExpr("cast(label as string) as features", "label");
    IllegalArgumentException type =
        assertThrows(IllegalArgumentException.class, () -> model.transform(strings));
    assertTrue(
        type.getMessage()
            .contains(
                "must be a Spark ML Vector, array<float>, array<double>, or token ids as"
                    + " array<int> or array<long>, but is string"),
        type.getMessage());
    Dataset<Row> taken = df.withColumn("prediction", df.col("label"));
    IllegalArgumentException exists =
        assertThrows(IllegalArgumentException.class, () -> model.transform(taken));
    assertTrue(exists.getMessage().contains("'prediction' already exists"), exists.getMessage());
    IllegalArgumentException noLabel =
        assertThrows(
            IllegalArgumentException.class, () -> EmberClassifierTest.mlp().fit(df.drop("label")));
    assertTrue(
        noLabel.getMessage().contains("label column 'label' does not exist"), noLabel.getMessage());
  }

  @Test
  void labelsOutsideTheClassesFailFitNamingTheLabelColumn() {
    List<Row> rows = List.of(RowFactory.create(ok(), 0.0), RowFactory.create(ok(), 5.0));
    Dataset<Row> df = spark.createDataFrame(rows, TestData.FLOAT_ARRAY_SCHEMA).coalesce(1);
    SparkException e = assertThrows(SparkException.class, () -> EmberClassifierTest.mlp().fit(df));
    String m = rootMessage(e);
    assertTrue(
        m.contains("invalid label in column 'label' at row 1")
            && m.contains("5.0 is not a class index in [0, 3)"),
        m);
  }

  @Test
  void networkParamsAreValidated() {
    assertThrows(
        IllegalArgumentException.class, () -> new EmberClassifier().setLayers(new int[] {8}));
    assertThrows(IllegalArgumentException.class, () -> new EmberClassifier().setBatchSize(0));
    assertThrows(
        IllegalArgumentException.class, () -> new EmberClassifier().setOptimizer("rmsprop"));
    IllegalArgumentException noNetwork =
        assertThrows(
            IllegalArgumentException.class, () -> new EmberClassifier().fit(withRows(ok())));
    assertTrue(noNetwork.getMessage().contains("set the network"), noNetwork.getMessage());
    IllegalArgumentException noShape =
        assertThrows(
            IllegalArgumentException.class,
            () -> new EmberClassifier().setNetwork("linear(3)").fit(withRows(ok())));
    assertTrue(noShape.getMessage().contains("inputShape must be set"), noShape.getMessage());
  }

  // ---------------------------------------------------------------------------------------------
  // Sparse vectors

  /**
   * A DataFrame of Catalyst rows (features as VectorUDT's struct, label 0.0) in one partition, as a
   * Parquet file written by another tool reads back: Spark checks none of the struct's fields.
   */
  private static Dataset<Row> vectorRows(InternalRow... vectors) {
    List<InternalRow> rows = new ArrayList<>();
    for (InternalRow v : vectors) {
      rows.add(new GenericInternalRow(new Object[] {v, 0.0}));
    }
    StructType schema =
        new StructType()
            .add("features", SQLDataTypes.VectorType(), true)
            .add("label", DataTypes.DoubleType, false);
    JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    return SparkInternals.createDataFrame(spark, sc.parallelize(rows, 1).rdd(), schema);
  }

  /** VectorUDT's struct: type (0 sparse, 1 dense), size, indices, values. */
  private static InternalRow vectorStruct(int type, Integer size, int[] indices, double[] values) {
    return new GenericInternalRow(
        new Object[] {
          (byte) type,
          size,
          indices == null ? null : UnsafeArrayData.fromPrimitiveArray(indices),
          UnsafeArrayData.fromPrimitiveArray(values)
        });
  }

  private static InternalRow sparse(int size, int[] indices, double[] values) {
    return vectorStruct(0, size, indices, values);
  }

  @Test
  void sparseVectorsWithIndicesOutOfPlaceFailNamingRowAndIndex() {
    InternalRow good = sparse(8, new int[] {0}, new double[] {3});
    Map<InternalRow, String> cases =
        Map.of(
            sparse(8, new int[] {-1}, new double[] {5}),
            "sparse vector index -1 (entry 0) is outside [0, 8)",
            sparse(8, new int[] {2, 8}, new double[] {1, 1}),
            "sparse vector index 8 (entry 1) is outside [0, 8)",
            sparse(8, new int[] {3, 1}, new double[] {1, 1}),
            "sparse vector indices must be strictly increasing, but entry 1 is 1 after 3",
            sparse(8, new int[] {2, 2}, new double[] {1, 1}),
            "sparse vector indices must be strictly increasing, but entry 1 is 2 after 2",
            sparse(9, new int[] {0}, new double[] {1}),
            "features have length 9, expected 8",
            sparse(8, new int[] {0, 1}, new double[] {1}),
            "sparse vector has 2 indices but 1 values",
            sparse(8, new int[] {4}, new double[] {Double.NaN}),
            "feature 4 is NaN",
            vectorStruct(1, null, null, new double[] {1, 2, 3}),
            "features have length 3, expected 8",
            vectorStruct(2, 8, new int[] {0}, new double[] {1}),
            "vector type tag 2 is neither dense (1) nor sparse (0)");
    for (Map.Entry<InternalRow, String> c : cases.entrySet()) {
      Dataset<Row> df = vectorRows(good, c.getKey());
      String m =
          rootMessage(
              assertThrows(SparkException.class, () -> model.transform(df).collectAsList()));
      assertTrue(
          m.contains("invalid row 1 of partition 0 in features column 'features'")
              && m.contains(c.getValue()),
          m);
    }
    // Training reads rows through the same check.
    Dataset<Row> bad = vectorRows(good, sparse(8, new int[] {-1}, new double[] {5}));
    String fit =
        rootMessage(
            assertThrows(
                SparkException.class,
                () -> EmberClassifierTest.mlp().setNumPartitions(0).setMaxEpochs(1).fit(bad)));
    assertTrue(
        fit.contains("invalid row 1 of partition 0 in features column 'features'")
            && fit.contains("sparse vector index -1 (entry 0) is outside [0, 8)"),
        fit);
  }

  /**
   * Index -1 once landed in the previous row's last feature. Skipped, the bad row must leave every
   * other row as it was: the same predictions, and the same trained weights, as without it.
   */
  @Test
  void skippedSparseRowsLeaveTheirNeighboursAlone() {
    List<InternalRow> goodRows = new ArrayList<>();
    for (int i = 0; i < 9; i++) {
      goodRows.add(sparse(8, new int[] {i % 3, 5}, new double[] {3, 0.1 * i}));
    }
    List<InternalRow> withBad = new ArrayList<>(goodRows);
    withBad.add(4, sparse(8, new int[] {-1, 2}, new double[] {7, 1}));
    Dataset<Row> clean = vectorRows(goodRows.toArray(new InternalRow[0]));
    Dataset<Row> dirty = vectorRows(withBad.toArray(new InternalRow[0]));

    EmberClassificationModel skipping = model.copy(new ParamMap()).setHandleInvalid("skip");
    assertEquals(
        skipping.transform(clean).select("rawPrediction").collectAsList(),
        skipping.transform(dirty).select("rawPrediction").collectAsList());

    EmberClassifier clf =
        EmberClassifierTest.mlp().setNumPartitions(0).setMaxEpochs(1).setHandleInvalid("skip");
    EmberClassificationModel fromClean = clf.fit(clean);
    EmberClassificationModel fromDirty = clf.fit(dirty);
    assertEquals(9, fromDirty.trainingSummary().trainRows());
    assertArrayEquals(fromClean.weights(), fromDirty.weights());
  }

  @Test
  void singleRowPredictChecksVectorsLikeTransform() {
    // Spark's SparseVector checks its indices, not its values.
    Vector nanValue = Vectors.sparse(8, new int[] {4}, new double[] {Double.NaN});
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> model.predict(nanValue));
    assertEquals(
        "invalid features for model '"
            + model.uid()
            + "' (expected 8 finite values): feature 4 is NaN; set handleInvalid to 'keep' to get"
            + " NaN",
        e.getMessage());
    IllegalArgumentException size =
        assertThrows(
            IllegalArgumentException.class,
            () -> model.predict(Vectors.sparse(9, new int[] {0}, new double[] {3})));
    assertTrue(size.getMessage().contains("features have length 9, expected 8"), size.getMessage());
    double[] nan = {3, 0, 0, 0, 0, Double.NaN, 0, 0};
    IllegalArgumentException dense =
        assertThrows(IllegalArgumentException.class, () -> model.predictRaw(Vectors.dense(nan)));
    assertTrue(dense.getMessage().contains("feature 5 is NaN"), dense.getMessage());
    EmberClassificationModel keeping = model.copy(new ParamMap()).setHandleInvalid("keep");
    assertTrue(Double.isNaN(keeping.predict(nanValue)));
    assertAllNaN(keeping.predictProbability(Vectors.dense(nan)).toArray());
  }

  // ---------------------------------------------------------------------------------------------
  // Non-finite outputs

  /** The trained model with the last layer's bias of class 1 set to NaN: every logit 1 is NaN. */
  private static EmberClassificationModel nanModel() {
    byte[] poisoned =
        EmberClassifierTest.withTensor(model.weights(), "2.bias", new float[] {0, Float.NaN, 0});
    return new EmberClassificationModel("nanModel", poisoned, 3, null)
        .setLayers(new int[] {8, 16, 3});
  }

  @Test
  void nanWeightsFailTransformNamingTheModelAndRow() {
    // The case: this model scored "accuracy 0.1000", predicting class 0 for every row.
    Dataset<Row> df = withRows(ok(), ok(), ok());
    String m =
        rootMessage(
            assertThrows(
                SparkException.class,
                () ->
                    new MulticlassClassificationEvaluator()
                        .setMetricName("accuracy")
                        .evaluate(nanModel().transform(df))));
    assertTrue(
        m.contains(
            "model 'nanModel' gave a non-finite output for row 0 of partition 0: output 1 is NaN"
                + " (its weights contain NaN or infinity, or the features overflow the network);"
                + " set handleInvalid to 'skip' to drop such rows or 'keep' to output NaN"),
        m);

    assertEquals(0, nanModel().setHandleInvalid("skip").transform(df).count());

    List<Row> kept =
        nanModel()
            .setHandleInvalid("keep")
            .transform(df)
            .select("rawPrediction", "probability", "prediction")
            .collectAsList();
    assertEquals(3, kept.size());
    for (Row r : kept) {
      assertAllNaN(((Vector) r.get(0)).toArray());
      assertAllNaN(((Vector) r.get(1)).toArray());
      assertTrue(Double.isNaN(r.getDouble(2)));
    }
  }

  @Test
  void nanWeightsFailSingleRowPredictOrGiveNaN() {
    Vector x = Vectors.dense(3, 0, 0, 0, 0, 0, 0, 0);
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> nanModel().predict(x));
    assertEquals(
        "model 'nanModel' gave a non-finite output for the given features: output 1 is NaN (its"
            + " weights contain NaN or infinity, or the features overflow the network); set"
            + " handleInvalid to 'keep' to get NaN",
        e.getMessage());
    IllegalStateException skip =
        assertThrows(
            IllegalStateException.class, () -> nanModel().setHandleInvalid("skip").predict(x));
    assertTrue(skip.getMessage().contains("cannot be dropped"), skip.getMessage());

    EmberClassificationModel keeping = nanModel().setHandleInvalid("keep");
    assertTrue(Double.isNaN(keeping.predict(x))); // Spark's argmax would say 0
    assertAllNaN(keeping.predictRaw(x).toArray());
    assertAllNaN(keeping.predictProbability(x).toArray());
    // Spark's own argmax of a NaN vector is class 0; the model's hooks say NaN instead.
    assertTrue(Double.isNaN(keeping.raw2prediction(Vectors.dense(Double.NaN, 1, 0))));
    keeping.setThresholds(new double[] {1, 1, 1}); // Spark then goes through probabilities
    assertTrue(Double.isNaN(keeping.raw2prediction(Vectors.dense(Double.NaN, 1, 0))));
    assertTrue(Double.isNaN(keeping.probability2prediction(Vectors.dense(Double.NaN, 0.5, 0.5))));
  }

  @Test
  void regressionWithNanWeightsFailsOrGivesNaN() {
    Map<String, NDArray> state = new java.util.LinkedHashMap<>();
    state.put("0.weight", NDArray.of(new float[] {1, 0, 0, 0, 0, 0, 0, 0}, 1, 8));
    state.put("0.bias", NDArray.of(new float[] {Float.NaN}, 1));
    EmberRegressionModel reg =
        new EmberRegressionModel("nanRegressor", StateDicts.toBytes(state), 1, null)
            .setLayers(new int[] {8, 1});
    Dataset<Row> df = withRows(ok(), ok());
    String m =
        rootMessage(assertThrows(SparkException.class, () -> reg.transform(df).collectAsList()));
    assertTrue(
        m.contains(
            "model 'nanRegressor' gave a non-finite output for row 0 of partition 0: output 0 is"
                + " NaN"),
        m);
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> reg.predict(Vectors.dense(ok64())));
    assertTrue(e.getMessage().startsWith("model 'nanRegressor' gave a non-finite output"));
    reg.setHandleInvalid("keep");
    for (Row r : reg.transform(df).select("prediction").collectAsList()) {
      assertTrue(Double.isNaN(r.getDouble(0)));
    }
    assertTrue(Double.isNaN(reg.predict(Vectors.dense(ok64()))));
    assertEquals(0, reg.setHandleInvalid("skip").transform(df).count());
  }

  /**
   * logits = (1e30 x0, 1, 0): finite for x0 = 0 or 1, +Infinity in float32 for x0 = 1e10. Only that
   * row is flagged, named by its index across batches of 2, dropped or kept as NaN.
   */
  @Test
  void overflowingRowsAreFlaggedOneByOne() {
    float[] w = new float[24];
    w[0] = 1e30f; // class 0 <- feature 0
    EmberClassificationModel overflow =
        EmberClassifierTest.linearModel("overflow", w, new float[] {0, 1, 0})
            .setInferenceBatchSize(2);
    float[] zero = new float[8];
    float[] one = new float[8];
    one[0] = 1;
    float[] huge = new float[8];
    huge[0] = 1e10f;
    Dataset<Row> df = withRows(zero, one, huge, zero);
    String m =
        rootMessage(
            assertThrows(SparkException.class, () -> overflow.transform(df).collectAsList()));
    assertTrue(
        m.contains(
            "model 'overflow' gave a non-finite output for row 2 of partition 0: output 0 is"
                + " Infinity"),
        m);
    // zero: logits (0, 1, 0) -> class 1; one: (1e30, 1, 0) -> class 0
    assertEquals(
        List.of(1.0, 0.0, 1.0),
        predictions(overflow.copy(new ParamMap()).setHandleInvalid("skip").transform(df)));
    List<Double> kept =
        predictions(overflow.copy(new ParamMap()).setHandleInvalid("keep").transform(df));
    assertEquals(4, kept.size());
    assertEquals(List.of(1.0, 0.0), kept.subList(0, 2));
    assertTrue(Double.isNaN(kept.get(2)));
    assertEquals(1.0, kept.get(3));
  }

  private static List<Double> predictions(Dataset<Row> scored) {
    return scored.select("prediction").collectAsList().stream().map(r -> r.getDouble(0)).toList();
  }

  private static double[] ok64() {
    double[] d = new double[8];
    float[] f = ok();
    for (int i = 0; i < 8; i++) {
      d[i] = f[i];
    }
    return d;
  }

  private static void assertAllNaN(double[] values) {
    assertTrue(
        Arrays.stream(values).allMatch(Double::isNaN) && values.length == 3,
        Arrays.toString(values));
  }
}
