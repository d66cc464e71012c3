package org.emberdl.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.apache.spark.SparkException;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.emberdl.spark.internal.local.ExecutorEngine;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Token-id features: {@code array<int>}/{@code array<long>} columns fed to a spec starting with
 * {@code embedding}, fixed length and right-padded, through fit and transform, on the row path and
 * the columnar (Parquet) path, with bad ids named by column, row and value.
 */
class TokenFeaturesTest {
  private static final SparkSession spark = SparkTestSession.get();
  private static final int T = 6;
  private static final int V = 20;

  @TempDir static Path dir;

  @AfterEach
  void releaseReplicas() {
    ExecutorEngine.get().releaseAll();
  }

  private static Dataset<Row> rows(DataType element, List<Object> ids, List<Double> labels) {
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < ids.size(); i++) {
      rows.add(RowFactory.create(ids.get(i), labels.get(i)));
    }
    StructType schema =
        new StructType()
            .add("features", DataTypes.createArrayType(element, false), true)
            .add("label", DataTypes.DoubleType, false);
    return spark.createDataFrame(rows, schema);
  }

  /**
   * Sequences of ids in [1, V): class 1 when most ids are >= V / 2. With {@code minLength < T},
   * rows have random lengths in [minLength, T] and are given unpadded.
   */
  private static Dataset<Row> task(DataType element, int n, int minLength, long seed) {
    Random r = new Random(seed);
    List<Object> ids = new ArrayList<>();
    List<Double> labels = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      int len = minLength + r.nextInt(T - minLength + 1);
      int high = 0;
      int[] ints = new int[len];
      long[] longs = new long[len];
      for (int t = 0; t < len; t++) {
        ints[t] = 1 + r.nextInt(V - 1);
        longs[t] = ints[t];
        high += ints[t] >= V / 2 ? 1 : -1;
      }
      if (high == 0) {
        ints[0] = V - 1;
        longs[0] = V - 1;
        high = 1;
      }
      ids.add(element == DataTypes.IntegerType ? ints : longs);
      labels.add(high > 0 ? 1.0 : 0.0);
    }
    return rows(element, ids, labels);
  }

  private static EmberClassifier classifier(String network) {
    return new EmberClassifier()
        .setNetwork(network)
        .setInputShape(new int[] {T})
        .setBatchSize(32)
        .setMaxEpochs(15)
        .setLearningRate(0.02)
        .setSeed(3L)
        .setNumPartitions(2);
  }

  private static double accuracy(EmberClassificationModel m, Dataset<Row> df) {
    List<Row> out = m.transform(df).select("label", "prediction").collectAsList();
    long right = out.stream().filter(r -> r.getDouble(0) == r.getDouble(1)).count();
    return (double) right / out.size();
  }

  private static String rootMessage(Throwable t) {
    while (t.getCause() != null) {
      t = t.getCause();
    }
    return t.getMessage();
  }

  @Test
  void fixedLengthIntAndLongIdsTrainAndScore() {
    for (DataType element : new DataType[] {DataTypes.IntegerType, DataTypes.LongType}) {
      Dataset<Row> train = task(element, 400, T, 1);
      EmberClassificationModel m = classifier("embedding(20, 8), meanPool, linear(2)").fit(train);
      double acc = accuracy(m, task(element, 200, T, 2));
      // the label is a sign of a sum over the tokens: a mean of embeddings separates it well
      assertTrue(acc > 0.9, element + " accuracy " + acc);
    }
  }

  @Test
  void paddedSequencesIgnoreTheirPadding() throws java.io.IOException {
    Dataset<Row> train = task(DataTypes.IntegerType, 400, 1, 4);
    EmberClassificationModel m =
        classifier("embedding(20, 8, pad=0), gru(8), meanPool, linear(2)").fit(train);
    assertTrue(accuracy(m, task(DataTypes.IntegerType, 200, 1, 5)) > 0.85);
    // a short row, given unpadded and padded by hand, scores the same (to float rounding: the
    // GEMMs may round a row differently by its place in the batch)
    Dataset<Row> same =
        rows(
            DataTypes.IntegerType,
            List.of(new int[] {12, 3}, new int[] {12, 3, 0, 0, 0, 0}, new int[] {12, 3, 5}),
            List.of(1.0, 1.0, 0.0));
    List<Row> scored = m.transform(same).select("rawPrediction").collectAsList();
    double[] a = ((Vector) scored.get(0).get(0)).toArray();
    assertArrayEquals(a, ((Vector) scored.get(1).get(0)).toArray(), 1e-5);
    // and a third token changes it (the test would pass if everything scored the same)
    assertTrue(Math.abs(a[0] - ((Vector) scored.get(2).get(0)).toArray()[0]) > 1e-3);
    // saved and loaded, the model rebuilds the padded network and scores the same
    String path = dir.resolve("padded-model").toString();
    m.write().overwrite().save(path);
    EmberClassificationModel loaded = EmberClassificationModel.load(path);
    List<Row> again = loaded.transform(same).select("rawPrediction").collectAsList();
    for (int i = 0; i < scored.size(); i++) {
      assertArrayEquals(
          ((Vector) scored.get(i).get(0)).toArray(), ((Vector) again.get(i).get(0)).toArray(), 0);
    }
  }

  @Test
  void badIdsAreNamedByColumnRowAndValue() {
    EmberClassifier fixed = classifier("embedding(20, 8), meanPool, linear(2)").setMaxEpochs(1);
    Dataset<Row> outside =
        rows(
                DataTypes.IntegerType,
                List.of(new int[] {1, 2, 3, 4, 5, 6}, new int[] {1, 2, 20, 4, 5, 6}),
                List.of(0.0, 1.0))
            .coalesce(1);
    assertEquals(
        "invalid row 1 of partition 0 in features column 'features' (expected 6 token ids in [0,"
            + " 20)): token id 20 at position 2 is outside the vocabulary [0, 20); set"
            + " handleInvalid to 'skip' to drop such rows",
        rootMessage(assertThrows(Exception.class, () -> fixed.setNumPartitions(0).fit(outside))));
    Dataset<Row> negative =
        rows(DataTypes.LongType, List.of((Object) new long[] {1, 2, 3, -4, 5, 6}), List.of(0.0))
            .coalesce(1);
    assertTrue(
        rootMessage(assertThrows(Exception.class, () -> fixed.setNumPartitions(0).fit(negative)))
            .contains("(expected 6 token ids in [0, 20)): token id -4 at position 3"));
    Dataset<Row> shortRow =
        rows(DataTypes.IntegerType, List.of((Object) new int[] {1, 2, 3}), List.of(0.0))
            .coalesce(1);
    assertTrue(
        rootMessage(assertThrows(Exception.class, () -> fixed.setNumPartitions(0).fit(shortRow)))
            .contains("features have length 3, expected 6"));

    EmberClassifier padded =
        classifier("embedding(20, 8, pad=0), meanPool, linear(2)")
            .setMaxEpochs(1)
            .setNumPartitions(0);
    Dataset<Row> gap =
        rows(
                DataTypes.IntegerType,
                List.of(new int[] {4, 5}, new int[] {4, 0, 5}),
                List.of(0.0, 1.0))
            .coalesce(1);
    assertEquals(
        "invalid row 1 of partition 0 in features column 'features' (expected at most 6 token ids"
            + " in [0, 20), right-padded with 0): token id 5 at position 2 follows the padding id 0"
            + " at position 1; sequences must be right-padded; set handleInvalid to 'skip' to drop"
            + " such rows",
        rootMessage(assertThrows(Exception.class, () -> padded.fit(gap))));
    Dataset<Row> empty =
        rows(DataTypes.IntegerType, List.of((Object) new int[] {}), List.of(0.0)).coalesce(1);
    assertTrue(
        rootMessage(assertThrows(Exception.class, () -> padded.fit(empty)))
            .contains("the token sequence is empty (no id before the padding id 0)"));
    Dataset<Row> tooLong =
        rows(DataTypes.IntegerType, List.of((Object) new int[] {1, 2, 3, 4, 5, 6, 7}), List.of(0.0))
            .coalesce(1);
    assertTrue(
        rootMessage(assertThrows(Exception.class, () -> padded.fit(tooLong)))
            .contains("features have length 7, expected at most 6"));
  }

  @Test
  void transformNamesBadIdsAndSkipDropsThem() {
    EmberClassificationModel m =
        classifier("embedding(20, 8), meanPool, linear(2)")
            .setMaxEpochs(1)
            .fit(task(DataTypes.IntegerType, 64, T, 6));
    Dataset<Row> bad =
        rows(
                DataTypes.IntegerType,
                List.of(new int[] {1, 2, 3, 4, 5, 6}, new int[] {1, 2, 3, 4, 5, 99}),
                List.of(0.0, 1.0))
            .coalesce(1);
    String message =
        rootMessage(assertThrows(SparkException.class, () -> m.transform(bad).collectAsList()));
    assertTrue(
        message.contains(
            "row 1 of partition 0 in features column 'features' (expected 6 token ids in [0, 20)):"
                + " token id 99 at position 5 is outside the vocabulary [0, 20)"),
        message);
    assertEquals(
        1,
        m.copy(new org.apache.spark.ml.param.ParamMap())
            .setHandleInvalid("skip")
            .transform(bad)
            .count());
  }

  @Test
  void parquetColumnarReadGivesWhatRowsGive() {
    Dataset<Row> df = task(DataTypes.LongType, 120, 2, 8);
    String path = dir.resolve("tokens").toString();
    df.coalesce(1).write().parquet(path);
    EmberClassificationModel m =
        classifier("embedding(20, 8, pad=0), lstm(8), lastStep, linear(2)")
            .setMaxEpochs(2)
            .fit(spark.read().parquet(path));
    List<Row> columnar = m.transform(spark.read().parquet(path)).collectAsList();
    spark.conf().set("spark.sql.parquet.enableVectorizedReader", "false");
    List<Row> rowPath;
    try {
      rowPath = m.transform(spark.read().parquet(path)).collectAsList();
    } finally {
      spark.conf().unset("spark.sql.parquet.enableVectorizedReader");
    }
    assertEquals(rowPath.toString(), columnar.toString());
  }

  @Test
  void plainIntegerFeaturesMustBeExactInFloat32() {
    EmberClassifier mlp =
        new EmberClassifier().setLayers(new int[] {2, 2}).setMaxEpochs(1).setNumPartitions(0);
    Dataset<Row> big =
        rows(DataTypes.LongType, List.of((Object) new long[] {3, (1L << 24) + 1}), List.of(0.0))
            .coalesce(1);
    assertTrue(
        rootMessage(assertThrows(Exception.class, () -> mlp.fit(big)))
            .contains(
                "(expected 2 integers of magnitude at most 2^24 (exact in float32)): value 16777217"
                    + " at position 1 is not exact in float32 (|v| > 2^24)"));
  }
}
