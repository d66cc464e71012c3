package org.emberdl.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The examples and the cluster tests use Ember the way users do: only {@code org.emberdl.spark},
 * never {@code org.emberdl.spark.internal.*}, which may change without notice. The one exception is
 * the cluster suite of the stage transport's block exchange, which probes that internal class
 * between two executor JVMs.
 */
class PublicApiOnlyTest {
  private static final String INTERNAL = "org.emberdl.spark.internal";

  /** Files allowed to reach into the internal packages, each with its reason in the class doc. */
  private static final Set<String> ALLOWED =
      Set.of(
          "cluster-tests/src/test/scala/org/emberdl/spark/internal/stage/"
              + "BlockAllReduceClusterSuite.scala");

  @Test
  void examplesAndClusterTestsUseOnlyThePublicApi() {
    Path repo = Path.of("").toAbsolutePath().getParent(); // surefire runs in examples/
    List<Path> sources = new ArrayList<>();
    sources.addAll(sources(repo.resolve("examples/src")));
    sources.addAll(sources(repo.resolve("cluster-tests/src")));
    // guards against a vacuous pass when run from another directory
    assertTrue(sources.size() > 10, "found only " + sources + " under " + repo);
    for (String allowed : ALLOWED) {
      assertTrue(Files.isRegularFile(repo.resolve(allowed)), "stale exception: " + allowed);
    }
    List<String> offenders = new ArrayList<>();
    for (Path p : sources) {
      String rel = repo.relativize(p).toString().replace('\\', '/');
      if (ALLOWED.contains(rel)) {
        continue;
      }
      List<String> lines = read(p);
      for (int i = 0; i < lines.size(); i++) {
        if (reachesInternal(lines.get(i))) {
          offenders.add(rel + ":" + (i + 1) + ": " + lines.get(i).trim());
        }
      }
    }
    assertEquals(List.of(), offenders, "files that use " + INTERNAL + " (not a public API)");
  }

  @Test
  void detectsImportsPackagesAndQualifiedNamesButNotStrings() {
    assertTrue(reachesInternal("import org.emberdl.spark.internal.train.Coordinator;"));
    assertTrue(reachesInternal("import static org.emberdl.spark.internal.io.ModelIO.writer;"));
    assertTrue(reachesInternal("import org.emberdl.spark.internal.stage.{StageTask, StageWire}"));
    assertTrue(reachesInternal("package org.emberdl.spark.internal.stage"));
    assertTrue(reachesInternal("  var p = org.emberdl.spark.internal.plan.TrainingPlan.of(x);"));
    // a logger category names the class without using it
    assertTrue(!reachesInternal("log(\"org.emberdl.spark.internal.rounds.SecureRound\")"));
    assertTrue(!reachesInternal("import org.emberdl.spark.EmberClassifier;"));
    assertTrue(!reachesInternal(" * never {@code org.emberdl.spark.internal.*}, which may change"));
    assertTrue(!reachesInternal("x = 1; // not org.emberdl.spark.internal.io.ModelIO"));
  }

  /** Whether a source line names the internal packages outside a string literal or comment. */
  static boolean reachesInternal(String line) {
    String code = line.strip();
    if (code.startsWith("*") || code.startsWith("/*") || code.startsWith("//")) {
      return false;
    }
    code = code.replaceAll("\"(?:\\\\.|[^\"\\\\])*\"", "\"\"").replaceAll("//.*", "");
    return code.contains(INTERNAL);
  }

  private static List<Path> sources(Path root) {
    try (Stream<Path> files = Files.walk(root)) {
      return files
          .filter(p -> p.toString().endsWith(".java") || p.toString().endsWith(".scala"))
          .sorted()
          .toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static List<String> read(Path p) {
    try {
      return Files.readAllLines(p);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
