package org.emberdl.examples;

import static org.emberdl.examples.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.apache.spark.sql.SparkSession;
import org.emberdl.examples.CliRun.Outcome;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command line never deletes what it did not write, and reports failures in one line with a
 * distinct exit status. Runs the real commands on embedded Spark with a tiny dataset (4 features, 3
 * classes, 24 rows), so each file on disk can be compared before and after.
 */
class CliSafetyTest {
  @TempDir static Path dir;

  private static String data;
  private static String badData;
  private static String model;

  @BeforeAll
  static void writeDataAndTrain() {
    SparkSession spark =
        SparkSession.builder()
            .master("local[1]")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .getOrCreate();
    data = dir.resolve("data/train.parquet").toString();
    badData = dir.resolve("bad.parquet").toString();
    // 24 rows, label id % 3, features of 4 floats; the bad rows have 5 features: scoring fails
    spark
        .range(24)
        .selectExpr(
            "cast(id % 3 as double) as label",
            "array(cast(id % 3 as float), cast(id as float) / 24, 0.5f, 1f) as features")
        .coalesce(1)
        .write()
        .parquet(data);
    spark
        .range(8)
        .selectExpr("cast(0 as double) as label", "array(1f, 2f, 3f, 4f, 5f) as features")
        .coalesce(1)
        .write()
        .parquet(badData);
    spark.stop();
    model = dir.resolve("model").toString();
    Outcome trained =
        run(
            "train",
            "--data",
            data,
            "--model-out",
            model,
            "--layers",
            "4,3",
            "--epochs",
            "1",
            "--batch-size",
            "8");
    assertEquals(0, trained.status(), trained.err());
  }

  @AfterEach
  void releasePooledReplicas() {
    org.emberdl.spark.EmberEngine.releaseCached(); // before the allocator leak check
  }

  /** Every regular file under {@code root} with its bytes (as a list, for equality). */
  static Map<String, List<Byte>> snapshot(Path root) throws IOException {
    Map<String, List<Byte>> files = new TreeMap<>();
    try (Stream<Path> walk = Files.walk(root)) {
      for (Path p : walk.filter(Files::isRegularFile).toList()) {
        byte[] b = Files.readAllBytes(p);
        List<Byte> bytes = new ArrayList<>(b.length);
        for (byte x : b) {
          bytes.add(x);
        }
        files.put(root.relativize(p).toString(), bytes);
      }
    }
    return files;
  }

  @Test
  void modelOutAtTheTrainingDataIsRefusedBeforeTraining() throws IOException {
    Path dataDir = Path.of(data).getParent();
    Map<String, List<Byte>> before = snapshot(dataDir);
    Outcome same = run("train", "--data", data, "--model-out", data, "--layers", "4,3");
    assertEquals(EmberCli.OUTPUT_REFUSED, same.status(), same.err());
    assertEquals(1, same.err().lines().count(), "a refusal is one line: " + same.err());
    assertEquals(
        "error: train: refusing to write --model-out " + data + ": it is the input --data " + data,
        same.firstErrorLine());
    assertFalse(same.out().contains("training"), "refused before training: " + same.out());
    Outcome holds =
        run(
            "train",
            "--data",
            data,
            "--model-out",
            dataDir.toString(),
            "--layers",
            "4,3",
            "--overwrite");
    assertEquals(EmberCli.OUTPUT_REFUSED, holds.status(), holds.err());
    assertEquals(
        "error: train: refusing to write --model-out "
            + dataDir
            + ": it holds the input --data "
            + data,
        holds.firstErrorLine());
    Outcome inside =
        run("train", "--data", data, "--model-out", data + "/model", "--layers", "4,3");
    assertEquals(EmberCli.OUTPUT_REFUSED, inside.status(), inside.err());
    assertTrue(inside.firstErrorLine().endsWith("it is inside the input --data " + data));
    assertEquals(before, snapshot(dataDir), "the training data is untouched");
  }

  @Test
  void predictOutAtOrAroundItsInputsIsRefused() throws IOException {
    Path dataDir = Path.of(data).getParent();
    Map<String, List<Byte>> before = snapshot(dir);
    for (String[] outAndRelation :
        new String[][] {
          {data, "is the input --data " + data},
          {dataDir.toString(), "holds the input --data " + data},
          {model, "is the input --model " + model},
          {model + "/data/out", "is inside the input --model " + model},
        }) {
      Outcome o =
          run(
              "predict",
              "--model",
              model,
              "--data",
              data,
              "--out",
              outAndRelation[0],
              "--overwrite");
      assertEquals(EmberCli.OUTPUT_REFUSED, o.status(), o.err());
      assertEquals(
          "error: predict: refusing to write --out "
              + outAndRelation[0]
              + ": it "
              + outAndRelation[1],
          o.firstErrorLine());
    }
    assertEquals(before, snapshot(dir), "nothing written or deleted");
  }

