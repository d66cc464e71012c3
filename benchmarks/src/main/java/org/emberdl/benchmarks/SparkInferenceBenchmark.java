package org.emberdl.benchmarks;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.spark.ml.classification.MultilayerPerceptronClassificationModel;
import org.apache.spark.ml.classification.MultilayerPerceptronClassifier;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.openblas.global.openblas_nolapack;
import org.emberdl.autograd.NoGrad;
import org.emberdl.autograd.Tensor;
import org.emberdl.nn.Module;
import org.emberdl.nn.NetworkSpec;
import org.emberdl.spark.EmberClassificationModel;
import org.emberdl.spark.EmberClassifier;
import org.emberdl.spark.internal.infer.TransformDecodeProbe;
import org.emberdl.tensor.EmberConfig;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;

/**
 * Batch inference throughput (rows/s) on local[2]: Ember's {@code
 * EmberClassificationModel.transform} against Spark MLlib's {@code
 * MultilayerPerceptronClassificationModel} with the same layer sizes (784-256-128-10), the engine's
 * standalone forward on the same rows in this JVM, and Spark's own Parquet decode as a floor.
 * Weights do not matter for speed: the Ember model is fitted for one epoch on {@code --fit-rows}
 * rows, the MLlib one with {@code maxIter} 1.
 *
 * <p>Each case scores the 60k Fashion-MNIST training images once per run:
 *
 * <ul>
 *   <li>{@code decode-features}: "decode only", {@code transform}'s own reader (the vectorized
 *       reader's columnar batches, features copied into a batch buffer with every check) without
 *       the forward pass or output rows ({@code TransformDecodeProbe}).
 *   <li>{@code decode-array} / {@code decode-vector}: {@code
 *       spark.read.parquet(f).write.format("noop")} of the {@code array<float>} and the {@code
 *       Vector} file.
 *   <li>{@code ember-bN}: {@code model.setInferenceBatchSize(N).transform(spark.read.parquet(f))}
 *       written to {@code noop} ({@code rawPrediction}, {@code probability}, {@code prediction}),
 *       on the {@code array<float>} file, read from the vectorized reader's columnar batches;
 *       {@code ember-rows-bN} the same through Catalyst rows (a filter that keeps every row makes
 *       the plan non-columnar); {@code ember-vector-bN} the same on the Vector file.
 *   <li>{@code mllib}: MLlib's model on the Vector file, written to {@code noop}.
 *   <li>{@code standalone-2t-bN}: the same network ({@code NetworkSpec.mlp}) in this JVM, eval
 *       mode, {@code NoGrad}, batches of N rows viewed out of one in-memory (60000, 784) array,
 *       outputs read back with {@code toFloatArray}; 2 Ember threads. {@code standalone-2x1t-bN}:
 *       two Java threads, each with its own replica at 1 Ember thread on half the rows (the shape
 *       of local[2]: two tasks of {@code spark.task.cpus} = 1).
 * </ul>
 *
 * Warm-up runs of every case first, then {@code --runs} rounds with the cases interleaved. Prints
 * {@code RUN case rows/s} lines, a {@code SUMMARY} table (median, min, max rows/s) and, per batch
 * size, a {@code BOUND} line: {@code ember-bN} against the pipelined bound {@code 1/(1/decode +
 * 1/forward)} of {@code decode-features} and {@code standalone-2x1t-bN} (medians of the same run).
 *
 * <pre>
 * --work-dir DIR        Parquet files (written once) (default benchmarks/target/spark-bench)
 * --master M            default local[2]
 * --files N             Parquet files per data set = read partitions (default 2)
 * --batch-sizes LIST    inferenceBatchSize values (default 256,1024)
 * --runs N              timed rounds (default 5)
 * --warmup N            warm-up rounds (default 2)
 * --fit-rows N          rows the models are fitted on (default 8192)
 * --cases LIST          only these cases (prefix match, e.g. ember,mllib)
 * --mllib-blas M        ember (default): MLlib's netlib BLAS uses Ember's OpenBLAS library;
 *                       default: netlib's own choice (system libblas.so.3, else VectorBLAS); only
 *                       allowed when no Ember or standalone case runs in the JVM; java: VectorBLAS
 * </pre>
 *
 * <p><b>MLlib and Ember in one JVM.</b> Ember loads bytedeco's OpenBLAS 0.3.31, whose SONAME is
 * {@code libopenblas.so.0}. MLlib's netlib JNIBLAS dlopens the system's {@code libblas.so.3}; on
 * Debian/Ubuntu with OpenBLAS installed that is a thin BLAS interface that NEEDs {@code
 * libopenblas.so.0}, which the dynamic linker then binds to bytedeco's already loaded 0.3.31 core
 * instead of Debian's 0.3.21 one: the JVM died with SIGSEGV in {@code dgemm_oncopy_ZEN} during
 * MLlib's fit. Pointing netlib at the library Ember loaded ({@code
 * -Ddev.ludovic.netlib.blas.nativeLibPath}) avoids the mix, and both run on the same BLAS.
 */
