package org.emberdl.spark.internal.infer;

import java.util.Collections;
import org.apache.spark.sql.Dataset;
import org.emberdl.spark.internal.data.FeatureColumn;
import org.emberdl.spark.internal.data.RowCursor;
import org.emberdl.spark.internal.data.SparkInternals;

/**
 * The benchmarks' window into {@code transform}'s reading (package-private in Ember): the "decode
 * only" case of {@code SparkInferenceBenchmark} runs exactly the reader {@code transform} uses on a
 * DataFrame (the vectorized reader's columnar batches where {@link BatchInference#columnarSource}
 * takes them, Catalyst rows otherwise) and copies every row's features into a batch buffer with the
 * same checks, but runs no forward pass and builds no output rows.
 */
public final class TransformDecodeProbe {
  private TransformDecodeProbe() {}

  /**
   * Reads the features of every row of {@code df} into a reused buffer of {@code batch} rows.
   *
   * @return the rows read and whether the columnar path was taken, as {@code "rows columnar"}
   */
  public static String decode(Dataset<?> df, String featuresCol, int dim, int batch) {
    FeatureColumn features = FeatureColumn.of(df.schema(), featuresCol, dim);
    int ordinal = df.schema().fieldIndex(featuresCol);
    SparkInternals.Columnar columnar = BatchInference.columnarSource(df, features);
    long rows;
    if (columnar != null) {
      int[] ordinals = columnar.ordinals();
      rows =
          columnar
              .batches()
              .toJavaRDD()
              .mapPartitions(
                  it ->
                      Collections.singletonList(
                              count(RowCursor.batches(it, features, ordinals, ordinal), dim, batch))
                          .iterator())
              .reduce(Long::sum);
    } else {
      rows =
          SparkInternals.internalRows(df)
              .toJavaRDD()
              .mapPartitions(
                  it ->
                      Collections.singletonList(
                              count(RowCursor.rows(it, features, ordinal), dim, batch))
                          .iterator())
              .reduce(Long::sum);
    }
    return rows + " " + (columnar != null);
  }

  private static long count(RowCursor cursor, int dim, int batch) {
    float[] buffer = new float[batch * dim];
    long rows = 0;
    int slot = 0;
    while (cursor.hasNext()) {
      cursor.advance();
      String problem = cursor.copyFeatures(buffer, slot * dim);
      if (problem != null) {
        throw new IllegalArgumentException(cursor.invalidRow(problem, -1, rows));
      }
      rows++;
      slot = slot + 1 == batch ? 0 : slot + 1;
    }
    return rows;
  }
}
