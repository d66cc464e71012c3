package org.emberdl.examples;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.apache.spark.SparkConf;
import org.apache.spark.ml.Transformer;
import org.apache.spark.ml.evaluation.MulticlassClassificationEvaluator;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoder;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.emberdl.data.FashionMnist;
import org.emberdl.examples.EmberCli.ConvertArgs;
import org.emberdl.examples.EmberCli.DemoArgs;
import org.emberdl.examples.EmberCli.ExportArgs;
import org.emberdl.examples.EmberCli.PredictArgs;
import org.emberdl.examples.EmberCli.TrainArgs;
import org.emberdl.spark.EmberClassificationModel;
import org.emberdl.spark.EmberClassifier;
import org.emberdl.spark.EmberOnnxModel;
import org.emberdl.spark.EpochMetrics;
import org.emberdl.spark.TrainingSummary;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** What {@link EmberCli}'s commands do with Spark (kept apart so that parsing needs no Spark). */
final class SparkJobs {
  private static final Logger LOG = LoggerFactory.getLogger(SparkJobs.class);

  /** Examples per DataFrame when converting: about 25 MB of pixels on the driver at a time. */
  private static final int CHUNK_ROWS = 8192;

  private SparkJobs() {}

  // ---------------------------------------------------------------------------------------------
  // Session

  /**
   * The session. Under spark-submit (which sets the system property {@code spark.master}) its
   * settings are used as they are; otherwise Spark runs embedded on {@code master} (default {@code
   * local[*]}), and a local master keeps the driver on the loopback interface with the web UI off
   * (unless {@code -Dspark.ui.enabled=true}).
   */
  static SparkSession session(String appName, String master) {
    SparkConf submitted = new SparkConf(); // the spark.* system properties spark-submit sets
    SparkSession.Builder builder = SparkSession.builder().appName(appName);
    if (submitted.contains("spark.master")) {
      if (master != null && !master.equals(submitted.get("spark.master"))) {
        LOG.warn(
            "--master {} ignored: spark-submit set the master {}",
            master,
            submitted.get("spark.master"));
      }
    } else {
      String m = master == null ? "local[*]" : master;
      builder.master(m);
      if (m.startsWith("local")) {
        for (String key : new String[] {"spark.driver.host", "spark.driver.bindAddress"}) {
          if (!submitted.contains(key)) {
            builder.config(key, "127.0.0.1");
          }
        }
        if (!submitted.contains("spark.ui.enabled")) {
          builder.config("spark.ui.enabled", "false");
        }
      }
    }
    SparkSession spark = builder.getOrCreate();
    LOG.info("Spark {} on {}", spark.version(), spark.sparkContext().master());
    return spark;
  }

  // ---------------------------------------------------------------------------------------------
  // convert

  static void convert(ConvertArgs a, PrintStream out) throws Exception {
    OutputGuard guard = new OutputGuard(OutputGuard.hadoopConf());
    if (a.fashionMnist() != null) {
      guard.input("--fashion-mnist", a.fashionMnist().toString());
      guard.output("--out", a.out(), OutputGuard.Kind.FASHION_MNIST, a.overwrite());
    } else {
      guard.input("--images", a.images().toString()).input("--labels", a.labels().toString());
      guard.output("--out", a.out(), OutputGuard.Kind.PARQUET, a.overwrite());
    }
    try (SparkSession spark = session("Ember convert", a.master())) {
      if (a.fashionMnist() != null) {
        convertFashionMnist(
            spark, guard, a.fashionMnist(), a.out(), a.limit(), a.limit(), a.split(), out);
        guard.mark(a.out(), OutputGuard.Kind.FASHION_MNIST);
      } else {
        convertIdx(spark, guard, a.images(), a.labels(), a.out(), a.limit(), a.split(), out);
      }
    }
  }

  /**
   * Writes {@code out/train.parquet} and {@code out/test.parquet}; a limit of 0 keeps all. With a
   * {@code split} the training rows get a {@code client} column (see {@link NonIidSplit}).
   */
  static void convertFashionMnist(
      SparkSession spark,
      OutputGuard guard,
      Path dir,
      String out,
      int trainLimit,
      int testLimit,
      NonIidSplit.Spec split,
      PrintStream log)
      throws Exception {
    if (!FashionMnist.isAvailable(dir)) {
      throw new Failures.InputException(
          dir
              + ": no Fashion-MNIST IDX files here; install Debian's dataset-fashion-mnist package"
              + " (run scripts/setup.sh), or pass the directory holding the four files");
    }
    String base = out.endsWith("/") ? out.substring(0, out.length() - 1) : out;
    convertIdx(
        spark,
        guard,
        idxFile(dir, "train-images-idx3-ubyte"),
        idxFile(dir, "train-labels-idx1-ubyte"),
        base + "/train.parquet",
        trainLimit,
        split,
        log);
    convertIdx(
        spark,
        guard,
        idxFile(dir, "t10k-images-idx3-ubyte"),
        idxFile(dir, "t10k-labels-idx1-ubyte"),
        base + "/test.parquet",
        testLimit,
        null,
        log);
  }

