package org.emberdl.examples;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.emberdl.examples.CliOptions.Opt;
import org.emberdl.examples.CliOptions.UsageException;
import org.slf4j.LoggerFactory;

/**
 * Ember's command line for Spark: {@code convert} Fashion-MNIST to Parquet, {@code train} a network
 * on a Parquet dataset, {@code predict} with a saved model, or run the whole {@code demo}. The same
 * jar runs embedded ({@code java ... EmberCli demo}, on {@code local[*]}) and under {@code
 * spark-submit --class org.emberdl.examples.EmberCli <jar> <command> ...}, where spark-submit's
 * master is used.
 *
 * <p>Every command takes {@code --help} (prints its usage, exit status 0); a command-line mistake
 * prints the usage to stderr with exit status 2; a failure while running exits with status 1.
 * Parsing touches no Spark class, so {@code --help} works without Spark on the classpath.
 *
 * <p>Command-line output goes to stdout by design.
 */
public final class EmberCli {
  /** Exit status of a command-line mistake. */
  static final int USAGE = 2;

  static final List<Integer> DEFAULT_LAYERS = List.of(784, 256, 128, 10);

  private static final Opt MASTER =
      new Opt(
          "master",
          "URL",
          "Spark master when not run by spark-submit (default local[*]); spark-submit's wins");

  // ---------------------------------------------------------------------------------------------
  // The commands' settings, as parsed (tests build and compare these).

  /** {@code convert}: IDX files to Parquet. */
  record ConvertArgs(
      Path images,
      Path labels,
      Path fashionMnist,
      String out,
      int limit,
      NonIidSplit.Spec split,
      String master) {}

  /**
   * {@code train}'s federated-learning and privacy settings; null (or 0 for booleans' absence)
   * leaves the stage's default.
   */
  record FederationArgs(
      String aggregation,
      String clientCol,
      Double clientFraction,
      Integer localEpochs,
      Double proximalMu,
      Double serverLearningRate,
      String serverOptimizer,
      Double serverMomentum,
      Boolean secureAggregation,
      Boolean secureNoise,
      Double noiseMultiplier,
      Double targetEpsilon,
      Double delta,
      Double clipNorm,
      Double samplingRate,
      Double momentum) {
    static final FederationArgs NONE =
        new FederationArgs(
            null, null, null, null, null, null, null, null, null, null, null, null, null, null,
            null, null);
  }

  /** {@code train}: fit a classifier on Parquet data and save it. */
  record TrainArgs(
      String data,
      String modelOut,
      int[] layers,
      String network,
      int[] inputShape,
      int epochs,
      int batchSize,
      double learningRate,
      String optimizer,
      long seed,
      int partitions,
      String featuresCol,
      String labelCol,
      String checkpointDir,
      int checkpointInterval,
      FederationArgs federation,
      String master) {
    @Override
    public String toString() {
      return "TrainArgs[data="
          + data
          + ", modelOut="
          + modelOut
          + ", layers="
          + Arrays.toString(layers)
          + ", network="
          + network
          + ", inputShape="
          + Arrays.toString(inputShape)
          + ", epochs="
          + epochs
          + ", batchSize="
          + batchSize
          + ", lr="
          + learningRate
          + ", optimizer="
          + optimizer
          + ", seed="
          + seed
          + ", partitions="
          + partitions
          + ", featuresCol="
          + featuresCol
          + ", labelCol="
          + labelCol
          + ", checkpointDir="
          + checkpointDir
          + ", checkpointInterval="
          + checkpointInterval
          + ", master="
          + master
          + "]";
    }
  }

  /** {@code predict}: score Parquet data with a saved model. */
  record PredictArgs(
      String model,
      String data,
      String out,
      int batchSize,
      String featuresCol,
      String labelCol,
      String master) {}

  /** {@code demo}: convert, train, save, score. */
  record DemoArgs(
      Path fashionMnist,
      Path work,
      int epochs,
      int limit,
      int partitions,
      int batchSize,
      double learningRate,
      long seed,
      String master) {}

