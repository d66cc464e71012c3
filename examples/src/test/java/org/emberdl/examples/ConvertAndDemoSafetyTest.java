package org.emberdl.examples;

import static org.emberdl.examples.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.emberdl.examples.CliRun.Outcome;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code convert} and {@code demo} follow the same output rules as train and predict: an existing
 * output is replaced only with {@code --overwrite} and only when Ember wrote it. Uses a fake
 * Fashion-MNIST of 40 training and 20 test images.
 */
class ConvertAndDemoSafetyTest {
  @TempDir static Path dir;
  private static Path mnist;

  @BeforeAll
  static void writeFakeFashionMnist() throws IOException {
    mnist = dir.resolve("fashion-mnist");
    Files.createDirectories(mnist);
    writeIdx(mnist, "train", 40);
    writeIdx(mnist, "t10k", 20);
  }

  /** IDX files of {@code n} 28x28 images (pixel = label * 25) and labels {@code i % 10}. */
  private static void writeIdx(Path dir, String prefix, int n) throws IOException {
    try (OutputStream f = Files.newOutputStream(dir.resolve(prefix + "-images-idx3-ubyte"));
        DataOutputStream out = new DataOutputStream(f)) {
      out.writeInt(0x803);
      out.writeInt(n);
      out.writeInt(28);
      out.writeInt(28);
      for (int i = 0; i < n; i++) {
        for (int p = 0; p < 28 * 28; p++) {
          out.writeByte((i % 10) * 25);
        }
      }
    }
    try (OutputStream f = Files.newOutputStream(dir.resolve(prefix + "-labels-idx1-ubyte"));
        DataOutputStream out = new DataOutputStream(f)) {
      out.writeInt(0x801);
      out.writeInt(n);
      for (int i = 0; i < n; i++) {
        out.writeByte(i % 10);
      }
    }
  }

  @AfterEach
  void releasePooledReplicas() {
    org.emberdl.spark.EmberEngine.releaseCached();
  }

  @Test
  void convertReplacesOnlyItsOwnOutput() throws IOException {
    String images = mnist.resolve("train-images-idx3-ubyte").toString();
    String labels = mnist.resolve("train-labels-idx1-ubyte").toString();
    String out = dir.resolve("converted.parquet").toString();
    String[] convert = {"convert", "--images", images, "--labels", labels, "--out", out};
    Outcome first = run(convert);
    assertEquals(0, first.status(), first.err());
    assertTrue(first.out().contains("converted 40 examples"), first.out());
    assertTrue(Files.exists(Path.of(out, OutputGuard.MARKER)));
    Outcome again = run(convert);
    assertEquals(EmberCli.OUTPUT_REFUSED, again.status(), again.err());
    assertEquals(
        "error: convert: refusing to write --out "
            + out
            + ": it exists and is not empty; pass --overwrite to replace it (allowed only for"
            + " Ember's converted Parquet)",
        again.firstErrorLine());
    List<String> overwrite = new ArrayList<>(List.of(convert));
    overwrite.addAll(List.of("--overwrite", "--limit", "10"));
    Outcome replaced = run(overwrite.toArray(new String[0]));
    assertEquals(0, replaced.status(), replaced.err());
    assertTrue(replaced.out().contains("converted 10 examples"), replaced.out());
    // the IDX files' own directory is an input
    Outcome atInput =
        run("convert", "--images", images, "--labels", labels, "--out", mnist.toString());
    assertEquals(EmberCli.OUTPUT_REFUSED, atInput.status(), atInput.err());
    assertEquals(
        "error: convert: refusing to write --out "
            + mnist
            + ": it holds the input --images "
            + images,
        atInput.firstErrorLine());
    assertEquals(4, Files.list(mnist).count(), "the IDX files are untouched");
  }

  @Test
  void demoRerunsOverItsOwnWorkDirectoryOnlyWithOverwrite() throws IOException {
    String work = dir.resolve("demo").toString();
    String[] demo = {
      "demo",
      "--fashion-mnist",
      mnist.toString(),
      "--work",
      work,
      "--epochs",
      "1",
      "--limit",
      "40",
      "--batch-size",
      "16",
      "--partitions",
      "1"
    };
    Outcome first = run(demo);
    assertEquals(0, first.status(), first.err());
    assertTrue(first.out().contains("test accuracy: "), first.out());
    for (String name : List.of("train.parquet", "test.parquet", "model", "predictions.parquet")) {
      assertTrue(Files.isDirectory(Path.of(work, name)), name);
    }
    Outcome again = run(demo);
    assertEquals(EmberCli.OUTPUT_REFUSED, again.status(), again.err());
    assertTrue(again.firstErrorLine().contains("pass --overwrite to replace it"), again.err());
    List<String> overwrite = new ArrayList<>(List.of(demo));
    overwrite.add("--overwrite");
    Outcome rerun = run(overwrite.toArray(new String[0]));
    assertEquals(0, rerun.status(), rerun.err());
    // a file someone put into one of the demo's outputs: that output is no longer only Ember's
    Path notes = Path.of(work, "predictions.parquet", "notes.txt");
    Files.writeString(notes, "keep me");
    Outcome tampered = run(overwrite.toArray(new String[0]));
    assertEquals(EmberCli.OUTPUT_REFUSED, tampered.status(), tampered.err());
    assertEquals(
        "error: demo: refusing to overwrite --work "
            + work
            + "/predictions.parquet: it is not Ember predictions (written by predict: Parquet"
            + " parts, _SUCCESS and _EMBER_OUTPUT, nothing else); delete it yourself or choose"
            + " another path",
        tampered.firstErrorLine());
    assertEquals("keep me", Files.readString(notes));
  }

  @Test
  void demoRefusesAForeignWorkDirectoryBeforeStarting() throws IOException {
    Path foreign = dir.resolve("foreign");
    Files.createDirectories(foreign);
    Files.writeString(foreign.resolve("thesis.tex"), "keep me");
    Outcome o =
        run(
            "demo",
            "--fashion-mnist",
            mnist.toString(),
            "--work",
            foreign.toString(),
            "--overwrite");
    assertEquals(EmberCli.OUTPUT_REFUSED, o.status(), o.err());
    assertEquals(
        "error: demo: refusing to overwrite --work "
            + foreign
            + ": it is not an Ember demo work directory (written by demo: train.parquet,"
            + " test.parquet, model, predictions.parquet and _EMBER_OUTPUT, nothing else); delete"
            + " it yourself or choose another path",
        o.firstErrorLine());
    assertFalse(o.out().contains("Ember demo on Spark"), "refused before Spark started");
    Outcome holdsInput =
        run("demo", "--fashion-mnist", mnist.toString(), "--work", dir.toString(), "--overwrite");
    assertEquals(EmberCli.OUTPUT_REFUSED, holdsInput.status(), holdsInput.err());
    assertEquals(
        "error: demo: refusing to write --work "
            + dir
            + ": it holds the input --fashion-mnist "
            + mnist,
        holdsInput.firstErrorLine());
    assertEquals("keep me", Files.readString(foreign.resolve("thesis.tex")));
  }
}
