package org.emberdl.benchmarks;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.emberdl.spark.EmberClassificationModel;
import org.emberdl.spark.EmberClassifier;
import org.emberdl.spark.EpochMetrics;
import org.emberdl.spark.TrainingSummary;
import org.emberdl.tensor.EmberConfig;
import scala.reflect.ClassTag$;

/**
 * Training throughput of {@code EmberClassifier} on local[2] against the standalone training loop
 * in the same JVM: the Fashion-MNIST MLP 784-256-128-10, Adam lr 1e-3, global batch {@code
 * --batches} (128, 512), {@code numPartitions} 2, {@code --epochs} epochs (default 2: epoch 1
 * includes the executors' first use of the network and cold code paths; the rows are converted and
 * cached before epoch 1 starts, so both epochs run on cached data).
 *
 * <p>Per fit it prints each epoch's samples/s and wall time from the training summary, the round
 * time (epoch wall / rounds), and Spark's own timing of the round jobs ({@link
 * SparkRoundListener}): job wall (submit to end), the delay from submit to the first task launch,
 * the span of the tasks, the time from the last task's end to the job's end, each task's
 * deserialization, run, CPU, result serialization and GC time, and the driver's time outside the
 * job (round minus job).
 *
 * <p>Standalone: {@link TrainingThroughput}'s loop (the examples' {@code Mlp}, same layers, Adam lr
 * 1e-3, zero grad, forward, cross-entropy, backward, step, {@code loss.item()} in one {@code
 * MemoryScope}) at the global batch with 2 and 1 Ember threads, and at the per-partition batch
 * (batch / partitions) with 1 thread, which is the compute each task of a round does. Its ms per
 * step is batch / (samples/s).
 *
 * <p>Per-round coordination overhead = Spark round ms - standalone step ms (2 threads), also as %
 * of the round. Runs are interleaved: for each repetition, for each batch size: the Spark fit, then
 * the standalone configurations. A warm-up fit on 8192 rows comes first.
 *
 * <pre>
 * --work-dir DIR        Parquet files (written once) (default benchmarks/target/spark-bench)
 * --master M            default local[2]
 * --files N             Parquet files for a fresh data set (default 2)
 * --batches LIST        global batch sizes (default 128,512)
 * --epochs N            default 2
 * --limit N             train on the first N rows (default: all 60000)
 * --partitions N        numPartitions (default 2)
 * --reps N              repetitions (default 3)
 * --standalone-threads LIST   default 2,1
 * --rep-seconds X       standalone: length of one timed repetition (default 1.0)
 * --standalone-reps N   standalone: timed repetitions per configuration (default 3)
 * --warmup-seconds X    standalone: warm-up per configuration (default 2.0)
 * --skip-standalone true|false   default false
 * --probe-jobs N        jobs per Spark round-cost probe per repetition (default 200; 0: none)
 * --execution-mode M    EmberClassifier's executionMode: stage or rounds (default: its default)
 * </pre>
 *
 * <p>Probes: what a round costs in Spark alone, without Ember, on a cached 2-partition RDD (one
 * element per partition), timed per job over {@code --probe-jobs} jobs: an empty {@code
 * mapPartitionsWithIndex(...).collect()}; the same after broadcasting the model's 235,146 floats as
 * a {@code float[]} (broadcast created, read by both tasks, destroyed, as the coordinator does
 * every round) or as a {@code byte[]}; jobs whose tasks each return the gradient as a {@code
 * float[]} (as {@code PartitionTrainer} does) or as a {@code byte[]}; and both float[] (a round's
 * Spark traffic with no compute). Also the empty job through {@code SparkContext.runJob} with a
 * function from a small class ({@link SparkProbeFunctions}), which skips what {@code collect()}
 * costs in Spark's ClosureCleaner.
 */
public final class SparkTrainingBenchmark {
  private static final int[] LAYERS = {784, 256, 128, 10};

  /** Parameters of the 784-256-128-10 MLP (weights and biases). */
  private static final int PARAMETERS = 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10;

  /** --execution-mode, or null for EmberClassifier's default. */
  private static String executionMode;