  /** The subcommands, with their options and usage text. */
  enum Command {
    CONVERT(
        "convert",
        "IDX image and label files to Parquet (features array<float>, label double)",
        "(--images FILE --labels FILE | --fashion-mnist DIR) --out PATH [options]",
        "Converts Fashion-MNIST (or MNIST) IDX files, gzipped or not, to Parquet with the columns"
            + " features: array<float> (the pixels / 255) and label: double. With --fashion-mnist"
            + " DIR it writes PATH/train.parquet and PATH/test.parquet from DIR's four files (the"
            + " Debian package dataset-fashion-mnist puts them in "
            + "/usr/share/datasets/fashion-mnist).",
        List.of(
            new Opt("images", "FILE", "IDX image file, e.g. train-images-idx3-ubyte.gz"),
            new Opt("labels", "FILE", "IDX label file, e.g. train-labels-idx1-ubyte.gz"),
            new Opt("fashion-mnist", "DIR", "directory with all four Fashion-MNIST files"),
            new Opt("out", "PATH", "output Parquet path (a directory with --fashion-mnist)"),
            new Opt("limit", "N", "keep only the first N examples (of each file)"),
            new Opt(
                "clients",
                "K",
                "add a 'client' column to the training rows: a non-IID split into K clients"),
            new Opt(
                "split",
                "NAME",
                "with --clients: shards (default; two label-sorted shards per client, McMahan et"
                    + " al. 2017) or dirichlet (label skew, NIID-Bench)"),
            new Opt("alpha", "X", "with --split dirichlet: the concentration (default 0.5)"),
            MASTER)),
    TRAIN(
        "train",
        "train a network on Parquet data with Spark and save the model",
        "--data PATH --model-out DIR [options]",
        "Trains an Ember network on a Parquet dataset with Spark (features: array<float> or"
            + " vector, label: class index 0..K-1), prints each epoch's metrics and saves the"
            + " model.",
        List.of(
            new Opt("data", "PATH", "training data, Parquet (required)"),
            new Opt("model-out", "DIR", "where to save the model, replaced if present (required)"),
            new Opt(
                "layers", "N,N,...", "MLP layer sizes, input to classes (default 784,256,128,10)"),
            new Opt(
                "network",
                "SPEC",
                "network spec instead of --layers, e.g. \"conv(32,k=3,p=1), relu, ...\""),
            new Opt("input-shape", "C,H,W", "shape of one example for --network, e.g. 1,28,28"),
            new Opt("epochs", "N", "passes over the data (default 5)"),
            new Opt("batch-size", "N", "examples per step (default 128)"),
            new Opt("lr", "X", "learning rate (default 1e-3)"),
            new Opt("optimizer", "NAME", "adam, adamw or sgd (default adam)"),
            new Opt("seed", "N", "initialization and shuffling seed (default 42)"),
            new Opt("partitions", "N", "train on N partitions (default: the data's own)"),
            new Opt("features-col", "NAME", "features column (default features)"),
            new Opt("label-col", "NAME", "label column (default label)"),
            new Opt(
                "checkpoint-dir",
                "DIR",
                "write checkpoints there; a rerun with the same DIR resumes from the newest"),
            new Opt("checkpoint-interval", "N", "epochs between checkpoints (default 1)"),
            new Opt(
                "aggregation",
                "NAME",
                "sync (default), fedavg, fedprox, dp-sgd (example-level DP) or dp-fedavg"
                    + " (client-level DP)"),
            new Opt(
                "client-col",
                "NAME",
                "federated: the column naming each row's client (default: partitions are"
                    + " clients)"),
            new Opt("client-fraction", "X", "federated: clients sampled per round (default 1)"),
            new Opt("local-epochs", "N", "federated: local epochs per round (default 1)"),
            new Opt("proximal-mu", "X", "fedprox: proximal weight (default 0.01)"),
            new Opt("server-lr", "X", "federated: server learning rate (default 1)"),
            new Opt(
                "server-optimizer",
                "NAME",
                "federated: sgd (default), momentum (FedAvgM) or adam (FedAdam)"),
            new Opt(
                "server-momentum", "X", "federated: the server optimizer's momentum (default 0.9)"),
            new Opt(
                "secure-aggregation",
                "true|false",
                "federated: sum the clients' updates with secure aggregation (default false)"),
            new Opt(
                "secure-noise",
                "true|false",
                "DP: draw the driver's noise from SecureRandom, not from the seed (default false)"),
            new Opt("noise-multiplier", "X", "DP: noise std / clip norm (default 1)"),
            new Opt(
                "target-epsilon",
                "X",
                "DP: privacy budget; calibrates the noise unless --noise-multiplier is given"),
            new Opt("delta", "X", "DP: delta (default 1e-5)"),
            new Opt(
                "clip",
                "X",
                "DP: L2 clip norm of each example's gradient / client's delta (default 1)"),
            new Opt(
                "sampling-rate", "X", "dp-sgd: Poisson sampling rate (default batch-size / rows)"),
            new Opt("momentum", "X", "sgd momentum (default 0)"),
            MASTER)),
    PREDICT(
        "predict",
        "score Parquet data with a saved model (and print the accuracy when labelled)",
        "--model DIR --data PATH --out PATH [options]",
        "Scores a Parquet dataset with a saved model and writes Parquet with the data's columns"
            + " (except the features) plus prediction and probability. When the data has a label"
            + " column, prints the accuracy.",
        List.of(
            new Opt("model", "DIR", "a model saved by train (required)"),
            new Opt("data", "PATH", "data to score, Parquet (required)"),
            new Opt("out", "PATH", "output Parquet path, replaced if present (required)"),
            new Opt("batch-size", "N", "inference batch size (default: the model's)"),
            new Opt("features-col", "NAME", "features column (default features)"),
            new Opt("label-col", "NAME", "label column for the accuracy (default label)"),
            MASTER)),
    DEMO(
        "demo",
        "convert Fashion-MNIST, train the MLP, save it, score the test set",
        "[options]",
        "The whole story on one Spark: converts Fashion-MNIST to Parquet, trains the MLP"
            + " 784-256-128-10 (Adam), saves it, scores the 10,000 test images and prints the"
            + " test accuracy.",
        List.of(
            new Opt(
                "fashion-mnist",
                "DIR",
                "Fashion-MNIST IDX files (default /usr/share/datasets/fashion-mnist)"),
            new Opt(
                "work",
                "DIR",
                "where the Parquet files and the model go (default target/ember-demo)"),
            new Opt("epochs", "N", "passes over the data (default 5)"),
            new Opt("limit", "N", "train on the first N training images only (default all)"),
            new Opt("partitions", "N", "train on N partitions (default: Spark's parallelism)"),
            new Opt("batch-size", "N", "examples per step (default 128)"),
            new Opt("lr", "X", "Adam learning rate (default 1e-3)"),
            new Opt("seed", "N", "initialization and shuffling seed (default 42)"),
            MASTER));

