package org.emberdl.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The output rules on the local file system, without Spark. */
class OutputGuardTest {
  @TempDir Path dir;

  private OutputGuard guard() {
    return new OutputGuard(new Configuration());
  }

  @Test
  void relationComparesWholePathComponents() {
    assertEquals(
        "is", OutputGuard.relation(URI.create("file:/a/data"), URI.create("file:/a/data/")));
    assertEquals("holds", OutputGuard.relation(URI.create("file:/a"), URI.create("file:/a/data")));
    assertEquals(
        "is inside",
        OutputGuard.relation(URI.create("file:/a/data/x"), URI.create("file:/a/data")));
    // a shared prefix of characters is not containment
    assertNull(OutputGuard.relation(URI.create("file:/a/data2"), URI.create("file:/a/data")));
    assertNull(OutputGuard.relation(URI.create("file:/a/dat"), URI.create("file:/a/data")));
    // other file systems never overlap
    assertNull(OutputGuard.relation(URI.create("hdfs://nn/a"), URI.create("file:/a")));
    assertEquals(
        "holds", OutputGuard.relation(URI.create("hdfs://nn/a"), URI.create("hdfs://nn/a/b")));
  }

  @Test
  void outputsMayNotOverlapEachOther() throws Exception {
    String model = dir.resolve("model").toString();
    OutputGuard g = guard();
    g.output("--model-out", model, OutputGuard.Kind.MODEL, false);
    OutputGuard.RefusedException e =
        assertThrows(
            OutputGuard.RefusedException.class,
            () -> g.checkpoints("--checkpoint-dir", model + "/checkpoints"));
    assertEquals(
        "refusing to write --checkpoint-dir "
            + model
            + "/checkpoints: it is inside the output --model-out "
            + model,
        e.getMessage());
  }

  @Test
  void dotDotIsResolvedBeforeComparing() throws Exception {
    Path data = Files.createDirectories(dir.resolve("data"));
    OutputGuard g = guard().input("--data", data.toString());
    String sneaky = dir.resolve("other/../data").toString();
    OutputGuard.RefusedException e =
        assertThrows(
            OutputGuard.RefusedException.class,
            () -> g.output("--out", sneaky, OutputGuard.Kind.PREDICTIONS, true));
    assertEquals(
        "refusing to write --out " + sneaky + ": it is the input --data " + data, e.getMessage());
  }

  @Test
  void checkpointDirectoriesHoldOnlyCheckpoints() throws Exception {
    Path cp = dir.resolve("cp");
    Files.createDirectories(cp.resolve("epoch-000001"));
    Files.createDirectories(cp.resolve("_tmp-epoch-000002"));
    guard().checkpoints("--checkpoint-dir", cp.toString()); // a rerun resumes from them
    Files.writeString(cp.resolve("results.csv"), "keep me");
    assertThrows(
        OutputGuard.RefusedException.class,
        () -> guard().checkpoints("--checkpoint-dir", cp.toString()));
  }

  @Test
  void aModelIsRecognisedByItsFilesAndNothingElse() throws Exception {
    Path m = dir.resolve("m");
    Files.createDirectories(m.resolve("metadata"));
    Files.createDirectories(m.resolve("data"));
    Files.writeString(
        m.resolve("metadata/part-00000"),
        "{\"class\":\"org.emberdl.spark.EmberClassificationModel\",\"uid\":\"x\"}");
    Files.write(m.resolve("data/weights.safetensors"), new byte[8]);
    guard().output("--model-out", m.toString(), OutputGuard.Kind.MODEL, true);
    // not with --overwrite off
    assertThrows(
        OutputGuard.RefusedException.class,
        () -> guard().output("--model-out", m.toString(), OutputGuard.Kind.MODEL, false));
    // another library's Spark ML model
    Files.writeString(
        m.resolve("metadata/part-00000"),
        "{\"class\":\"org.apache.spark.ml.classification.LogisticRegressionModel\"}");
    assertThrows(
        OutputGuard.RefusedException.class,
        () -> guard().output("--model-out", m.toString(), OutputGuard.Kind.MODEL, true));
    // Ember's, but with someone's file beside it
    Files.writeString(
        m.resolve("metadata/part-00000"),
        "{\"class\":\"org.emberdl.spark.EmberClassificationModel\",\"uid\":\"x\"}");
    Files.writeString(m.resolve("README"), "mine");
    assertThrows(
        OutputGuard.RefusedException.class,
        () -> guard().output("--model-out", m.toString(), OutputGuard.Kind.MODEL, true));
  }

  @Test
  void replaceSwapsInOnlyAfterTheWriterSucceeds() throws Exception {
    Path out = dir.resolve("out");
    OutputGuard g = guard();
    g.replace(out.toString(), OutputGuard.Kind.PREDICTIONS, tmp -> writePart(tmp, "first"));
    assertEquals("first", Files.readString(out.resolve("part-00000")));
    assertEquals("ember predictions\n", Files.readString(out.resolve(OutputGuard.MARKER)));
    IllegalStateException e =
        assertThrows(
            IllegalStateException.class,
            () ->
                g.replace(
                    out.toString(),
                    OutputGuard.Kind.PREDICTIONS,
                    tmp -> {
                      writePart(tmp, "half");
                      throw new IllegalStateException("disk full");
                    }));
    assertEquals("disk full", e.getMessage());
    assertEquals("first", Files.readString(out.resolve("part-00000")), "the old output survives");
    assertEquals(List.of("out"), names(dir), "the half-written sibling is gone");
    g.replace(out.toString(), OutputGuard.Kind.PREDICTIONS, tmp -> writePart(tmp, "second"));
    assertEquals("second", Files.readString(out.resolve("part-00000")));
    assertEquals(List.of("out"), names(dir), "the previous output was removed");
    // another kind's output is never replaced, even by a caller that skipped output()
    assertThrows(
        OutputGuard.RefusedException.class,
        () -> g.replace(out.toString(), OutputGuard.Kind.PARQUET, tmp -> writePart(tmp, "x")));
    assertFalse(Files.exists(dir.resolve("out/part-x")));
  }

  /** Writes as Spark would: {@code tmp} is a Hadoop path, here a {@code file:} URI. */
  private static void writePart(String tmp, String text) throws IOException {
    Path p = Path.of(URI.create(tmp));
    Files.createDirectories(p);
    Files.writeString(p.resolve("part-00000"), text);
  }

  /** The visible names in {@code d} (Hadoop's .crc files aside). */
  private static List<String> names(Path d) throws IOException {
    try (Stream<Path> s = Files.list(d)) {
      return s.map(p -> p.getFileName().toString())
          .filter(n -> !n.endsWith(".crc"))
          .sorted()
          .toList();
    }
  }
}