public final class SparkInferenceBenchmark {
  private static final int[] LAYERS = {784, 256, 128, 10};
  private static final int DIM = 784;

  private SparkInferenceBenchmark() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> o = TrainingThroughput.parse(args);
    Path dir = Path.of(o.getOrDefault("work-dir", "benchmarks/target/spark-bench"));
    int files = Integer.parseInt(o.getOrDefault("files", "2"));
    int runs = Integer.parseInt(o.getOrDefault("runs", "5"));
    int warmup = Integer.parseInt(o.getOrDefault("warmup", "2"));
    int fitRows = Integer.parseInt(o.getOrDefault("fit-rows", "8192"));
    List<Integer> batchSizes = new ArrayList<>();
    for (String b : o.getOrDefault("batch-sizes", "256,1024").split(",")) {
      batchSizes.add(Integer.parseInt(b));
    }
    String[] only = o.containsKey("cases") ? o.get("cases").split(",") : null;
    String mllibBlasMode = o.getOrDefault("mllib-blas", "ember");
    System.out.println("load at start: " + SparkBenchSupport.loadavg());

    SparkSession spark = SparkBenchSupport.session(o.getOrDefault("master", "local[2]"));
    SparkBenchSupport.ensureData(spark, dir, files);
    String arrayFile = dir.resolve(SparkBenchSupport.ARRAY_FILE).toString();
    String vectorFile = dir.resolve(SparkBenchSupport.VECTOR_FILE).toString();
    long rows = spark.read().parquet(arrayFile).count();
    System.out.printf(
        Locale.ROOT,
        "%d rows; read partitions: array file %d, vector file %d%n",
        rows,
        spark.read().parquet(arrayFile).rdd().getNumPartitions(),
        spark.read().parquet(vectorFile).rdd().getNumPartitions());

    // The case names first, so that only what the selected cases need is built.
    List<String> names =
        new ArrayList<>(List.of("decode-array", "decode-vector", "decode-features"));
    for (int b : batchSizes) {
      names.add("ember-b" + b);
    }
    int lastBatch = batchSizes.get(batchSizes.size() - 1);
    names.add("ember-rows-b" + lastBatch);
    names.add("ember-vector-b" + lastBatch);
    names.add("mllib");
    for (int b : batchSizes) {
      names.add("standalone-2t-b" + b);
      names.add("standalone-2x1t-b" + b);
    }
    if (only != null) {
      names.removeIf(k -> !matches(k, only));
    }
    boolean needEmber = names.stream().anyMatch(k -> k.startsWith("ember"));
    boolean needMllib = names.contains("mllib");
    boolean needStandalone = names.stream().anyMatch(k -> k.startsWith("standalone"));

    // MLlib's native BLAS (netlib JNIBLAS) and Ember's OpenBLAS in one JVM: see mllibBlas().
    if (needMllib) {
      mllibBlas(mllibBlasMode, needEmber || needStandalone);
    }

    EmberClassificationModel ember = null;
    if (needEmber) {
      long t0 = System.nanoTime();
      ember =
          new EmberClassifier()
              .setFeaturesCol("features")
              .setLabelCol("label")
              .setLayers(LAYERS)
              .setOptimizer("adam")
              .setLearningRate(1e-3)
              .setBatchSize(128)
              .setMaxEpochs(1)
              .setSeed(42L)
              .setNumPartitions(2)
              .fit(spark.read().parquet(arrayFile).limit(fitRows));
      System.out.printf(
          Locale.ROOT,
          "Ember model fitted on %d rows in %.1f s%n",
          fitRows,
          (System.nanoTime() - t0) / 1e9);
    }
    MultilayerPerceptronClassificationModel mllib = null;
    if (needMllib) {
      long t0 = System.nanoTime();
      mllib =
          new MultilayerPerceptronClassifier()
              .setLayers(LAYERS)
              .setMaxIter(1)
              .setSeed(1234L)
              .fit(spark.read().parquet(vectorFile).limit(fitRows));
      System.out.printf(
          Locale.ROOT,
          "MLlib model fitted on %d rows (maxIter 1) in %.1f s; MLlib BLAS: %s%n",
          fitRows,
          (System.nanoTime() - t0) / 1e9,
          blasName());
    }