    final String name;
    final String summary;
    final String synopsis;
    final String description;
    final List<Opt> options;

    Command(String name, String summary, String synopsis, String description, List<Opt> options) {
      this.name = name;
      this.summary = summary;
      this.synopsis = synopsis;
      this.description = description;
      this.options = options;
    }

    static Command named(String name) {
      for (Command c : values()) {
        if (c.name.equals(name)) {
          return c;
        }
      }
      return null;
    }

    String usage() {
      List<Opt> all = new ArrayList<>(options);
      all.add(new Opt("help", "", "print this help and exit"));
      return "usage: EmberCli "
          + name
          + " "
          + synopsis
          + "\n\n"
          + wrap(description, 98)
          + "\n\noptions:\n"
          + CliOptions.describe(all);
    }
  }

  private EmberCli() {}

  /** Runs a command and exits with its status (0 success, 1 failure, 2 command-line mistake). */
  public static void main(String[] args) {
    int status = run(args, System.out, System.err);
    if (status != 0) {
      System.exit(status);
    }
  }

  /** The top-level usage. */
  static String usage() {
    StringBuilder sb = new StringBuilder();
    sb.append("usage: EmberCli <command> [options]    (EmberCli <command> --help for details)\n\n");
    sb.append("Run with spark-submit:\n");
    sb.append(
        "  spark-submit --master URL --class org.emberdl.examples.EmberCli"
            + " ember-examples-<version>-spark.jar <command> [options]\n");
    sb.append("or embedded, on local[*], with Spark's jars on the classpath:\n");
    sb.append("  java <Spark's --add-opens> -cp <jar>:<Spark jars> org.emberdl.examples.EmberCli");
    sb.append(" <command> [options]\n\ncommands:\n");
    for (Command c : Command.values()) {
      sb.append(String.format(Locale.ROOT, "  %-8s  %s%n", c.name, c.summary));
    }
    return sb.toString();
  }

