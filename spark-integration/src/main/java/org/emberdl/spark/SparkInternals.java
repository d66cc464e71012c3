package org.emberdl.spark;

import org.apache.spark.ml.linalg.DenseVector;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.linalg.VectorUDT;
import org.apache.spark.ml.param.Params;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.DefaultParamsWriter;
import org.apache.spark.rdd.RDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.expressions.JoinedRow;
import org.apache.spark.sql.catalyst.expressions.UnsafeArrayData;
import org.apache.spark.sql.catalyst.util.ArrayData;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.unsafe.Platform;
import scala.Option;

/**
 * Every use of Spark's internal or developer API in Ember, in one place (pinned by {@code
 * SparkInternalsTest}): Catalyst's {@link InternalRow} view of a DataFrame (no per-row boxing into
 * {@code Row}), DataFrames made from {@code InternalRow}s and the row and vector classes they are
 * built from, the one-memcpy copy of an {@code array<float>} out of an {@link UnsafeArrayData}, and
 * Spark ML's params metadata format (so that {@code Pipeline} and {@code CrossValidator}
 * persistence read Ember stages like their own). Elsewhere Ember only reads rows through {@code
 * InternalRow}'s and {@code ArrayData}'s accessors.
 *
 * <p>Measured on this project's machines (SPARK-NOTES, section 4): reading {@code array<float>}
 * features through {@code InternalRow} + memcpy ran at 213k rows/s against 94k for {@code
 * Row.getList} and 168k for {@code Row} with a {@code Vector}, within 6% of the Parquet decode
 * alone.
 */
final class SparkInternals {
  private static final VectorUDT VECTORS = new VectorUDT();

  private SparkInternals() {}

  /** The DataFrame's rows in Catalyst's form; rows may be reused by the iterator, copy to keep. */
  static RDD<InternalRow> internalRows(Dataset<?> df) {
    return df.queryExecution().toRdd();
  }

  /** A DataFrame over {@code rows}, which must match {@code schema} in Catalyst's encoding. */
  static Dataset<Row> createDataFrame(
      SparkSession spark, RDD<InternalRow> rows, StructType schema) {
    return ((org.apache.spark.sql.classic.SparkSession) spark)
        .internalCreateDataFrame(rows, schema, false);
  }

  /**
   * Copies {@code n} floats of an {@code array<float>} into {@code dst[offset..]}; one memcpy when
   * the array is in Spark's unsafe format, element by element otherwise.
   */
  static void copyFloats(ArrayData array, float[] dst, int offset, int n) {
    if (array instanceof UnsafeArrayData u) {
      Platform.copyMemory(
          u.getBaseObject(),
          u.getBaseOffset() + UnsafeArrayData.calculateHeaderPortionInBytes(n),
          dst,
          Platform.FLOAT_ARRAY_OFFSET + 4L * offset,
          4L * n);
    } else {
      for (int j = 0; j < n; j++) {
        dst[offset + j] = array.getFloat(j);
      }
    }
  }

  /** {@code input} followed by {@code values} (Catalyst values: Double, or a vector's row). */
  static InternalRow appended(InternalRow input, Object[] values) {
    return new JoinedRow(input, new GenericInternalRow(values));
  }

  /** A dense Spark ML vector in Catalyst's form (VectorUDT's struct). */
  static InternalRow denseVector(double[] values) {
    return VECTORS.serialize(new DenseVector(values));
  }

  /** A one-column row holding {@code v} (null stays null) in VectorUDT's Catalyst form. */
  static InternalRow vectorRow(Vector v) {
    return new GenericInternalRow(new Object[] {v == null ? null : VECTORS.serialize(v)});
  }

  /** Writes Spark ML's params metadata for {@code stage} under {@code path}/metadata. */
  static void saveMetadata(Params stage, String path, SparkSession spark) {
    DefaultParamsWriter.saveMetadata(stage, path, spark);
  }

  /** The params metadata under {@code path}, checked to be written for {@code className}. */
  static DefaultParamsReader.Metadata loadMetadata(
      String path, SparkSession spark, String className) {
    return DefaultParamsReader.loadMetadata(path, spark, className);
  }

  /** Sets the saved params (explicit and default) on {@code stage}. */
  static void setParams(DefaultParamsReader.Metadata metadata, Params stage) {
    metadata.getAndSetParams(stage, Option.empty());
  }
}