  private static Path idxFile(Path dir, String name) {
    Path gz = dir.resolve(name + ".gz");
    return Files.isRegularFile(gz) ? gz : dir.resolve(name);
  }

  /**
   * Converts one pair of IDX files to Parquet ({@code features: array<float>}, {@code label:
   * double}, and {@code client: int} with a {@code split}), replacing {@code out} only once
   * complete (see {@link OutputGuard#replace}); returns the number of rows written.
   */
  static long convertIdx(
      SparkSession spark,
      OutputGuard guard,
      Path images,
      Path labels,
      String out,
      int limit,
      NonIidSplit.Spec split,
      PrintStream log)
      throws Exception {
    long start = System.nanoTime();
    int[] written = new int[1];
    guard.replace(
        out,
        OutputGuard.Kind.PARQUET,
        tmp -> written[0] = writeIdx(spark, images, labels, tmp, limit, split, log));
    int n = written[0];
    log.printf(
        Locale.ROOT,
        "converted %d examples of %s to %s (%.1f s)%n",
        n,
        images.getFileName(),
        out,
        (System.nanoTime() - start) / 1e9);
    return n;
  }

  /** Writes the Parquet rows of one pair of IDX files into {@code out}; returns the row count. */
  private static int writeIdx(
      SparkSession spark,
      Path images,
      Path labels,
      String out,
      int limit,
      NonIidSplit.Spec split,
      PrintStream log)
      throws IOException {
    Encoder<LabeledImage> encoder = Encoders.bean(LabeledImage.class);
    int n;
    try (org.emberdl.data.Dataset all =
        org.emberdl.data.Dataset.fromIdx(images, labels, FashionMnist.NUM_CLASSES)) {
      n = limit > 0 ? Math.min(limit, all.size()) : all.size();
      int[] clientOf = null;
      if (split != null) {
        try (org.emberdl.data.Dataset head = all.subset(0, n)) {
          clientOf = split.assign(head.labels().toLongArray());
        }
        log.printf(Locale.ROOT, "client column: %s%n", split);
      }
      int[] shape = all.features().shape();
      int perExample = 1;
      for (int d = 1; d < shape.length; d++) {
        perExample *= shape[d];
      }
      int from = 0;
      do {
        int to = Math.min(n, from + CHUNK_ROWS);
        float[] pixels;
        long[] y;
        try (org.emberdl.data.Dataset part = all.subset(from, to)) {
          pixels = part.features().toFloatArray();
          y = part.labels().toLongArray();
        }
        List<LabeledImage> rows = new ArrayList<>(to - from);
        for (int i = 0; i < to - from; i++) {
          LabeledImage row =
              new LabeledImage(
                  Arrays.copyOfRange(pixels, i * perExample, (i + 1) * perExample), y[i]);
          if (clientOf != null) {
            row.setClient(clientOf[from + i]);
          }
          rows.add(row);
        }
        org.apache.spark.sql.Dataset<LabeledImage> chunk = spark.createDataset(rows, encoder);
        (clientOf != null
                ? chunk.select("features", "label", "client")
                : chunk.select("features", "label"))
            .coalesce(1)
            .write()
            .mode(from == 0 ? SaveMode.ErrorIfExists : SaveMode.Append)
            .parquet(out);
        from = to;
      } while (from < n);
    }
    return n;
  }

  // ---------------------------------------------------------------------------------------------
  // train

  static void train(TrainArgs a, PrintStream out) throws Exception {
    checkTrainPaths(new OutputGuard(OutputGuard.hadoopConf()), a);
    try (SparkSession spark = session("Ember train", a.master())) {
      fitAndSave(spark, a, out);
    }
  }