    // The standalone engine's data and replicas, built once.
    NDArray all = null;
    Module[] replicas = new Module[2];
    int n = (int) rows;
    if (needStandalone) {
      float[] pixels = SparkBenchSupport.pixels();
      all = NDArray.of(pixels, pixels.length / DIM, DIM);
      n = all.shape()[0];
      for (int i = 0; i < replicas.length; i++) {
        replicas[i] =
            NetworkSpec.build(NetworkSpec.mlp(LAYERS), new int[] {DIM}, new Generator(42));
        replicas[i].eval();
      }
    }
    ExecutorService pool = Executors.newFixedThreadPool(2);

    Map<String, Runnable> cases = new LinkedHashMap<>();
    cases.put("decode-array", () -> noop(spark.read().parquet(arrayFile)));
    cases.put("decode-vector", () -> noop(spark.read().parquet(vectorFile)));
    // transform's own reader without the forward pass: the "decode only" side of the bound
    cases.put(
        "decode-features",
        () -> {
          String r =
              TransformDecodeProbe.decode(
                  spark.read().parquet(arrayFile), "features", DIM, batchSizes.get(0));
          if (!r.equals(rows + " true")) {
            throw new IllegalStateException("decode-features read " + r + ", not columnar");
          }
        });
    EmberClassificationModel em = ember;
    for (int b : batchSizes) {
      cases.put(
          "ember-b" + b,
          () -> noop(em.setInferenceBatchSize(b).transform(spark.read().parquet(arrayFile))));
    }
    // the row path on the same file: a filter that keeps every row makes the plan non-columnar
    cases.put(
        "ember-rows-b" + lastBatch,
        () ->
            noop(
                em.setInferenceBatchSize(lastBatch)
                    .transform(spark.read().parquet(arrayFile).filter("label IS NOT NULL"))));
    cases.put(
        "ember-vector-b" + lastBatch,
        () ->
            noop(em.setInferenceBatchSize(lastBatch).transform(spark.read().parquet(vectorFile))));
    MultilayerPerceptronClassificationModel ml = mllib;
    cases.put("mllib", () -> noop(ml.transform(spark.read().parquet(vectorFile))));
    NDArray data = all;
    int total = n;
    for (int b : batchSizes) {
      cases.put("standalone-2t-b" + b, () -> standalone(data, 0, total, b, replicas[0], 2));
      cases.put(
          "standalone-2x1t-b" + b,
          () -> {
            Future<?> half =
                pool.submit(() -> standalone(data, total / 2, total, b, replicas[1], 1));
            standalone(data, 0, total / 2, b, replicas[0], 1);
            try {
              half.get();
            } catch (Exception e) {
              throw new IllegalStateException(e);
            }
          });
    }
    cases.keySet().retainAll(names);

    if (ember != null) {
      System.out.println(
          "Ember transform plan:\n"
              + ember
                  .setInferenceBatchSize(batchSizes.get(0))
                  .transform(spark.read().parquet(arrayFile))
                  .queryExecution()
                  .executedPlan());
    }
    Map<String, List<Double>> rates = new LinkedHashMap<>();
    for (int round = -warmup; round < runs; round++) {
      for (Map.Entry<String, Runnable> c : cases.entrySet()) {
        long start = System.nanoTime();
        c.getValue().run();
        double seconds = (System.nanoTime() - start) / 1e9;
        double rate = n / seconds;
        System.out.printf(
            Locale.ROOT,
            "%s %s %.0f rows/s (%.2f s) load %s%n",
            round < 0 ? "WARMUP" : "RUN",
            c.getKey(),
            rate,
            seconds,
            SparkBenchSupport.loadavg());
        if (round >= 0) {
          rates.computeIfAbsent(c.getKey(), k -> new ArrayList<>()).add(rate);
        }
      }
    }
    pool.shutdown();

