package org.emberdl.examples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.emberdl.examples.EmberCli.ConvertArgs;
import org.emberdl.examples.EmberCli.DemoArgs;
import org.emberdl.examples.EmberCli.PredictArgs;
import org.emberdl.examples.EmberCli.ScheduleArgs;
import org.emberdl.examples.EmberCli.TrainArgs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine.ParameterException;

/** The command line's parsing, help and exit statuses (no Spark is started). */
class EmberCliTest {
  /** Exit status, stdout and stderr of one {@link EmberCli#run}. */
  private record Outcome(int status, String out, String err) {}

  private static Outcome run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int status =
        EmberCli.run(
            args,
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Outcome(
        status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  private static Object parse(String command, String... args) {
    List<String> all = new java.util.ArrayList<>(List.of(command));
    all.addAll(List.of(args));
    return EmberCli.parse(all.toArray(new String[0]));
  }

  @Test
  void trainTakesEveryOption() throws Exception {
    TrainArgs t =
        (TrainArgs)
            parse(
                "train",
                "--data",
                "in.parquet",
                "--model-out",
                "m",
                "--layers",
                "784, 64,10",
                "--epochs",
                "3",
                "--batch-size=32",
                "--lr",
                "0.01",
                "--optimizer",
                "SGD",
                "--seed",
                "-7",
                "--partitions",
                "4",
                "--features-col",
                "x",
                "--label-col",
                "y",
                "--master",
                "local[3]");
    assertEquals("in.parquet", t.data());
    assertEquals("m", t.modelOut());
    assertArrayEquals(new int[] {784, 64, 10}, t.layers());
    assertNull(t.network());
    assertEquals(3, t.epochs());
    assertEquals(32, t.batchSize());
    assertEquals(0.01, t.learningRate());
    assertEquals("sgd", t.optimizer());
    assertEquals(-7, t.seed());
    assertEquals(4, t.partitions());
    assertEquals("x", t.featuresCol());
    assertEquals("y", t.labelCol());
    assertEquals("local[3]", t.master());
    assertEquals(false, t.overwrite());
    assertTrue(
        ((TrainArgs) parse("train", "--data", "d", "--model-out", "m", "--overwrite")).overwrite());
  }

  @Test
  void trainDefaults() throws Exception {
    TrainArgs t = (TrainArgs) parse("train", "--data", "d", "--model-out", "m");
    assertArrayEquals(new int[] {784, 256, 128, 10}, t.layers());
    assertEquals(5, t.epochs());
    assertEquals(128, t.batchSize());
    assertEquals(1e-3, t.learningRate());
    assertEquals("adam", t.optimizer());
    assertEquals(42, t.seed());
    assertEquals(0, t.partitions(), "0: the data's own partitioning");
    assertEquals("features", t.featuresCol());
    assertEquals("label", t.labelCol());
    assertNull(t.master(), "no master: spark-submit's, or local[*]");
  }

  @Test
  void trainTakesTheFederatedAndPrivacyOptions() throws Exception {
    TrainArgs t =
        (TrainArgs)
            parse(
                "train",
                "--data",
                "d",
                "--model-out",
                "m",
                "--aggregation",
                "dp-fedavg",
                "--client-col",
                "client",
                "--client-fraction",
                "0.5",
                "--local-epochs",
                "2",
                "--server-lr",
                "1.5",
                "--server-optimizer",
                "momentum",
                "--secure-aggregation",
                "true",
                "--secure-noise",
                "true",
                "--noise-multiplier",
                "0",
                "--target-epsilon",
                "3",
                "--delta",
                "1e-6",
                "--clip",
                "0.1",
                "--momentum",
                "0.9");
    EmberCli.FederationArgs f = t.federation();
    assertEquals(
        new EmberCli.FederationArgs(
            "dp-fedavg",
            "client",
            0.5,
            2,
            null,
            1.5,
            "momentum",
            null,
            true,
            true,
            0.0,
            3.0,
            1e-6,
            0.1,
            null,
            0.9),
        f);
    assertEquals(
        EmberCli.FederationArgs.NONE,
        ((TrainArgs) parse("train", "--data", "d", "--model-out", "m")).federation());
  }

  @Test
  void aNetworkSpecReplacesTheLayers() throws Exception {
    TrainArgs t =
        (TrainArgs)
            parse(
                "train",
                "--data",
                "d",
                "--model-out",
                "m",
                "--network",
                "conv(8,k=3), relu, flatten, linear(10)",
                "--input-shape",
                "1,28,28");
    assertNull(t.layers());
    assertEquals("conv(8,k=3), relu, flatten, linear(10)", t.network());
    assertArrayEquals(new int[] {1, 28, 28}, t.inputShape());
  }

  @Test
  void convertTakesFilesOrADirectory() throws Exception {
    ConvertArgs files =
        (ConvertArgs)
            parse(
                "convert", "--images", "i.gz", "--labels", "l.gz", "--out", "o", "--limit", "100");
    assertEquals(
        new ConvertArgs(Path.of("i.gz"), Path.of("l.gz"), null, "o", 100, null, null, false),
        files);
    ConvertArgs dir = (ConvertArgs) parse("convert", "--fashion-mnist", "/d", "--out", "o");
    assertEquals(new ConvertArgs(null, null, Path.of("/d"), "o", 0, null, null, false), dir);
    assertThrows(ParameterException.class, () -> parse("convert", "--images", "i", "--out", "o"));
    assertThrows(
        ParameterException.class,
        () -> parse("convert", "--images", "i", "--labels", "l", "--fashion-mnist", "d"));
    assertThrows(ParameterException.class, () -> parse("convert", "--fashion-mnist", "d"));
  }

  @Test
  void predictAndDemoDefaults() throws Exception {
    assertEquals(
        new PredictArgs("m", "d", "o", 0, "features", "label", null, false, null),
        parse("predict", "--model", "m", "--data", "d", "--out", "o"));
    assertEquals(
        new DemoArgs(
            Path.of("/usr/share/datasets/fashion-mnist"),
            Path.of("target/ember-demo"),
            5,
            0,
            0,
            128,
            1e-3,
            ScheduleArgs.CONSTANT,
            42,
            null,
            false,
            "auto",
            "mlp"),
        parse("demo"));
    assertEquals("lstm", ((DemoArgs) parse("demo", "--model", "lstm")).model());
    ParameterException unknown =
        assertThrows(ParameterException.class, () -> parse("demo", "--model", "rnn"));
    assertEquals(
        "--model: unknown model 'rnn'; expected one of [mlp, lstm, vit]", unknown.getMessage());
    assertEquals("vit", ((DemoArgs) parse("demo", "--model", "vit")).model());
    DemoArgs d =
        (DemoArgs)
            parse("demo", "--epochs", "1", "--limit", "500", "--partitions", "2", "--work", "w");
    assertEquals(1, d.epochs());
    assertEquals(500, d.limit());
    assertEquals(2, d.partitions());
    assertEquals(Path.of("w"), d.work());
  }

  /**
   * The Spark LSTM and ViT recipes (docs/training.md) take the standalone trainer's cosine
   * schedule: {@code demo --model lstm --epochs 10 --lr 3e-3 --schedule cosine}.
   */
  @Test
  void trainAndDemoTakeTheLearningRateSchedule() {
    DemoArgs lstm =
        (DemoArgs)
            parse(
                "demo",
                "--model",
                "lstm",
                "--epochs",
                "10",
                "--lr",
                "3e-3",
                "--schedule",
                "cosine");
    assertEquals("lstm", lstm.model());
    assertEquals(3e-3, lstm.learningRate());
    assertEquals(new ScheduleArgs("cosine", 0, 0), lstm.schedule());
    DemoArgs vit =
        (DemoArgs)
            parse(
                "demo",
                "--model=vit",
                "--lr=2e-3",
                "--schedule=cosine",
                "--warmup-steps=100",
                "--min-lr=1e-5",
                "--seed=1");
    assertEquals(new ScheduleArgs("cosine", 100, 1e-5), vit.schedule());
    assertEquals(1, vit.seed());
    TrainArgs t =
        (TrainArgs)
            parse(
                "train",
                "--data",
                "d",
                "--model-out",
                "m",
                "--schedule",
                "constant",
                "--warmup-steps",
                "20");
    assertEquals(new ScheduleArgs("constant", 20, 0), t.schedule());
    assertEquals(
        ScheduleArgs.CONSTANT,
        ((TrainArgs) parse("train", "--data", "d", "--model-out", "m")).schedule());
    assertEquals(", cosine schedule to 1.0E-5, 100 warmup steps", vit.schedule().describe());
    assertEquals("", ScheduleArgs.CONSTANT.describe());
    assertEquals(
        "error: --schedule must be one of constant, cosine, got 'step'",
        firstLine(run("demo", "--schedule", "step").err()));
    assertEquals(
        "error: --warmup-steps must be at least 0, got -1",
        firstLine(run("train", "--data", "d", "--model-out", "m", "--warmup-steps", "-1").err()));
    assertEquals(
        "error: --min-lr needs --schedule cosine (the constant schedule)",
        firstLine(run("demo", "--min-lr", "1e-4").err()));
    assertEquals(
        "error: --min-lr must be a number >= 0, got -1.0",
        firstLine(run("demo", "--schedule", "cosine", "--min-lr", "-1").err()));
    assertEquals(2, run("demo", "--schedule", "step").status());
  }

  @ParameterizedTest
  @ValueSource(strings = {"convert", "train", "predict", "export", "demo"})
  void everyCommandHasGeneratedHelp(String command) {
    for (Outcome o : List.of(run(command, "--help"), run(command, "-h"), run("help", command))) {
      assertEquals(0, o.status());
      assertTrue(o.out().startsWith("Usage: EmberCli " + command), o.out());
      assertTrue(o.out().contains("-h, --help"), o.out());
      assertTrue(o.out().contains("--master=URL"), o.out());
      assertTrue(o.out().contains("--verbose"), o.out());
      assertEquals("", o.err());
    }
    if (!command.equals("demo")) {
      assertTrue(run(command, "--help").out().contains("--overwrite"), command);
    }
  }

  @Test
  void topLevelHelpListsTheCommandsAndExitStatuses() {
    Outcome o = run("--help");
    assertEquals(0, o.status());
    for (String c : List.of("convert", "train", "predict", "export", "demo")) {
      assertTrue(o.out().contains("  " + c + " "), o.out());
    }
    assertTrue(o.out().contains("spark-submit"), o.out());
    assertTrue(o.out().contains("3  an output path was refused"), o.out());
    assertTrue(o.out().contains("4  an input could not be read"), o.out());
    assertTrue(o.out().contains("5  internal error of the JVM"), o.out());
    Outcome none = run();
    assertEquals(2, none.status());
    assertTrue(none.err().startsWith("error: a command is required"), none.err());
    assertTrue(none.err().contains("Usage: EmberCli"), none.err());
  }

  @Test
  void mistakesPrintTheUsageAndExitTwo() {
    String[][] bad = {
      {"fly"},
      {"train", "--model-out", "m"},
      {"train", "--data", "d", "--model-out", "m", "--epochs", "0"},
      {"train", "--data", "d", "--model-out", "m", "--epochs", "many"},
      {"train", "--data", "d", "--model-out", "m", "--lr", "-1"},
      {"train", "--data", "d", "--model-out", "m", "--lr", "NaN"},
      {"train", "--data", "d", "--model-out", "m", "--layers", "784,,10"},
      {"train", "--data", "d", "--model-out", "m", "--layers", "784"},
      {"train", "--data", "d", "--model-out", "m", "--layers", "784,10", "--network", "x"},
      {"train", "--data", "d", "--model-out", "m", "--input-shape", "1,28,28"},
      {"train", "--data", "d", "--model-out", "m", "--optimizer", "lbfgs"},
      {"train", "--data", "d", "--data", "e", "--model-out", "m"},
      {"train", "--data", "d", "--model-out", "m", "--aggregation", "fedsgd"},
      {"train", "--data", "d", "--model-out", "m", "--secure-aggregation", "yes"},
      {"train", "--data", "d", "--model-out", "m", "--secure-noise", "1"},
      {"train", "--data", "d", "--model-out", "m", "--client-fraction", "1.5"},
      {
        "train",
        "--data",
        "d",
        "--model-out",
        "m",
        "--aggregation",
        "dp-sgd",
        "--noise-multiplier",
        "-1"
      },
      {"train", "--data", "d", "--model-out", "m", "--overwrite=maybe"},
      {"convert", "--fashion-mnist", "d", "--out", "o", "--clients", "0"},
      {"convert", "--fashion-mnist", "d", "--out", "o", "--split", "dirichlet"},
      {"convert", "--fashion-mnist", "d", "--out", "o", "--clients", "3", "--split", "iid"},
      {"train", "--data", "d", "--model-out"},
      {"train", "--data", "d", "--model-out", "m", "extra"},
      {"predict", "--model", "m", "--data", "d", "--out", "o", "--unknown", "1"},
      {"demo", "--limit", "-5"},
    };
    for (String[] args : bad) {
      Outcome o = run(args);
      String what = String.join(" ", args);
      assertEquals(2, o.status(), what);
      assertTrue(o.err().startsWith("error: "), what + " -> " + o.err());
      assertTrue(o.err().contains("Usage: EmberCli"), what + " -> " + o.err());
      assertEquals("", o.out(), what);
    }
    assertEquals(
        "error: Missing required option: '--data=PATH'",
        firstLine(run("train", "--model-out", "m").err()));
    assertEquals(
        "error: Invalid value for option '--epochs': 'x' is not an int",
        firstLine(run("train", "--data", "d", "--model-out", "m", "--epochs", "x").err()));
    assertEquals(
        "error: --epochs must be at least 1, got 0",
        firstLine(run("train", "--data", "d", "--model-out", "m", "--epochs", "0").err()));
    assertEquals(
        "error: Unknown option: '--bogus'",
        firstLine(run("predict", "--model", "m", "--data", "d", "--out", "o", "--bogus").err()));
    assertEquals(
        "error: option '--data' (PATH) should be specified only once",
        firstLine(run("train", "--data", "d", "--data", "e", "--model-out", "m").err()));
    assertEquals(
        "error: Invalid value for option '--secure-aggregation': 'yes' is not a boolean",
        firstLine(
            run("train", "--data", "d", "--model-out", "m", "--secure-aggregation", "yes").err()));
  }

  /** Privacy options under a non-private aggregation would train without privacy: refused. */
  @Test
  void privacyOptionsNeedAPrivateAggregation() {
    Outcome o =
        run(
            "train",
            "--data",
            "d",
            "--model-out",
            "m",
            "--target-epsilon",
            "1",
            "--secure-noise",
            "true",
            "--clip",
            "0.5");
    assertEquals(2, o.status());
    assertEquals(
        "error: --target-epsilon, --clip, --secure-noise are privacy options and need"
            + " --aggregation dp-sgd or dp-fedavg; the aggregation sync (the default) adds no"
            + " noise, so the model would not be private",
        firstLine(o.err()));
    Outcome fedavg =
        run(
            "train",
            "--data",
            "d",
            "--model-out",
            "m",
            "--aggregation",
            "fedavg",
            "--noise-multiplier",
            "0.5");
    assertEquals(2, fedavg.status());
    assertEquals(
        "error: --noise-multiplier is a privacy option and needs --aggregation dp-sgd or"
            + " dp-fedavg; the aggregation fedavg adds no noise, so the model would not be private",
        firstLine(fedavg.err()));
    for (String option :
        List.of("--delta=1e-6", "--sampling-rate=0.1", "--secure-noise=false", "--clip=1")) {
      Outcome one =
          run("train", "--data", "d", "--model-out", "m", "--aggregation", "sync", option);
      assertEquals(2, one.status(), option);
      assertTrue(
          one.err().contains(option.substring(0, option.indexOf('=')) + " is a privacy"),
          one.err());
    }
    // accepted with a private aggregation
    for (String aggregation : List.of("dp-sgd", "dp-fedavg")) {
      TrainArgs t =
          (TrainArgs)
              parse(
                  "train",
                  "--data",
                  "d",
                  "--model-out",
                  "m",
                  "--aggregation",
                  aggregation,
                  "--target-epsilon",
                  "1",
                  "--secure-noise",
                  "true",
                  "--clip",
                  "0.5");
      assertEquals(1.0, t.federation().targetEpsilon());
    }
  }

  private static String firstLine(String text) {
    int nl = text.indexOf('\n');
    return (nl < 0 ? text : text.substring(0, nl)).stripTrailing();
  }
}