  @Test
  void aSymbolicLinkToTheInputIsTheInput() throws IOException {
    Path link = dir.resolve("link-to-data");
    Files.createSymbolicLink(link, Path.of(data));
    Outcome o =
        run("predict", "--model", model, "--data", data, "--out", link.toString(), "--overwrite");
    assertEquals(EmberCli.OUTPUT_REFUSED, o.status(), o.err());
    assertEquals(
        "error: predict: refusing to write --out " + link + ": it is the input --data " + data,
        o.firstErrorLine());
  }

  @Test
  void anExistingOutputNeedsOverwriteAndOnlyEmbersOwnIsReplaced() throws IOException {
    Path other = dir.resolve("unrelated");
    Files.createDirectories(other);
    Files.writeString(other.resolve("notes.txt"), "keep me");
    Outcome plain = run("predict", "--model", model, "--data", data, "--out", other.toString());
    assertEquals(EmberCli.OUTPUT_REFUSED, plain.status(), plain.err());
    assertEquals(
        "error: predict: refusing to write --out "
            + other
            + ": it exists and is not empty; pass --overwrite to replace it (allowed only for"
            + " Ember predictions)",
        plain.firstErrorLine());
    Outcome forced =
        run("predict", "--model", model, "--data", data, "--out", other.toString(), "--overwrite");
    assertEquals(EmberCli.OUTPUT_REFUSED, forced.status(), forced.err());
    assertEquals(
        "error: predict: refusing to overwrite --out "
            + other
            + ": it is not Ember predictions (written by predict: Parquet parts, _SUCCESS and"
            + " _EMBER_OUTPUT, nothing else); delete it yourself or choose another path",
        forced.firstErrorLine());
    // a Spark Parquet dataset that Ember did not write is not Ember's either
    Outcome dataset =
        run("train", "--data", data, "--model-out", badData, "--overwrite", "--layers", "4,3");
    assertEquals(EmberCli.OUTPUT_REFUSED, dataset.status(), dataset.err());
    assertTrue(dataset.firstErrorLine().contains("it is not an Ember model"), dataset.err());
    assertEquals("keep me", Files.readString(other.resolve("notes.txt")));
    assertTrue(Files.exists(Path.of(badData, "_SUCCESS")));
    // a checkpoint directory that holds anything but checkpoints is refused too
    Outcome checkpoints =
        run(
            "train",
            "--data",
            data,
            "--model-out",
            dir.resolve("m2").toString(),
            "--layers",
            "4,3",
            "--checkpoint-dir",
            other.toString());
    assertEquals(EmberCli.OUTPUT_REFUSED, checkpoints.status(), checkpoints.err());
    assertEquals(
        "error: train: refusing to overwrite --checkpoint-dir "
            + other
            + ": it is not Ember checkpoints (epoch-NNNNNN directories, nothing else); delete it"
            + " yourself or choose another path",
        checkpoints.firstErrorLine());
  }

  @Test
  void trainReplacesItsOwnModelOnlyWithOverwrite() throws IOException {
    String m = dir.resolve("model-again").toString();
    String[] train = {
      "train", "--data", data, "--model-out", m, "--layers", "4,3", "--epochs", "1"
    };
    assertEquals(0, run(train).status());
    Outcome again = run(train);
    assertEquals(EmberCli.OUTPUT_REFUSED, again.status(), again.err());
    assertTrue(again.firstErrorLine().contains("it exists and is not empty; pass --overwrite"));
    List<String> withOverwrite = new ArrayList<>(List.of(train));
    withOverwrite.addAll(List.of("--overwrite", "--seed", "7"));
    byte[] before = Files.readAllBytes(Path.of(m, "data/weights.safetensors"));
    Outcome replaced = run(withOverwrite.toArray(new String[0]));
    assertEquals(0, replaced.status(), replaced.err());
    assertFalse(
        Arrays.equals(before, Files.readAllBytes(Path.of(m, "data/weights.safetensors"))),
        "seed 7's weights replaced seed 42's");
  }

