package org.emberdl.spark;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.apache.spark.ml.linalg.SQLDataTypes;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/** Small synthetic datasets whose answers are known. */
public final class TestData {
  private TestData() {}

  static final StructType FLOAT_ARRAY_SCHEMA =
      new StructType()
          .add("features", DataTypes.createArrayType(DataTypes.FloatType, false), true)
          .add("label", DataTypes.DoubleType, false);

  /**
   * {@code n} points in {@code dim} dimensions around {@code classes} well separated centres (class
   * c's centre is 3 on axis c, noise sd 0.5), as {@code features: array<float>, label: double}.
   */
  public static Dataset<Row> blobs(
      SparkSession spark, int n, int dim, int classes, long seed, int partitions) {
    List<Row> rows = new ArrayList<>();
    for (float[][] p : blobPoints(n, dim, classes, seed)) {
      rows.add(RowFactory.create(p[0], (double) p[1][0]));
    }
    return spark.createDataFrame(rows, FLOAT_ARRAY_SCHEMA).repartition(partitions);
  }

  /**
   * The blobs of {@link #blobs} split into {@code classes * clientsPerClass} clients that each hold
   * one class only (the most skewed non-IID split): row i has class {@code i % classes} and client
   * {@code "c<class>-<(i / classes) % clientsPerClass>"} in column {@code client}; every client has
   * the same number of rows when {@code n} is a multiple of {@code classes * clientsPerClass}.
   */
  public static Dataset<Row> clientBlobs(
      SparkSession spark, int n, int dim, int classes, int clientsPerClass, long seed) {
    List<Row> rows = new ArrayList<>();
    int i = 0;
    for (float[][] p : blobPoints(n, dim, classes, seed)) {
      int c = (int) p[1][0];
      String client = "c" + c + "-" + ((i++ / classes) % clientsPerClass);
      rows.add(RowFactory.create(p[0], (double) c, client));
    }
    StructType schema = FLOAT_ARRAY_SCHEMA.add("client", DataTypes.StringType, false);
    return spark.createDataFrame(rows, schema).repartition(3);
  }

  /**
   * Every float of a float32 safetensors file (a model's {@code weights()}) in file order: the data
   * after the 8-byte header length and the JSON header.
   */
  public static float[] floats(byte[] safetensors) {
    java.nio.ByteBuffer b =
        java.nio.ByteBuffer.wrap(safetensors).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    int start = Math.toIntExact(8 + b.getLong(0));
    float[] out = new float[(safetensors.length - start) / 4];
    b.position(start).asFloatBuffer().get(out);
    return out;
  }

  /** The same points with Spark ML dense vectors. */
  static Dataset<Row> blobVectors(SparkSession spark, int n, int dim, int classes, long seed) {
    List<Row> rows = new ArrayList<>();
    for (float[][] p : blobPoints(n, dim, classes, seed)) {
      double[] d = new double[dim];
      for (int j = 0; j < dim; j++) {
        d[j] = p[0][j];
      }
      rows.add(RowFactory.create(Vectors.dense(d), (double) p[1][0]));
    }
    StructType schema =
        new StructType()
            .add("features", SQLDataTypes.VectorType(), true)
            .add("label", DataTypes.DoubleType, false);
    return spark.createDataFrame(rows, schema).coalesce(1);
  }

  static List<float[][]> blobPoints(int n, int dim, int classes, long seed) {
    Random rnd = new Random(seed);
    List<float[][]> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      int c = i % classes;
      float[] x = new float[dim];
      for (int j = 0; j < dim; j++) {
        x[j] = (float) (rnd.nextGaussian() * 0.5 + (j == c ? 3 : 0));
      }
      out.add(new float[][] {x, {c}});
    }
    return out;
  }

  /** y = 2 x0 - x1 + 0.5 with x uniform in [-1, 1]^dim, no noise. */
  static Dataset<Row> linear(SparkSession spark, int n, int dim, long seed) {
    Random rnd = new Random(seed);
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      float[] x = new float[dim];
      for (int j = 0; j < dim; j++) {
        x[j] = (float) (rnd.nextDouble() * 2 - 1);
      }
      rows.add(RowFactory.create(x, 2.0 * x[0] - x[1] + 0.5));
    }
    return spark.createDataFrame(rows, FLOAT_ARRAY_SCHEMA).repartition(2);
  }
}
