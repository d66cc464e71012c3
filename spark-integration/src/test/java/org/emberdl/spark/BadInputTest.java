package org.emberdl.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.apache.spark.SparkException;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
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
            .contains("must be a Spark ML Vector, array<float> or array<double>, but is string"),
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
}
