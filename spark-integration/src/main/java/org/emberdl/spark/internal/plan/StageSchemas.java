package org.emberdl.spark.internal.plan;

import java.util.Arrays;
import org.apache.spark.ml.linalg.VectorUDT;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.NumericType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.emberdl.spark.internal.data.FeatureColumn;

/** Schema checks and output schemas shared by Ember's stages; every error names its column. */
public final class StageSchemas {
  private StageSchemas() {}

  /** Checks the features column's type. */
  static void checkFeatures(StructType schema, String featuresCol) {
    FeatureColumn.kindOf(schema, featuresCol);
  }

  /** Checks that the label column exists and is numeric. */
  public static void checkLabel(StructType schema, String labelCol) {
    if (!has(schema, labelCol)) {
      throw new IllegalArgumentException(
          "label column '"
              + labelCol
              + "' does not exist; the columns are "
              + schema.simpleString());
    }
    DataType type = schema.apply(labelCol).dataType();
    if (!(type instanceof NumericType)) {
      throw new IllegalArgumentException(
          "label column '" + labelCol + "' must be numeric, but is " + type.simpleString());
    }
  }

  /** {@code schema} plus the classifier's non-empty output columns. */
  public static StructType classifierOutput(
      StructType schema,
      String featuresCol,
      String rawCol,
      String probabilityCol,
      String predictionCol) {
    checkFeatures(schema, featuresCol);
    StructType out = schema;
    out = append(out, rawCol, new VectorUDT());
    out = append(out, probabilityCol, new VectorUDT());
    return append(out, predictionCol, DataTypes.DoubleType);
  }

  /** {@code schema} plus the regressor's prediction column. */
  public static StructType regressorOutput(
      StructType schema, String featuresCol, String predictionCol) {
    checkFeatures(schema, featuresCol);
    return append(schema, predictionCol, DataTypes.DoubleType);
  }

  private static StructType append(StructType schema, String name, DataType type) {
    if (name == null || name.isEmpty()) {
      return schema;
    }
    if (has(schema, name)) {
      throw new IllegalArgumentException(
          "output column '" + name + "' already exists; choose another name with its setter");
    }
    return schema.add(
        new StructField(name, type, false, org.apache.spark.sql.types.Metadata.empty()));
  }

  private static boolean has(StructType schema, String name) {
    return Arrays.asList(schema.fieldNames()).contains(name);
  }
}