  private SparkTrainingBenchmark() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> o = TrainingThroughput.parse(args);
    Path dir = Path.of(o.getOrDefault("work-dir", "benchmarks/target/spark-bench"));
    int files = Integer.parseInt(o.getOrDefault("files", "2"));
    int epochs = Integer.parseInt(o.getOrDefault("epochs", "2"));
    int partitions = Integer.parseInt(o.getOrDefault("partitions", "2"));
    int reps = Integer.parseInt(o.getOrDefault("reps", "3"));
    int limit = Integer.parseInt(o.getOrDefault("limit", "0"));
    double repSeconds = Double.parseDouble(o.getOrDefault("rep-seconds", "1.0"));
    int standaloneReps = Integer.parseInt(o.getOrDefault("standalone-reps", "3"));
    double warmupSeconds = Double.parseDouble(o.getOrDefault("warmup-seconds", "2.0"));
    boolean skipStandalone = Boolean.parseBoolean(o.getOrDefault("skip-standalone", "false"));
    int probeJobs = Integer.parseInt(o.getOrDefault("probe-jobs", "200"));
    List<Integer> batches = ints(o.getOrDefault("batches", "128,512"));
    executionMode = o.get("execution-mode");
    List<Integer> threads = ints(o.getOrDefault("standalone-threads", "2,1"));
    System.out.println("load at start: " + SparkBenchSupport.loadavg());

    SparkSession spark = SparkBenchSupport.session(o.getOrDefault("master", "local[2]"));
    SparkRoundListener listener = new SparkRoundListener();
    spark.sparkContext().addSparkListener(listener);
    SparkBenchSupport.ensureData(spark, dir, files);
    String arrayFile = dir.resolve(SparkBenchSupport.ARRAY_FILE).toString();

    // Warm-up fit (JIT, Spark's code paths), not reported.
    fit(spark, arrayFile, 8192, 128, 1, partitions);
    listener.drain(0);

    Map<String, List<Double>> results = new LinkedHashMap<>();
    for (int rep = 0; rep < reps; rep++) {
      if (probeJobs > 0) {
        probes(spark, results, probeJobs);
      }
      for (int batch : batches) {
        long start = System.nanoTime();
        EmberClassificationModel model = fit(spark, arrayFile, limit, batch, epochs, partitions);
        double fitSeconds = (System.nanoTime() - start) / 1e9;
        TrainingSummary s = model.trainingSummary();
        List<SparkRoundListener.Round> rounds =
            listener.drain(s.roundsPerEpoch() * s.epochs().size());
        double epochSeconds = 0;
        for (EpochMetrics m : s.epochs()) {
          epochSeconds += m.seconds();
          double roundMs = 1000 * m.seconds() / s.roundsPerEpoch();
          String key = "spark b" + batch + " e" + m.epoch();
          add(results, key + " samples/s", m.samplesPerSecond());
          add(results, key + " round ms", roundMs);
          System.out.printf(
              Locale.ROOT,
              "RUN spark batch=%d epoch=%d samples/s=%.0f seconds=%.2f rounds=%d round_ms=%.2f"
                  + " loss=%.4f acc=%.4f load %s%n",
              batch,
              m.epoch(),
              m.samplesPerSecond(),
              m.seconds(),
              s.roundsPerEpoch(),
              roundMs,
              m.loss(),
              m.accuracy(),
              SparkBenchSupport.loadavg());
          breakdown(results, key, roundMs, rounds, m.epoch());
        }
        System.out.printf(
            Locale.ROOT,
            "RUN spark batch=%d fit_seconds=%.1f (epochs %.1f, setup incl. conversion, cache and"
                + " result %.1f) meanRoundMillis=%.2f rows=%d partitions=%d%n",
            batch,
            fitSeconds,
            epochSeconds,
            fitSeconds - epochSeconds,
            s.meanRoundMillis(),
            s.trainRows(),
            s.partitions());
        add(results, "spark b" + batch + " meanRoundMillis", s.meanRoundMillis());
        add(results, "spark b" + batch + " setup s", fitSeconds - epochSeconds);
        if (skipStandalone) {
          continue;
        }
        List<int[]> configs = new ArrayList<>();
        for (int t : threads) {
          configs.add(new int[] {batch, t});
        }
        configs.add(new int[] {batch / partitions, 1});
        for (int[] c : configs) {
          EmberConfig.setThreads(c[1]);
          double[] rates =
              TrainingThroughput.run("mlp", c[0], standaloneReps, repSeconds, warmupSeconds, 42L);
          double median = TrainingThroughput.median(rates);
          String key = "standalone b" + c[0] + " " + c[1] + "t";
          add(results, key + " samples/s", median);
          add(results, key + " step ms", 1000.0 * c[0] / median);
          System.out.printf(
              Locale.ROOT,
              "RUN standalone batch=%d threads=%d samples/s=%.0f step_ms=%.3f load %s%n",
              c[0],
              c[1],
              median,
              1000.0 * c[0] / median,
              SparkBenchSupport.loadavg());
        }
      }
    }

