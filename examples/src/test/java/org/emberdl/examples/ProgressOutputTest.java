package org.emberdl.examples;

import static org.emberdl.examples.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import javax.xml.parsers.DocumentBuilderFactory;
import org.apache.spark.sql.SparkSession;
import org.emberdl.examples.CliRun.Outcome;
import org.emberdl.spark.EpochMetrics;
import org.emberdl.spark.TrainingProgress;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What {@code train} prints: a live line on a terminal (or --progress=always), else epoch lines.
 */
class ProgressOutputTest {
  @TempDir static Path dir;
  private static String data;

  private static final Pattern EPOCH =
      Pattern.compile("epoch [12]/2: loss \\d+\\.\\d{4}, accuracy \\d+\\.\\d{2}%, \\d+ samples/s");
  private static final Pattern LIVE =
      Pattern.compile(
          "epoch [12]/2, step [123]/3: \\d+ samples/s, loss \\d+\\.\\d{4}, ETA (\\d+s|\\?)");

  @BeforeAll
  static void writeData() {
    SparkSession spark =
        SparkSession.builder()
            .master("local[1]")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .getOrCreate();
    data = dir.resolve("train.parquet").toString();
    // 24 rows, 4 features, 3 classes: batch 8 is 3 steps an epoch.
    spark
        .range(24)
        .selectExpr(
            "cast(id % 3 as double) as label",
            "array(cast(id % 3 as float), cast(id as float) / 24, 0.5f, 1f) as features")
        .coalesce(1)
        .write()
        .parquet(data);
    spark.stop();
  }

  @AfterEach
  void releasePooledReplicas() {
    org.emberdl.spark.EmberEngine.releaseCached();
  }