  /**
   * Runs {@code args} and returns the exit status, writing user-facing output to {@code out} and
   * usage errors to {@code err}.
   */
  static int run(String[] args, PrintStream out, PrintStream err) {
    List<String> list = List.of(args);
    if (list.isEmpty()) {
      err.print(usage());
      return USAGE;
    }
    String first = list.get(0);
    if (first.equals("--help") || first.equals("-h") || first.equals("help")) {
      out.print(usage());
      return 0;
    }
    Command command = Command.named(first);
    if (command == null) {
      err.println("error: unknown command '" + first + "'");
      err.print(usage());
      return USAGE;
    }
    List<String> rest = list.subList(1, list.size());
    if (CliOptions.wantsHelp(rest)) {
      out.print(command.usage());
      return 0;
    }
    Object parsed;
    try {
      parsed = parse(command, rest);
    } catch (UsageException e) {
      err.println("error: " + e.getMessage());
      err.print(command.usage());
      return USAGE;
    }
    try {
      switch (command) {
        case CONVERT -> SparkJobs.convert((ConvertArgs) parsed, out);
        case TRAIN -> SparkJobs.train((TrainArgs) parsed, out);
        case PREDICT -> SparkJobs.predict((PredictArgs) parsed, out);
        case DEMO -> SparkJobs.demo((DemoArgs) parsed, out);
      }
      return 0;
    } catch (Exception e) {
      // (the logger only now: help and usage errors need no logging library on the classpath)
      LoggerFactory.getLogger(EmberCli.class).error("{} failed", command.name, e);
      err.println("error: " + command.name + " failed: " + e);
      return 1;
    }
  }

  /** Parses one command's options into its settings record. */
  static Object parse(Command command, List<String> args) throws UsageException {
    CliOptions o = CliOptions.parse(args, command.options);
    return switch (command) {
      case CONVERT -> parseConvert(o);
      case TRAIN -> parseTrain(o);
      case PREDICT ->
          new PredictArgs(
              o.required("model"),
              o.required("data"),
              o.required("out"),
              o.integer("batch-size", 0, 1),
              o.string("features-col", "features"),
              o.string("label-col", "label"),
              o.string("master", null));
      case DEMO ->
          new DemoArgs(
              Path.of(o.string("fashion-mnist", "/usr/share/datasets/fashion-mnist")),
              Path.of(o.string("work", "target/ember-demo")),
              o.integer("epochs", 5, 1),
              o.integer("limit", 0, 1),
              o.integer("partitions", 0, 1),
              o.integer("batch-size", 128, 1),
              o.positive("lr", 1e-3),
              o.longValue("seed", 42),
              o.string("master", null));
    };
  }

  private static ConvertArgs parseConvert(CliOptions o) throws UsageException {
    String out = o.required("out");
    boolean files = o.has("images") || o.has("labels");
    if (files == o.has("fashion-mnist")) {
      throw new UsageException("give either --images and --labels, or --fashion-mnist");
    }
    return new ConvertArgs(
        files ? Path.of(o.required("images")) : null,
        files ? Path.of(o.required("labels")) : null,
        files ? null : Path.of(o.required("fashion-mnist")),
        out,
        o.integer("limit", 0, 1),
        parseSplit(o),
        o.string("master", null));
  }

  private static NonIidSplit.Spec parseSplit(CliOptions o) throws UsageException {
    if (!o.has("clients")) {
      if (o.has("split") || o.has("alpha")) {
        throw new UsageException("--split and --alpha go with --clients");
      }
      return null;
    }
    String kind = o.string("split", "shards");
    if (!kind.equals("shards") && !kind.equals("dirichlet")) {
      throw new UsageException("option --split must be shards or dirichlet, got " + kind);
    }
    return new NonIidSplit.Spec(kind, o.integer("clients", 0, 1), o.positive("alpha", 0.5));
  }