    System.out.println("\nSUMMARY median over " + reps + " repetitions (min, max)");
    for (Map.Entry<String, List<Double>> e : results.entrySet()) {
      System.out.printf(
          Locale.ROOT,
          "SUMMARY %-44s %10.2f  (%.2f, %.2f)%n",
          e.getKey(),
          SparkBenchSupport.median(e.getValue()),
          SparkBenchSupport.min(e.getValue()),
          SparkBenchSupport.max(e.getValue()));
    }
    if (!skipStandalone) {
      for (int batch : batches) {
        Double step = med(results, "standalone b" + batch + " 2t step ms");
        Double sa2 = med(results, "standalone b" + batch + " 2t samples/s");
        for (int e = 1; e <= epochs; e++) {
          Double round = med(results, "spark b" + batch + " e" + e + " round ms");
          Double sps = med(results, "spark b" + batch + " e" + e + " samples/s");
          if (round == null || step == null) {
            continue;
          }
          System.out.printf(
              Locale.ROOT,
              "OVERHEAD batch=%d epoch=%d spark %.0f samples/s = %.0f%% of standalone 2t;"
                  + " round %.2f ms - standalone 2t step %.2f ms = %.2f ms per round (%.0f%% of"
                  + " the round)%n",
              batch,
              e,
              sps,
              100 * sps / sa2,
              round,
              step,
              round - step,
              100 * (round - step) / round);
        }
      }
    }
    System.out.println("load at end: " + SparkBenchSupport.loadavg());
    spark.stop();
  }

  private static EmberClassificationModel fit(
      SparkSession spark, String file, int limit, int batch, int epochs, int partitions) {
    Dataset<Row> df = spark.read().parquet(file);
    if (limit > 0) {
      df = df.limit(limit);
    }
    EmberClassifier clf = new EmberClassifier();
    if (executionMode != null) {
      clf.setExecutionMode(executionMode);
    }
    return clf.setFeaturesCol("features")
        .setLabelCol("label")
        .setLayers(LAYERS)
        .setOptimizer("adam")
        .setLearningRate(1e-3)
        .setBatchSize(batch)
        .setMaxEpochs(epochs)
        .setSeed(42L)
        .setNumPartitions(partitions)
        .fit(df);
  }

  /** Spark's timing of one epoch's round jobs (means per round / per task), printed and kept. */
  private static void breakdown(
      Map<String, List<Double>> results,
      String key,
      double roundMs,
      List<SparkRoundListener.Round> rounds,
      int epoch) {
    double job = 0;
    double launchDelay = 0;
    double taskSpan = 0;
    double afterTasks = 0;
    double deser = 0;
    double run = 0;
    double cpu = 0;
    double resultSer = 0;
    double gc = 0;
    double resultBytes = 0;
    int n = 0;
    int tasks = 0;
    for (SparkRoundListener.Round r : rounds) {
      if (r.epoch != epoch || r.ended < 0) {
        continue;
      }
      n++;
      job += r.ended - r.submitted;
      launchDelay += r.firstLaunch() - r.submitted;
      taskSpan += r.lastFinish() - r.firstLaunch();
      afterTasks += r.ended - r.lastFinish();
      for (SparkRoundListener.Task t : r.tasks) {
        tasks++;
        deser += t.deserialize();
        run += t.run();
        cpu += t.cpuNanos() / 1e6;
        resultSer += t.resultSerialize();
        gc += t.gc();
        resultBytes += t.resultBytes();
      }
    }
    if (n == 0 || tasks == 0) {
      System.out.println("  (no Spark timing for epoch " + epoch + ")");
      return;
    }
    job /= n;
    add(results, key + " job ms", job);
    add(results, key + " driver outside job ms", roundMs - job);
    add(results, key + " submit->first launch ms", launchDelay / n);
    add(results, key + " task span ms", taskSpan / n);
    add(results, key + " last task end->job end ms", afterTasks / n);
    add(results, key + " task deserialize ms", deser / tasks);
    add(results, key + " task run ms", run / tasks);
    add(results, key + " task cpu ms", cpu / tasks);
    add(results, key + " task result serialize ms", resultSer / tasks);
    add(results, key + " task gc ms", gc / tasks);
    System.out.printf(
        Locale.ROOT,
        "  spark timing epoch %d (%d rounds, %d tasks): job %.2f ms (driver outside job %.2f);"
            + " submit->first launch %.2f, task span %.2f, last task end->job end %.2f;"
            + " per task: deserialize %.2f, run %.2f (cpu %.2f), result serialize %.2f, gc %.2f,"
            + " result %.0f KB%n",
        epoch,
        n,
        tasks,
        job,
        roundMs - job,
        launchDelay / n,
        taskSpan / n,
        afterTasks / n,
        deser / tasks,
        run / tasks,
        cpu / tasks,
        resultSer / tasks,
        gc / tasks,
        resultBytes / tasks / 1024);
  }

  /** The Spark-only cost of a round's pieces (see the class comment), ms per job. */
  private static void probes(SparkSession spark, Map<String, List<Double>> results, int jobs) {
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    JavaRDD<Integer> parts = jsc.parallelize(List.of(0, 1), 2).cache();
    parts.count();
    float[] weights = new float[PARAMETERS];
    byte[] weightBytes = new byte[4 * PARAMETERS];
    Map<String, Runnable> probes = new LinkedHashMap<>();
    probes.put(
        "empty job", () -> parts.mapPartitionsWithIndex((i, it) -> single(i), true).collect());
    probes.put(
        "empty job, SparkContext.runJob",
        () ->
            spark
                .sparkContext()
                .runJob(
                    parts.rdd(),
                    SparkProbeFunctions.<Integer>partitionId(),
                    ClassTag$.MODULE$.apply(Integer.class)));
    probes.put(
        "broadcast float[] + job",
        () -> {
          Broadcast<float[]> bc = jsc.broadcast(weights);
          parts.mapPartitionsWithIndex((i, it) -> single(bc.value().length), true).collect();
          bc.destroy();
        });
    probes.put(
        "broadcast byte[] + job",
        () -> {
          Broadcast<byte[]> bc = jsc.broadcast(weightBytes);
          parts.mapPartitionsWithIndex((i, it) -> single(bc.value().length), true).collect();
          bc.destroy();
        });
    probes.put(
        "job returning float[]",
        () ->
            parts.mapPartitionsWithIndex((i, it) -> single(new float[PARAMETERS]), true).collect());
    probes.put(
        "job returning byte[]",
        () ->
            parts
                .mapPartitionsWithIndex((i, it) -> single(new byte[4 * PARAMETERS]), true)
                .collect());
    probes.put(
        "broadcast float[] + job returning float[]",
        () -> {
          Broadcast<float[]> bc = jsc.broadcast(weights);
          parts
              .mapPartitionsWithIndex((i, it) -> single(new float[bc.value().length]), true)
              .collect();
          bc.destroy();
        });
    for (Map.Entry<String, Runnable> p : probes.entrySet()) {
      for (int w = 0; w < jobs / 5; w++) {
        p.getValue().run();
      }
      long start = System.nanoTime();
      for (int j = 0; j < jobs; j++) {
        p.getValue().run();
      }
      double ms = (System.nanoTime() - start) / 1e6 / jobs;
      add(results, "probe " + p.getKey() + " ms", ms);
      System.out.printf(
          Locale.ROOT,
          "RUN probe %-42s %.2f ms per job (load %s)%n",
          p.getKey(),
          ms,
          SparkBenchSupport.loadavg());
    }
    parts.unpersist(true);
  }

  private static <T> Iterator<T> single(T value) {
    return Collections.singletonList(value).iterator();
  }

  private static void add(Map<String, List<Double>> results, String key, double value) {
    results.computeIfAbsent(key, k -> new ArrayList<>()).add(value);
  }

  private static Double med(Map<String, List<Double>> results, String key) {
    List<Double> v = results.get(key);
    return v == null ? null : SparkBenchSupport.median(v);
  }

  private static List<Integer> ints(String csv) {
    List<Integer> out = new ArrayList<>();
    for (String s : csv.split(",")) {
      out.add(Integer.parseInt(s.trim()));
    }
    return out;
  }
}