  private static Outcome train(String model, String... more) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "train",
                "--data",
                data,
                "--model-out",
                model,
                "--layers",
                "4,3",
                "--epochs",
                "2",
                "--batch-size",
                "8"));
    args.addAll(List.of(more));
    Outcome o = run(args.toArray(new String[0]));
    assertEquals(0, o.status(), o.err());
    return o;
  }

  /** The lines a terminal would show: each carriage return starts the line over. */
  private static List<String> screen(String out) {
    List<String> lines = new ArrayList<>();
    for (String line : out.split("\n", -1)) {
      String shown = line.substring(line.lastIndexOf('\r') + 1).stripTrailing();
      if (!shown.isEmpty()) {
        lines.add(shown);
      }
    }
    return lines;
  }

  private static void assertFinalLines(List<String> lines, String model) {
    assertEquals(6, lines.size(), String.join("\n", lines));
    assertTrue(
        lines.get(0).startsWith("training MLP 4-3 on 24 rows of " + data + ": 2 epochs, batch 8"),
        lines.get(0));
    assertTrue(EPOCH.matcher(lines.get(1)).matches() && lines.get(1).startsWith("epoch 1/2"));
    assertTrue(EPOCH.matcher(lines.get(2)).matches() && lines.get(2).startsWith("epoch 2/2"));
    assertEquals("24 training rows on 1 partitions, 3 rounds per epoch", lines.get(3));
    assertTrue(lines.get(4).matches("trained in \\d+\\.\\d s; model saved to .*"), lines.get(4));
    assertEquals("curves: " + model + "/data/training.svg", lines.get(5));
  }

  @Test
  void withoutATerminalTrainPrintsPlainEpochLinesAndNamesTheCurves() throws Exception {
    String model = dir.resolve("plain").toString();
    Outcome o = train(model); // --progress auto, and the output is not a terminal
    assertFalse(o.out().contains("\r"), o.out());
    assertFinalLines(o.out().lines().toList(), model);
    assertEquals(o.out().lines().toList(), screen(o.out()));
    DocumentBuilderFactory xml = DocumentBuilderFactory.newInstance();
    xml.setNamespaceAware(true);
    assertEquals(
        "svg",
        xml.newDocumentBuilder()
            .parse(Files.newInputStream(Path.of(model, "data/training.svg")))
            .getDocumentElement()
            .getLocalName());

    String never = dir.resolve("never").toString();
    assertFalse(train(never, "--progress", "never").out().contains("\r"));
  }

  @Test
  void progressAlwaysRedrawsOneLineInPlaceAndLeavesTheSameFinalLines() {
    String model = dir.resolve("live").toString();
    Outcome o = train(model, "--progress=always");
    assertTrue(o.out().contains("\r"), o.out());
    assertFinalLines(screen(o.out()), model);
    // Every drawing of the live line has the live format; at least the first step of each epoch
    // is drawn (the first call always draws; later ones at most 4 times a second).
    int drawn = 0;
    for (String line : o.out().split("\n")) {
      for (String frame : line.split("\r")) {
        String f = frame.stripTrailing();
        if (f.startsWith("epoch ") && f.contains(", step ")) {
          assertTrue(LIVE.matcher(f).matches(), f);
          drawn++;
        }
      }
    }
    assertTrue(drawn >= 1, o.out());
  }

  @Test
  void liveLineIsThrottledAndEachEpochReplacesItWithItsLine() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    long[] now = {0};
    ProgressLine line = new ProgressLine(out, 2, () -> now[0]);
    // 100 ms apart: the first step draws, the next two are within 250 ms, the fourth draws.
    for (int step = 1; step <= 4; step++) {
      line.onStep(new TrainingProgress(1, 2, step, 10, 100L * step, 1.5 / step, 0.1 * step));
      now[0] += 100_000_000L;
    }
    String first = "epoch 1/2, step 1/10: 1000 samples/s, loss 1.5000, ETA 2s";
    // step 4: 400 samples in 0.4 s; 0.1 s a step, 6 + 10 steps left -> 1.6 s, shown as 2s
    String fourth = "epoch 1/2, step 4/10: 1000 samples/s, loss 0.3750, ETA 2s";
    assertEquals("\r" + first + "\r" + fourth, bytes.toString(StandardCharsets.UTF_8));
    bytes.reset();
    line.onEpoch(new EpochMetrics(1, 0.25, 0.5, 1234, Double.NaN, Double.NaN, 1, Double.NaN));
    assertEquals(
        "\r"
            + " ".repeat(fourth.length())
            + "\r"
            + "epoch 1/2: loss 0.2500, accuracy 50.00%, 1234 samples/s"
            + System.lineSeparator(),
        bytes.toString(StandardCharsets.UTF_8));
    // A shorter line blanks what the longer one left.
    bytes.reset();
    line.onStep(new TrainingProgress(2, 2, 1, 10, 100, 0.5, 0.1));
    now[0] += 300_000_000L;
    line.onStep(new TrainingProgress(2, 2, 2, 10, 0, Double.NaN, 0));
    String a = "epoch 2/2, step 1/10: 1000 samples/s, loss 0.5000, ETA 1s";
    String b = "epoch 2/2, step 2/10: 0 samples/s, loss NaN, ETA ?";
    assertEquals(
        "\r" + a + "\r" + b + " ".repeat(a.length() - b.length()),
        bytes.toString(StandardCharsets.UTF_8));
  }

  @Test
  void durations() {
    assertEquals("?", ProgressLine.duration(Double.NaN));
    assertEquals("0s", ProgressLine.duration(0.2));
    assertEquals("59s", ProgressLine.duration(59.4));
    assertEquals("1m00s", ProgressLine.duration(59.6));
    assertEquals("3m07s", ProgressLine.duration(187));
    assertEquals("1h02m", ProgressLine.duration(3725));
  }

  @Test
  void progressTakesAutoAlwaysOrNever() {
    Outcome o = run("train", "--data", "d", "--model-out", "m", "--progress", "sometimes");
    assertEquals(2, o.status());
    assertTrue(
        o.err().contains("--progress must be one of auto, always, never, got 'sometimes'"),
        o.err());
    assertFalse(ProgressLine.live("auto", new PrintStream(new ByteArrayOutputStream())));
    assertTrue(ProgressLine.live("always", new PrintStream(new ByteArrayOutputStream())));
    assertFalse(ProgressLine.live("never", System.out));
  }
}
