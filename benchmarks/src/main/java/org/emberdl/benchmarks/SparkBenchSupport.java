package org.emberdl.benchmarks;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.IntStream;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.ml.linalg.VectorUDT;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.emberdl.data.Dataset;
import org.emberdl.data.FashionMnist;

/**
 * What the Spark harnesses ({@link SparkInferenceBenchmark}, {@link SparkTrainingBenchmark}) share:
 * the local[2] session (loopback, UI off, log level WARN: SPARK-NOTES section 1), the Fashion-MNIST
 * training images as Parquet, and small statistics helpers. Command-line output goes to stdout by
 * design.
 */
final class SparkBenchSupport {
  /** {@code features array<float>} (pixels / 255), {@code label double}. */
  static final String ARRAY_FILE = "fashion-train-array.parquet";

  /** The same rows with {@code features} as an ML {@code Vector} (what MLlib's models need). */
  static final String VECTOR_FILE = "fashion-train-vector.parquet";

  private static float[] pixels;
  private static long[] labels;

  private SparkBenchSupport() {}

  /** A local[cores] session on loopback, UI off, log level WARN. */
  static SparkSession session(String master) {
    long start = System.nanoTime();
    SparkSession.Builder builder = SparkSession.builder();
    if (master.startsWith("local-cluster")) {
      localClusterSwitches();
      builder.config("spark.executor.memory", "1g");
    }
    SparkSession spark =
        builder
            .master(master)
            .appName("ember-spark-benchmarks")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.sql.shuffle.partitions", "2")
            .getOrCreate();
    spark.sparkContext().setLogLevel("WARN");
    System.out.printf(
        Locale.ROOT,
        "session %s up in %.1f s (default parallelism %d)%n",
        master,
        (System.nanoTime() - start) / 1e9,
        spark.sparkContext().defaultParallelism());
    return spark;
  }

  /**
   * What Spark's {@code local-cluster[N,C,M]} master (executor JVMs launched by in-process workers,
   * Spark's own multi-process test mode) needs outside Spark's source tree: {@code spark.testing},
   * so that executors inherit this JVM's class path, and a Spark home with the directories the
   * launcher checks (the same recipe as cluster-tests' ClusterSupport).
   */
  private static void localClusterSwitches() {
    Path home = Path.of("benchmarks/target/fake-spark-home").toAbsolutePath();
    try {
      Files.createDirectories(home.resolve("jars"));
      Files.createDirectories(home.resolve("launcher/target/scala-2.13"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    System.setProperty("spark.testing", "1");
    System.setProperty("spark.test.home", home.toString());
  }

  /**
   * Writes the 60k Fashion-MNIST training images to {@code dir} as Parquet, once (a file whose
   * {@code _SUCCESS} marker exists is kept): {@link #ARRAY_FILE} and {@link #VECTOR_FILE}, each in
   * {@code files} files (one read partition each).
   */
  static void ensureData(SparkSession spark, Path dir, int files) {
    for (boolean vector : new boolean[] {false, true}) {
      Path out = dir.resolve(vector ? VECTOR_FILE : ARRAY_FILE);
      if (Files.exists(out.resolve("_SUCCESS"))) {
        continue;
      }
      long start = System.nanoTime();
      JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
      List<Integer> parts = IntStream.range(0, files).boxed().toList();
      JavaRDD<Row> rows =
          jsc.parallelize(parts, files).flatMap(p -> slice(p, files, vector).iterator());
      StructType schema =
          new StructType()
              .add(
                  "features",
                  vector ? new VectorUDT() : DataTypes.createArrayType(DataTypes.FloatType, false),
                  false)
              .add("label", DataTypes.DoubleType, false);
      spark.createDataFrame(rows, schema).write().mode("overwrite").parquet(out.toString());
      System.out.printf(
          Locale.ROOT,
          "wrote %s (%d files, %.0f MB) in %.1f s%n",
          out,
          files,
          sizeBytes(out) / 1e6,
          (System.nanoTime() - start) / 1e9);
    }
  }

  /** Rows {@code [p * n / files, (p + 1) * n / files)} of the training set. */
  private static List<Row> slice(int p, int files, boolean vector) {
    float[] x = pixels();
    long[] y = labels;
    int n = y.length;
    int lo = (int) ((long) n * p / files);
    int hi = (int) ((long) n * (p + 1) / files);
    List<Row> rows = new ArrayList<>(hi - lo);
    for (int i = lo; i < hi; i++) {
      float[] f = Arrays.copyOfRange(x, i * 784, (i + 1) * 784);
      Object features;
      if (vector) {
        double[] d = new double[784];
        for (int j = 0; j < 784; j++) {
          d[j] = f[j];
        }
        features = Vectors.dense(d);
      } else {
        features = f;
      }
      rows.add(RowFactory.create(features, (double) y[i]));
    }
    return rows;
  }

  /** The 60000 x 784 training pixels in [0, 1], row-major (loaded once per JVM). */
  static synchronized float[] pixels() {
    if (pixels == null) {
      try (Dataset d = FashionMnist.train()) {
        pixels = d.features().toFloatArray();
        labels = d.labels().toLongArray();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return pixels;
  }

  private static long sizeBytes(Path dir) {
    try (var s = Files.walk(dir)) {
      return s.filter(Files::isRegularFile).mapToLong(f -> f.toFile().length()).sum();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The 1-, 5- and 15-minute load averages. */
  static String loadavg() {
    try {
      String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
      return f[0] + " " + f[1] + " " + f[2];
    } catch (IOException e) {
      return "?";
    }
  }

  static double median(List<Double> values) {
    return TrainingThroughput.median(values.stream().mapToDouble(Double::doubleValue).toArray());
  }

  static double min(List<Double> values) {
    return values.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN);
  }

  static double max(List<Double> values) {
    return values.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN);
  }
}