  /** Refuses train's outputs before anything runs (see {@link OutputGuard}). */
  static void checkTrainPaths(OutputGuard guard, TrainArgs a) throws Exception {
    guard.input("--data", a.data());
    if (a.initialModel() != null) {
      guard.input("--initial-model", a.initialModel());
    }
    guard.output("--model-out", a.modelOut(), OutputGuard.Kind.MODEL, a.overwrite());
    if (!a.checkpointDir().isEmpty()) {
      guard.checkpoints("--checkpoint-dir", a.checkpointDir());
    }
  }

  /**
   * Reads the data, fits, prints each epoch's metrics, saves; returns the model. The caller has
   * checked the paths ({@link #checkTrainPaths}).
   */
  static EmberClassificationModel fitAndSave(SparkSession spark, TrainArgs a, PrintStream out)
      throws Exception {
    Dataset<Row> data = spark.read().parquet(a.data());
    requireColumns(data, a.data(), a.featuresCol(), a.labelCol());
    if (!data.schema().apply(a.labelCol()).dataType().equals(DataTypes.DoubleType)) {
      data = data.withColumn(a.labelCol(), functions.col(a.labelCol()).cast(DataTypes.DoubleType));
    }
    long rows = data.count();
    EmberClassifier classifier =
        new EmberClassifier()
            .setFeaturesCol(a.featuresCol())
            .setLabelCol(a.labelCol())
            .setOptimizer(a.optimizer())
            .setLearningRate(a.learningRate())
            .setLrSchedule(a.schedule().schedule())
            .setWarmupSteps(a.schedule().warmupSteps())
            .setBatchSize(a.batchSize())
            .setMaxEpochs(a.epochs())
            .setSeed(a.seed());
    if (a.layers() != null) {
      classifier.setLayers(a.layers());
    } else if (a.initialModel() != null) {
      loadOnnx(a.initialModel()); // a missing or broken file is an input error naming it
      classifier.setInitialModel(a.initialModel());
    } else {
      classifier.setNetwork(a.network());
    }
    if (a.layers() == null && a.inputShape() != null) {
      classifier.setInputShape(a.inputShape());
    }
    if (a.frozenPrefixes().length > 0) {
      classifier.setFrozenPrefixes(a.frozenPrefixes());
    }
    if (a.schedule().minLearningRate() > 0) {
      classifier.setMinLearningRate(a.schedule().minLearningRate()); // cosine only
    }
    if (a.partitions() > 0) {
      classifier.setNumPartitions(a.partitions());
    }
    if (!a.checkpointDir().isEmpty()) {
      classifier.setCheckpointDir(a.checkpointDir()).setCheckpointInterval(a.checkpointInterval());
    }
    applyFederation(classifier, a.federation());
    out.printf(
        Locale.ROOT,
        "training %s on %d rows of %s: %d epochs, batch %d, %s lr %s%s, seed %d%n",
        a.layers() != null
            ? "MLP " + joined(a.layers())
            : a.initialModel() != null ? "ONNX model " + a.initialModel() : a.network(),
        rows,
        a.data(),
        a.epochs(),
        a.batchSize(),
        a.optimizer(),
        a.learningRate(),
        a.schedule().describe(),
        a.seed());
    if (!classifier.getAggregation().equals("sync")) {
      out.println(describeAggregation(classifier));
    }
    // On a terminal each epoch's line is printed as it ends, replacing the live line; otherwise
    // they are printed from the summary once the fit is done.
    ProgressLine live =
        ProgressLine.live(a.progress(), out)
            ? new ProgressLine(out, a.epochs(), System::nanoTime)
            : null;
    classifier.setProgressListener(live);
    long start = System.nanoTime();
    EmberClassificationModel model;
    try {
      model = classifier.fit(data);
    } finally {
      if (live != null) {
        live.clear();
      }
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    TrainingSummary summary = model.trainingSummary();
    if (live == null) {
      for (EpochMetrics e : summary.epochs()) {
        out.println(describe(e, a.epochs()));
      }
    }
    out.printf(
        Locale.ROOT,
        "%d training rows on %d partitions, %d rounds per epoch%s%n",
        summary.trainRows(),
        summary.partitions(),
        summary.roundsPerEpoch(),
        summary.stoppedEarly() ? ", stopped early (best epoch " + summary.bestEpoch() + ")" : "");
    // checked before training: absent, empty, or (with --overwrite) an Ember model
    model.write().overwrite().save(a.modelOut());
    out.printf(Locale.ROOT, "trained in %.1f s; model saved to %s%n", seconds, a.modelOut());
    out.printf(
        Locale.ROOT,
        "curves: %s%n",
        new org.apache.hadoop.fs.Path(a.modelOut(), "data/training.svg"));
    return model;
  }

  /** E.g. {@code aggregation dp-fedavg: clients from column 'client', secure aggregation, ...}. */
  static String describeAggregation(EmberClassifier c) {
    StringBuilder sb = new StringBuilder("aggregation ").append(c.getAggregation()).append(':');
    boolean federated = !c.getAggregation().equals("dp-sgd");
    if (federated) {
      sb.append(
          c.getClientIdCol().isEmpty()
              ? " partitions are clients"
              : " clients from column '" + c.getClientIdCol() + "'");
      sb.append(String.format(Locale.ROOT, ", client fraction %s", c.getClientFraction()));
      sb.append(String.format(Locale.ROOT, ", %d local epochs", c.getLocalEpochs()));
      if (!c.getServerOptimizer().equals("sgd")) {
        sb.append(
            String.format(
                Locale.ROOT,
                ", server %s (momentum %s)",
                c.getServerOptimizer(),
                c.getServerMomentum()));
      }
      if (c.getSecureAggregation()) {
        sb.append(", secure aggregation");
      }
    }
    if (c.getAggregation().startsWith("dp-")) {
      sb.append(String.format(Locale.ROOT, ", clip %s", c.getL2NormClip()));
      if (c.isSet(c.noiseMultiplier()) || c.getTargetEpsilon() == 0) {
        sb.append(String.format(Locale.ROOT, ", noise multiplier %s", c.getNoiseMultiplier()));
      }
      if (c.getTargetEpsilon() > 0) {
        sb.append(String.format(Locale.ROOT, ", target epsilon %s", c.getTargetEpsilon()));
      }
      sb.append(String.format(Locale.ROOT, ", delta %s", c.getDelta()));
      if (c.getSecureNoise()) {
        sb.append(", noise from SecureRandom");
      }
    }
    return sb.toString();
  }

  /** Sets the federated-learning and privacy Params that were given. */
  static void applyFederation(EmberClassifier c, EmberCli.FederationArgs f) {
    if (f.aggregation() != null) {
      c.setAggregation(f.aggregation());
    }
    if (f.clientCol() != null) {
      c.setClientIdCol(f.clientCol());
    }
    if (f.clientFraction() != null) {
      c.setClientFraction(f.clientFraction());
    }
    if (f.localEpochs() != null) {
      c.setLocalEpochs(f.localEpochs());
    }
    if (f.proximalMu() != null) {
      c.setProximalMu(f.proximalMu());
    }
    if (f.serverLearningRate() != null) {
      c.setServerLearningRate(f.serverLearningRate());
    }
    if (f.serverOptimizer() != null) {
      c.setServerOptimizer(f.serverOptimizer());
    }
    if (f.serverMomentum() != null) {
      c.setServerMomentum(f.serverMomentum());
    }
    if (f.secureAggregation() != null) {
      c.setSecureAggregation(f.secureAggregation());
    }
    if (f.secureNoise() != null) {
      c.setSecureNoise(f.secureNoise());
    }
    if (f.noiseMultiplier() != null) {
      c.setNoiseMultiplier(f.noiseMultiplier());
    }
    if (f.targetEpsilon() != null) {
      c.setTargetEpsilon(f.targetEpsilon());
    }
    if (f.delta() != null) {
      c.setDelta(f.delta());
    }
    if (f.clipNorm() != null) {
      c.setL2NormClip(f.clipNorm());
    }
    if (f.samplingRate() != null) {
      c.setSamplingRate(f.samplingRate());
    }
    if (f.momentum() != null) {
      c.setMomentum(f.momentum());
    }
  }

  /** One epoch's line, e.g. {@code epoch 1/5: loss 0.5123, accuracy 81.23%, 4100 samples/s}. */
  static String describe(EpochMetrics e, int epochs) {
    StringBuilder sb = new StringBuilder();
    sb.append(
        String.format(
            Locale.ROOT,
            "epoch %d/%d: loss %.4f, accuracy %.2f%%, %.0f samples/s",
            e.epoch(),
            epochs,
            e.loss(),
            100 * e.accuracy(),
            e.samplesPerSecond()));
    if (!Double.isNaN(e.validationLoss())) {
      sb.append(String.format(Locale.ROOT, ", validation loss %.4f", e.validationLoss()));
    }
    if (!Double.isNaN(e.validationAccuracy())) {
      sb.append(
          String.format(Locale.ROOT, ", validation accuracy %.2f%%", 100 * e.validationAccuracy()));
    }
    if (!Double.isNaN(e.epsilon())) {
      sb.append(String.format(Locale.ROOT, ", epsilon %.4g", e.epsilon()));
    }
    return sb.toString();
  }

  // ---------------------------------------------------------------------------------------------
  // predict

  static void predict(PredictArgs a, PrintStream out) throws Exception {
    OutputGuard guard = new OutputGuard(OutputGuard.hadoopConf());
    if (a.onnx() != null) {
      guard.input("--onnx", a.onnx());
    } else {
      guard.input("--model", a.model());
    }
    guard.input("--data", a.data());
    guard.output("--out", a.out(), OutputGuard.Kind.PREDICTIONS, a.overwrite());
    try (SparkSession spark = session("Ember predict", a.master())) {
      if (a.onnx() != null) {
        score(spark, guard, loadOnnx(a.onnx()), a, out);
      } else {
        score(spark, guard, loadModel(a.model()), a, out);
      }
    }
  }

  /** Imports an ONNX classifier; a failure is an input error naming the file and the cause. */
  static EmberOnnxModel loadOnnx(String file) throws Failures.InputException {
    try {
      return EmberOnnxModel.fromOnnx(file);
    } catch (RuntimeException e) {
      String m = e.getMessage();
      throw new Failures.InputException(
          m != null && m.contains(file)
              ? m // names the file already
              : "cannot load the ONNX model " + file + ": " + Failures.oneLine(e, file),
          e);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // export

  static void export(ExportArgs a, PrintStream out) throws Exception {
    OutputGuard guard = new OutputGuard(OutputGuard.hadoopConf());
    guard.input("--model", a.model());
    guard.output("--onnx", a.onnx(), OutputGuard.Kind.ONNX, a.overwrite());
    try (SparkSession spark = session("Ember export", a.master())) {
      EmberClassificationModel model = loadModel(a.model());
      model.exportOnnx(a.onnx()); // written beside it and moved into place
      out.printf(
          Locale.ROOT,
          "exported %s to %s (%d bytes)%n",
          a.model(),
          a.onnx(),
          java.nio.file.Files.size(java.nio.file.Path.of(a.onnx())));
    }
  }

  /** Loads a saved model; a failure is an input error naming the directory and the cause. */
  static EmberClassificationModel loadModel(String dir) throws Failures.InputException {
    try {
      return EmberClassificationModel.load(dir);
    } catch (Exception e) { // Spark's AnalysisException is checked
      Throwable root = e;
      while (root.getCause() != null && root.getCause() != root) {
        root = root.getCause();
      }
      throw new Failures.InputException(
          "cannot load the model " + dir + ": " + Failures.oneLine(root, null), e);
    }
  }

  /**
   * Scores {@code a.data()} into {@code a.out()}: the data's columns except the features, then
   * prediction and probability. Returns the accuracy when the data has the label column, else NaN.
   */
  static double score(
      SparkSession spark,
      OutputGuard guard,
      EmberClassificationModel model,
      PredictArgs a,
      PrintStream out)
      throws Exception {
    if (a.batchSize() > 0) {
      model.setInferenceBatchSize(a.batchSize());
    }
    return scoreWith(spark, guard, model.setFeaturesCol(a.featuresCol()), a, out);
  }

  /**
   * {@link #score(SparkSession, OutputGuard, EmberClassificationModel, PredictArgs, PrintStream)}
   * of an ONNX classifier.
   */
  static double score(
      SparkSession spark, OutputGuard guard, EmberOnnxModel model, PredictArgs a, PrintStream out)
      throws Exception {
    if (a.batchSize() > 0) {
      model.setInferenceBatchSize(a.batchSize());
    }
    return scoreWith(spark, guard, model.setFeaturesCol(a.featuresCol()), a, out);
  }

  private static double scoreWith(
      SparkSession spark, OutputGuard guard, Transformer model, PredictArgs a, PrintStream out)
      throws Exception {
    long start = System.nanoTime();
    Dataset<Row> data = spark.read().parquet(a.data());
    requireColumns(data, a.data(), a.featuresCol());
    List<Column> keep = new ArrayList<>();
    for (String c : data.columns()) {
      if (!c.equals(a.featuresCol())) {
        keep.add(functions.col(c));
      }
    }
    keep.add(functions.col("prediction"));
    keep.add(functions.col("probability"));
    Dataset<Row> scoredRows = model.transform(data).select(keep.toArray(new Column[0]));
    // written beside a.out() and moved there when complete: a failure leaves a.out() as it was
    guard.replace(
        a.out(),
        OutputGuard.Kind.PREDICTIONS,
        tmp -> scoredRows.write().mode(SaveMode.ErrorIfExists).parquet(tmp));
    Dataset<Row> scored = spark.read().parquet(a.out());
    long rows = scored.count();
    out.printf(
        Locale.ROOT,
        "scored %d rows of %s into %s (%.1f s)%n",
        rows,
        a.data(),
        a.out(),
        (System.nanoTime() - start) / 1e9);
    if (!Arrays.asList(scored.columns()).contains(a.labelCol())) {
      return Double.NaN;
    }
    double accuracy =
        new MulticlassClassificationEvaluator()
            .setLabelCol(a.labelCol())
            .setPredictionCol("prediction")
            .setMetricName("accuracy")
            .evaluate(scored);
    out.printf(Locale.ROOT, "accuracy: %.4f (%d rows)%n", accuracy, rows);
    return accuracy;
  }

  // ---------------------------------------------------------------------------------------------
  // demo

  static void demo(DemoArgs a, PrintStream out) throws Exception {
    long start = System.nanoTime();
    OutputGuard guard = new OutputGuard(OutputGuard.hadoopConf());
    guard.input("--fashion-mnist", a.fashionMnist().toString());
    guard.output("--work", a.work().toString(), OutputGuard.Kind.DEMO, a.overwrite());
    String work = a.work().toString();
    // --work is an earlier demo's (or new): what it holds must still be what the demo wrote there
    OutputGuard inner = new OutputGuard(OutputGuard.hadoopConf());
    inner.output("--work", work + "/train.parquet", OutputGuard.Kind.PARQUET, true);
    inner.output("--work", work + "/test.parquet", OutputGuard.Kind.PARQUET, true);
    inner.output("--work", work + "/model", OutputGuard.Kind.MODEL, true);
    inner.output("--work", work + "/predictions.parquet", OutputGuard.Kind.PREDICTIONS, true);
    guard.mark(work, OutputGuard.Kind.DEMO);
    try (SparkSession spark = session("Ember demo", a.master())) {
      out.printf(
          Locale.ROOT,
          "Ember demo on Spark %s, master %s, work directory %s%n",
          spark.version(),
          spark.sparkContext().master(),
          a.work().toAbsolutePath());
      convertFashionMnist(spark, guard, a.fashionMnist(), work, a.limit(), 0, null, out);
      ExampleNetworks net = ExampleNetworks.of(a.model());
      TrainArgs train =
          new TrainArgs(
              work + "/train.parquet",
              work + "/model",
              net.spec() == null
                  ? EmberCli.DEFAULT_LAYERS.stream().mapToInt(Integer::intValue).toArray()
                  : null,
              net.spec(),
              null,
              new String[0],
              net.inputShape(),
              a.epochs(),
              a.batchSize(),
              a.learningRate(),
              a.schedule(),
              "adam",
              a.seed(),
              a.partitions() > 0 ? a.partitions() : spark.sparkContext().defaultParallelism(),
              "features",
              "label",
              "",
              1,
              EmberCli.FederationArgs.NONE,
              a.master(),
              true,
              a.progress());
      fitAndSave(spark, train, out);
      EmberClassificationModel model = EmberClassificationModel.load(train.modelOut());
      double accuracy =
          score(
              spark,
              guard,
              model,
              new PredictArgs(
                  train.modelOut(),
                  work + "/test.parquet",
                  work + "/predictions.parquet",
                  0,
                  "features",
                  "label",
                  a.master(),
                  true,
                  null),
              out);
      out.printf(
          Locale.ROOT,
          "test accuracy: %.2f%% (model reloaded from %s; demo took %.1f s)%n",
          100 * accuracy,
          train.modelOut(),
          (System.nanoTime() - start) / 1e9);
    }
  }

  // ---------------------------------------------------------------------------------------------

  private static void requireColumns(Dataset<Row> data, String path, String... names)
      throws Failures.InputException {
    List<String> have = Arrays.asList(data.columns());
    for (String name : names) {
      if (!have.contains(name)) {
        throw new Failures.InputException(
            path + " has no column '" + name + "'; its columns are " + have);
      }
    }
  }

  private static String joined(int[] sizes) {
    StringBuilder sb = new StringBuilder();
    for (int s : sizes) {
      sb.append(sb.length() == 0 ? "" : "-").append(s);
    }
    return sb.toString();
  }
}