    System.out.println("\nSUMMARY rows/s over " + runs + " runs (median, min, max)");
    for (Map.Entry<String, List<Double>> e : rates.entrySet()) {
      System.out.printf(
          Locale.ROOT,
          "SUMMARY %-22s %8.0f %8.0f %8.0f%n",
          e.getKey(),
          SparkBenchSupport.median(e.getValue()),
          SparkBenchSupport.min(e.getValue()),
          SparkBenchSupport.max(e.getValue()));
    }
    Double mllibRate = med(rates, "mllib");
    for (int b : batchSizes) {
      Double e = med(rates, "ember-b" + b);
      if (e == null) {
        continue;
      }
      if (mllibRate != null) {
        System.out.printf(Locale.ROOT, "RATIO ember-b%d / mllib %.1fx%n", b, e / mllibRate);
      }
      for (String s : new String[] {"standalone-2t-b", "standalone-2x1t-b"}) {
        Double sa = med(rates, s + b);
        if (sa != null) {
          System.out.printf(Locale.ROOT, "RATIO ember-b%d / %s%d %.0f%%%n", b, s, b, 100 * e / sa);
        }
      }
    }
    // transform against the pipelined bound of its two halves on the same two cores: Parquet
    // decoding through transform's reader (decode-features) and the forward pass in the shape of
    // local[2] (standalone-2x1t-bN, two tasks of one thread on in-memory batches)
    Double decode = med(rates, "decode-features");
    for (int b : batchSizes) {
      Double e = med(rates, "ember-b" + b);
      Double forward = med(rates, "standalone-2x1t-b" + b);
      if (e != null && decode != null && forward != null) {
        double bound = 1 / (1 / decode + 1 / forward);
        // the same ratio within each round, whose cases ran back to back under the same load
        List<Double> perRound = new ArrayList<>();
        List<Double> d = rates.get("decode-features");
        List<Double> f = rates.get("standalone-2x1t-b" + b);
        List<Double> t = rates.get("ember-b" + b);
        for (int r = 0; r < t.size(); r++) {
          perRound.add(100 * t.get(r) * (1 / d.get(r) + 1 / f.get(r)));
        }
        System.out.printf(
            Locale.ROOT,
            "BOUND b%d decode %.0f forward %.0f bound %.0f transform %.0f rows/s = %.0f%% of the"
                + " bound; per round %.0f%% median (%.0f-%.0f%%)%n",
            b,
            decode,
            forward,
            bound,
            e,
            100 * e / bound,
            SparkBenchSupport.median(perRound),
            SparkBenchSupport.min(perRound),
            SparkBenchSupport.max(perRound));
      }
    }
    Double ev = med(rates, "ember-vector-b" + lastBatch);
    if (ev != null && mllibRate != null) {
      System.out.printf(
          Locale.ROOT, "RATIO ember-vector-b%d / mllib %.1fx%n", lastBatch, ev / mllibRate);
    }
    System.out.println("load at end: " + SparkBenchSupport.loadavg());
    for (Module m : replicas) {
      if (m != null) {
        m.close();
      }
    }
    if (all != null) {
      all.close();
    }
    spark.stop();
  }

  /** Sets up MLlib's BLAS before its first use (see the class comment). */
  private static void mllibBlas(String mode, boolean emberInJvm) throws Exception {
    switch (mode) {
      case "ember" -> {
        Loader.load(openblas_nolapack.class);
        String lib = null;
        for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
          if (line.endsWith("/libopenblas_nolapack.so.0")) {
            lib = line.substring(line.indexOf('/'));
            break;
          }
        }
        if (lib == null) {
          throw new IllegalStateException("Ember's OpenBLAS library is not mapped");
        }
        System.setProperty("dev.ludovic.netlib.blas.nativeLibPath", lib);
      }
      case "java" -> System.setProperty("dev.ludovic.netlib.blas.nativeLib", "no-native-blas");
      case "default" -> {
        if (emberInJvm) {
          throw new IllegalArgumentException(
              "--mllib-blas default with Ember in the same JVM can crash it (see the class"
                  + " comment); run --cases mllib,decode alone");
        }
      }
      default -> throw new IllegalArgumentException("--mllib-blas ember|default|java");
    }
  }

  private static String blasName() {
    String blas = dev.ludovic.netlib.blas.BLAS.getInstance().getClass().getSimpleName();
    String path = System.getProperty("dev.ludovic.netlib.blas.nativeLibPath");
    return blas + (path != null && blas.equals("JNIBLAS") ? " on " + path : "");
  }

  private static boolean matches(String name, String[] prefixes) {
    for (String p : prefixes) {
      if (name.startsWith(p)) {
        return true;
      }
    }
    return false;
  }

  private static Double med(Map<String, List<Double>> rates, String key) {
    List<Double> v = rates.get(key);
    return v == null ? null : SparkBenchSupport.median(v);
  }

  private static void noop(Dataset<Row> df) {
    df.write().format("noop").mode("overwrite").save();
  }

  /** Forward passes over rows [lo, hi) of {@code all} in batches, outputs read back. */
  private static void standalone(NDArray all, int lo, int hi, int batch, Module net, int threads) {
    EmberConfig.setThreads(threads);
    double sink = 0;
    try (NoGrad ng = NoGrad.enter()) {
      for (int from = lo; from < hi; from += batch) {
        int rows = Math.min(batch, hi - from);
        try (MemoryScope scope = MemoryScope.open()) {
          Tensor out = net.forward(Tensor.of(all.narrow(0, from, rows)));
          float[] logits = out.data().toFloatArray();
          sink += logits[0];
        }
      }
    }
    if (Double.isNaN(sink)) {
      throw new IllegalStateException("NaN logits");
    }
  }
}