  private static TrainArgs parseTrain(CliOptions o) throws UsageException {
    if (o.has("layers") && o.has("network")) {
      throw new UsageException("give either --layers or --network, not both");
    }
    if (o.has("input-shape") && !o.has("network")) {
      throw new UsageException("--input-shape goes with --network");
    }
    String optimizer = o.string("optimizer", "adam").toLowerCase(Locale.ROOT);
    if (!List.of("adam", "adamw", "sgd").contains(optimizer)) {
      throw new UsageException("option --optimizer must be adam, adamw or sgd, got " + optimizer);
    }
    int[] layers = o.intList("layers", 2);
    if (layers == null && !o.has("network")) {
      layers = DEFAULT_LAYERS.stream().mapToInt(Integer::intValue).toArray();
    }
    return new TrainArgs(
        o.required("data"),
        o.required("model-out"),
        layers,
        o.string("network", null),
        o.intList("input-shape", 1),
        o.integer("epochs", 5, 1),
        o.integer("batch-size", 128, 1),
        o.positive("lr", 1e-3),
        optimizer,
        o.longValue("seed", 42),
        o.integer("partitions", 0, 1),
        o.string("features-col", "features"),
        o.string("label-col", "label"),
        o.string("checkpoint-dir", ""),
        o.integer("checkpoint-interval", 1, 1),
        parseFederation(o),
        o.string("master", null));
  }

  private static final List<String> AGGREGATIONS =
      List.of("sync", "fedavg", "fedprox", "dp-sgd", "dp-fedavg");

  private static Boolean bool(CliOptions o, String name) throws UsageException {
    String v = o.string(name, null);
    if (v != null && !v.equals("true") && !v.equals("false")) {
      throw new UsageException("option --" + name + " must be true or false");
    }
    return v == null ? null : Boolean.valueOf(v);
  }

  private static FederationArgs parseFederation(CliOptions o) throws UsageException {
    String aggregation = o.string("aggregation", null);
    if (aggregation != null && !AGGREGATIONS.contains(aggregation)) {
      throw new UsageException(
          "option --aggregation must be one of " + String.join(", ", AGGREGATIONS));
    }
    String server = o.string("server-optimizer", null);
    if (server != null && !List.of("sgd", "momentum", "adam").contains(server)) {
      throw new UsageException("option --server-optimizer must be sgd, momentum or adam");
    }
    Boolean secure = bool(o, "secure-aggregation");
    Boolean secureNoise = bool(o, "secure-noise");
    return new FederationArgs(
        aggregation,
        o.string("client-col", null),
        o.has("client-fraction") ? o.fraction("client-fraction") : null,
        o.has("local-epochs") ? o.integer("local-epochs", 1, 1) : null,
        o.has("proximal-mu") ? o.nonNegative("proximal-mu") : null,
        o.has("server-lr") ? o.positive("server-lr", 1) : null,
        server,
        o.has("server-momentum") ? o.nonNegative("server-momentum") : null,
        secure,
        secureNoise,
        o.has("noise-multiplier") ? o.nonNegative("noise-multiplier") : null,
        o.has("target-epsilon") ? o.positive("target-epsilon", 1) : null,
        o.has("delta") ? o.fraction("delta") : null,
        o.has("clip") ? o.positive("clip", 1) : null,
        o.has("sampling-rate") ? o.fraction("sampling-rate") : null,
        o.has("momentum") ? o.nonNegative("momentum") : null);
  }

  /** Wraps {@code text} at spaces to lines of at most {@code width} characters. */
  static String wrap(String text, int width) {
    StringBuilder sb = new StringBuilder();
    int line = 0;
    for (String word : text.split(" ")) {
      if (line > 0 && line + 1 + word.length() > width) {
        sb.append('\n');
        line = 0;
      } else if (line > 0) {
        sb.append(' ');
        line++;
      }
      sb.append(word);
      line += word.length();
    }
    return sb.toString();
  }
}
