package org.emberdl.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Supplier;
import org.apache.spark.SparkException;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.emberdl.spark.internal.data.FeatureColumn;
import org.emberdl.spark.internal.data.PartitionData;
import org.emberdl.spark.internal.data.SparkInternals;
import org.emberdl.spark.internal.infer.BatchInference;
import org.emberdl.spark.internal.local.ExecutorEngine;
import org.emberdl.spark.internal.plan.TaskKind;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code transform} and training partitions read Parquet through the vectorized reader's columnar
 * batches, and give exactly what the row path gives: the same predictions, the same rows kept,
 * skipped or NaN-filled, and the same errors naming column, row and value. The row path is the same
 * file read with the vectorized reader off, so partitions and row numbers are the same.
 */
class ColumnarReadTest {
  private static final SparkSession spark = SparkTestSession.get();
  private static final String VECTORIZED = "spark.sql.parquet.enableVectorizedReader";
  private static final String READER_BATCH = "spark.sql.parquet.columnarReaderBatchSize";
  private static EmberClassificationModel model;

  @TempDir static Path dir;

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

  private static float[] ok(float first) {
    return new float[] {first, 0, 1, 0, 0, 0.5f, 0, 0};
  }

  /** One Parquet file (one partition) of {@code features: array<float>, label, id} rows. */
  private static String parquet(String name, Object... featureValues) {
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < featureValues.length; i++) {
      rows.add(RowFactory.create(featureValues[i], (double) (i % 3), "row-" + i));
    }
    StructType schema =
        new StructType()
            .add("features", DataTypes.createArrayType(DataTypes.FloatType, true), true)
            .add("label", DataTypes.DoubleType, false)
            .add("id", DataTypes.StringType, false);
    String path = dir.resolve(name).toString();
    spark.createDataFrame(rows, schema).coalesce(1).write().parquet(path);
    return path;
  }

  /** {@code work} with Spark's vectorized Parquet reader off: the row path over the same file. */
  private static <T> T rowPath(Supplier<T> work) {
    spark.conf().set(VECTORIZED, "false");
    try {
      return work.get();
    } finally {
      spark.conf().unset(VECTORIZED);
    }
  }

  private static FeatureColumn features(Dataset<Row> df) {
    return FeatureColumn.of(df.schema(), "features", 8);
  }

  private static List<String> scored(EmberClassificationModel m, String path) {
    Dataset<Row> df = spark.read().parquet(path);
    List<String> out = new ArrayList<>();
    for (Row r : m.transform(df).collectAsList()) {
      out.add(r.toString());
    }
    return out;
  }

  private static String failure(EmberClassificationModel m, String path) {
    Throwable t =
        assertThrows(
            SparkException.class, () -> m.transform(spark.read().parquet(path)).collectAsList());
    while (t.getCause() != null) {
      t = t.getCause();
    }
    return t.getMessage();
  }

  @Test
  void aParquetScanIsReadColumnarAndAnythingElseThroughRows() {
    String path = parquet("plans", ok(1), ok(2));
    Dataset<Row> scan = spark.read().parquet(path);
    assertNotNull(BatchInference.columnarSource(scan, features(scan)));
    // a filter, an in-memory DataFrame, a vector column and the reader switched off: rows
    Dataset<Row> filtered = scan.filter("label > 0");
    assertNull(BatchInference.columnarSource(filtered, features(filtered)));
    Dataset<Row> memory = TestData.blobs(spark, 4, 8, 3, 4, 1);
    assertNull(BatchInference.columnarSource(memory, features(memory)));
    Dataset<Row> vectors = TestData.blobVectors(spark, 4, 8, 3, 1);
    assertNull(BatchInference.columnarSource(vectors, features(vectors)));
    assertNull(
        rowPath(
            () -> {
              Dataset<Row> df = spark.read().parquet(path);
              return BatchInference.columnarSource(df, features(df));
            }));
  }

  @Test
  void columnarTransformGivesTheRowPathsRowsAndPredictions() {
    Object[] values = new Object[300];
    for (int i = 0; i < values.length; i++) {
      float[] f = new float[8];
      for (int j = 0; j < 8; j++) {
        f[j] = (float) Math.sin(i * 8 + j) * 3;
      }
      values[i] = f;
    }
    String path = parquet("predictions", values);
    for (int batch : new int[] {7, 64}) {
      EmberClassificationModel m = model.copy(new org.apache.spark.ml.param.ParamMap());
      m.setInferenceBatchSize(batch);
      List<String> rows = rowPath(() -> scored(m, path));
      assertEquals(300, rows.size());
      assertSameRows(rows, scored(m, path), "batch " + batch);
      // The reader's batches of 16 rows: every inference batch ends at one, whose vectors the
      // reader then refills; rows handed on before must be unaffected.
      spark.conf().set(READER_BATCH, "16");
      try {
        assertSameRows(rows, scored(m, path), "batch " + batch + ", reader batches of 16 rows");
      } finally {
        spark.conf().unset(READER_BATCH);
      }
    }
  }

  /** Equal lists, the first difference shown on its own (the rows are long). */
  private static void assertSameRows(List<String> expected, List<String> actual, String what) {
    assertEquals(expected.size(), actual.size(), what);
    for (int i = 0; i < expected.size(); i++) {
      assertEquals(expected.get(i), actual.get(i), what + ", row " + i);
    }
  }

  @Test
  void invalidRowsGetTheRowPathsErrorsNamingColumnRowAndValue() {
    float[] nan = ok(1);
    nan[5] = Float.NaN;
    float[] inf = ok(1);
    inf[2] = Float.NEGATIVE_INFINITY;
    Object[][] cases = {
      {ok(1), ok(2), nan},
      {ok(1), new float[] {1, 2, 3}},
      {ok(1), ok(1), ok(1), null},
      {ok(1), Arrays.asList(1f, null, 1f, 1f, 1f, 1f, 1f, 1f)},
      {inf}
    };
    String[] expected = {
      "invalid row 2 of partition 0 in features column 'features' (expected 8 finite values):"
          + " feature 5 is NaN; set handleInvalid to 'skip' to drop such rows",
      "invalid row 1 of partition 0 in features column 'features' (expected 8 finite values):"
          + " features have length 3, expected 8; set handleInvalid to 'skip' to drop such rows",
      "invalid row 3 of partition 0 in features column 'features' (expected 8 finite values):"
          + " features are null; set handleInvalid to 'skip' to drop such rows",
      "invalid row 1 of partition 0 in features column 'features' (expected 8 finite values):"
          + " features contain a null element; set handleInvalid to 'skip' to drop such rows",
      "invalid row 0 of partition 0 in features column 'features' (expected 8 finite values):"
          + " feature 2 is -Infinity; set handleInvalid to 'skip' to drop such rows"
    };
    for (int i = 0; i < cases.length; i++) {
      String path = parquet("bad-" + i, cases[i]);
      Dataset<Row> df = spark.read().parquet(path);
      assertNotNull(BatchInference.columnarSource(df, features(df)));
      assertEquals(expected[i], failure(model, path));
      assertEquals(expected[i], rowPath(() -> failure(model, path)));
    }
  }

  @Test
  void skipAndKeepGiveTheRowPathsRows() {
    float[] nan = ok(1);
    nan[0] = Float.NaN;
    String path = parquet("skip-keep", ok(1), new float[] {1, 2}, null, ok(3), nan, ok(-2));
    for (String policy : new String[] {"skip", "keep"}) {
      EmberClassificationModel m = model.copy(new org.apache.spark.ml.param.ParamMap());
      m.setHandleInvalid(policy);
      List<String> columnar = scored(m, path);
      assertEquals(policy.equals("skip") ? 3 : 6, columnar.size(), policy);
      assertEquals(rowPath(() -> scored(m, path)), columnar, policy);
    }
  }

  @Test
  void trainingPartitionsReadColumnarHoldTheRowPathsRows() {
    Object[] values = new Object[40];
    for (int i = 0; i < values.length; i++) {
      values[i] = ok(i);
    }
    values[7] = new float[] {1}; // skipped under handleInvalid=skip, by either path
    String path = parquet("train", values);
    Supplier<List<PartitionData>> read =
        () -> {
          Dataset<Row> df = spark.read().parquet(path).select("features", "label");
          FeatureColumn features = FeatureColumn.of(df.schema(), "features", 8);
          return PartitionData.readAll(
                  df,
                  new PartitionData.RowSpec(
                      features, "label", TaskKind.CLASSIFICATION, 3, 0.25, 5, true, -1))
              .collect();
        };
    List<PartitionData> columnar = read.get();
    List<PartitionData> rows = rowPath(read);
    assertEquals(1, columnar.size());
    PartitionData c = columnar.get(0);
    PartitionData r = rows.get(0);
    assertEquals(39, c.trainRows + c.validRows);
    assertEquals(1, c.skipped);
    assertEquals(r.trainRows, c.trainRows);
    assertArrayEquals(r.trainX, c.trainX);
    assertArrayEquals(r.trainY, c.trainY);
    assertArrayEquals(r.validX, c.validX);
    assertArrayEquals(r.validY, c.validY);
    Dataset<Row> df = spark.read().parquet(path).select("features", "label");
    assertNotNull(SparkInternals.columnar(df));
  }
}