  @Test
  void aFailedPredictLeavesTheEarlierOutputAsItWas() throws IOException {
    String out = dir.resolve("predictions").toString();
    Outcome first = run("predict", "--model", model, "--data", data, "--out", out);
    assertEquals(0, first.status(), first.err());
    assertTrue(first.out().contains("scored 24 rows"), first.out());
    assertTrue(Files.exists(Path.of(out, OutputGuard.MARKER)));
    Map<String, List<Byte>> before = snapshot(Path.of(out));
    // data whose second part file is cut short: the schema reads, the scoring job fails midway
    Path halfBad = dir.resolve("half-bad.parquet");
    Files.createDirectories(halfBad);
    Path part = partFile(Path.of(data));
    byte[] good = Files.readAllBytes(part);
    Files.write(halfBad.resolve("part-00000.parquet"), good);
    Files.write(halfBad.resolve("part-00001.parquet"), Arrays.copyOf(good, good.length - 10));
    Outcome failed =
        run("predict", "--model", model, "--data", halfBad.toString(), "--out", out, "--overwrite");
    assertEquals(EmberCli.INPUT_ERROR, failed.status(), failed.err());
    assertTrue(
        failed
            .firstErrorLine()
            .startsWith(
                "error: predict: cannot read file:" + halfBad.resolve("part-00001.parquet")),
        failed.err());
    assertEquals(before, snapshot(Path.of(out)), "the earlier predictions are intact");
    // rows the model refuses (5 features for a 4-input network) fail the scoring job too
    Outcome invalid =
        run("predict", "--model", model, "--data", badData, "--out", out, "--overwrite");
    assertEquals(EmberCli.FAILED, invalid.status(), invalid.err());
    assertTrue(
        invalid
            .firstErrorLine()
            .startsWith(
                "error: predict failed: invalid row 0 of partition 0 in features column"
                    + " 'features'"),
        invalid.err());
    assertEquals(before, snapshot(Path.of(out)), "the earlier predictions are intact");
    try (Stream<Path> siblings = Files.list(dir)) {
      assertEquals(
          List.of(),
          siblings.map(p -> p.getFileName().toString()).filter(n -> n.contains(".ember-")).toList(),
          "the half-written output was removed");
    }
    // and a successful --overwrite replaces it
    Outcome again = run("predict", "--model", model, "--data", data, "--out", out, "--overwrite");
    assertEquals(0, again.status(), again.err());
  }

  @Test
  void corruptParquetNamesTheFileAndTheCauseInTheFirstLine() throws IOException {
    Path part = partFile(Path.of(data));
    byte[] good = Files.readAllBytes(part);
    Path truncated = dir.resolve("truncated.parquet");
    Files.createDirectories(truncated);
    Files.write(truncated.resolve("part-00000.parquet"), Arrays.copyOf(good, good.length / 2));
    Path random = dir.resolve("random.parquet");
    Files.createDirectories(random);
    byte[] noise = new byte[3000];
    new Random(1).nextBytes(noise);
    Files.write(random.resolve("part-00000.parquet"), noise);
    for (Path bad : List.of(truncated, random)) {
      String m = dir.resolve("m-" + bad.getFileName()).toString();
      Outcome o = run("train", "--data", bad.toString(), "--model-out", m, "--layers", "4,3");
      assertEquals(EmberCli.INPUT_ERROR, o.status(), o.err());
      String line = o.firstErrorLine();
      String prefix = "error: train: cannot read file:" + bad.resolve("part-00000.parquet") + ": ";
      assertTrue(line.startsWith(prefix), line);
      assertTrue(line.endsWith("(java.lang.RuntimeException)"), line);
      assertFalse(line.contains("awaitResult"), line);
      assertFalse(o.err().contains("\tat "), "no stack trace without --verbose: " + o.err());
      assertFalse(Files.exists(Path.of(m)), "nothing saved");
    }
    // the truncated file's cause: its footer's magic number is missing
    Outcome t =
        run("train", "--data", truncated.toString(), "--model-out", dir.resolve("t").toString());
    assertTrue(t.firstErrorLine().contains("is not a Parquet file"), t.err());
    Outcome verbose =
        run(
            "train",
            "--data",
            truncated.toString(),
            "--model-out",
            dir.resolve("t").toString(),
            "--verbose");
    assertTrue(verbose.err().contains("\tat "), "--verbose prints the trace: " + verbose.err());
  }

  private static Path partFile(Path parquet) throws IOException {
    try (Stream<Path> files = Files.list(parquet)) {
      return files.filter(p -> p.getFileName().toString().endsWith(".parquet")).findFirst().get();
    }
  }

  @Test
  void aModelDirectoryThatHoldsNoModelIsAnInputError() {
    String out = dir.resolve("never-written").toString();
    Outcome o = run("predict", "--model", badData, "--data", data, "--out", out);
    assertEquals(EmberCli.INPUT_ERROR, o.status(), o.err());
    assertEquals(
        "error: predict: cannot load the model "
            + badData
            + ": [PATH_NOT_FOUND] Path does not exist: file:"
            + badData
            + "/metadata. SQLSTATE: 42K03 (org.apache.spark.sql.AnalysisException)",
        o.firstErrorLine());
    assertFalse(Files.exists(Path.of(out)));
  }

  @Test
  void aMissingInputIsAnInputError() {
    String missing = dir.resolve("no-such.parquet").toString();
    Outcome o = run("train", "--data", missing, "--model-out", dir.resolve("m3").toString());
    assertEquals(EmberCli.INPUT_ERROR, o.status(), o.err());
    assertEquals("error: train: no such file or directory: file:" + missing, o.firstErrorLine());
  }
}
