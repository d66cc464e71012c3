package org.emberdl.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.emberdl.tensor.EmberConfig;
import org.emberdl.tensor.cuda.CudaAvailability;
import org.emberdl.tensor.cuda.CudaLibraries;
import org.junit.jupiter.api.Test;

/** {@code doctor}: every section, aligned, and the CUDA reason on a machine without CUDA. */
class DoctorCommandTest {
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

  /** The report's lines by label (the first of each), checking that every value is aligned. */
  private static Map<String, String> sections(String out) {
    List<String> lines = out.lines().toList();
    int column = -1;
    Map<String, String> byLabel = new LinkedHashMap<>();
    for (String line : lines) {
      int gap = line.indexOf("  ");
      assertTrue(gap > 0, "no label: " + line);
      int value = gap;
      while (line.charAt(value) == ' ') {
        value++;
      }
      if (column < 0) {
        column = value;
      }
      assertEquals(column, value, "values start in one column: " + out);
      byLabel.putIfAbsent(line.substring(0, gap), line.substring(value));
    }
    return byLabel;
  }

  @Test
  void printsEverySectionAndExitsZero() {
    Outcome o = run("doctor");
    assertEquals(0, o.status(), o.err());
    assertEquals("", o.err());
    Map<String, String> s = sections(o.out());
    assertEquals(
        List.of(
            "Java",
            "Spark",
            "OpenBLAS",
            "OpenBLAS core",
            "OpenBLAS threads",
            "Kernel threads",
            "Memory budget",
            "CUDA",
            "cuBLAS",
            "cuDNN",
            "CUDA backend"),
        List.copyOf(s.keySet()),
        o.out());
    assertTrue(s.get("Java").startsWith(System.getProperty("java.version") + " ("), s.get("Java"));
    assertTrue(
        s.get("Java").contains(", max heap " + (Runtime.getRuntime().maxMemory() >> 20) + " MiB"),
        s.get("Java"));
    assertEquals(org.apache.spark.package$.MODULE$.SPARK_VERSION(), s.get("Spark"));
    assertTrue(s.get("OpenBLAS").startsWith("OpenBLAS 0.3."), s.get("OpenBLAS"));
    assertTrue(!s.get("OpenBLAS core").isBlank());
    // Ember sets OpenBLAS to one thread when its CPU backend first runs a GEMM
    assertTrue(s.get("OpenBLAS threads").startsWith("1 ("), s.get("OpenBLAS threads"));
    assertEquals(
        EmberConfig.threads()
            + " in this JVM (-Demberdl.threads); a Spark task uses spark.task.cpus",
        s.get("Kernel threads"));
    assertEquals(
        "present for Device.cuda; the Spark stages run on the CPU for now (device=auto falls back"
            + " with a WARN, device=cuda is refused)",
        s.get("CUDA backend"));
  }

  @Test
  void withoutADriverTheCudaLineIsTheReason() {
    assumeFalse(CudaAvailability.isAvailable(), "this machine has CUDA");
    Map<String, String> s = sections(run("doctor").out());
    assertEquals("unavailable: " + CudaAvailability.status().reason(), s.get("CUDA"));
    assertTrue(s.get("CUDA").startsWith("unavailable: no NVIDIA driver: libcuda.so.1 not found ("));
    assertEquals(CudaLibraries.status().get(0).describe(), s.get("cuBLAS"));
    assertEquals(CudaLibraries.status().get(1).describe(), s.get("cuDNN"));
  }

  @Test
  void theMemoryBudgetIsTheExecutorsAsSparkSettingsGiveIt() {
    assumeFalse(
        System.getProperties().stringPropertyNames().stream()
            .anyMatch(k -> k.startsWith("spark.")));
    // spark.executor.memory defaults to 1g: max(384 MiB, 1024 MiB / 10 = 102 MiB) = 384 MiB
    assertEquals(
        "384 MiB off-heap per executor (max(384 MiB, 10% of spark.executor.memory = 1g))",
        sections(run("doctor").out()).get("Memory budget"));
    try {
      // 8g: max(384 MiB, 8192 MiB / 10 = 819 MiB, rounded down) = 819 MiB
      System.setProperty("spark.executor.memory", "8g");
      assertEquals(
          "819 MiB off-heap per executor (max(384 MiB, 10% of spark.executor.memory = 8g))",
          sections(run("doctor").out()).get("Memory budget"));
      System.setProperty("spark.ember.memoryLimit", "1500m");
      assertEquals(
          "1500 MiB off-heap per executor (spark.ember.memoryLimit)",
          sections(run("doctor").out()).get("Memory budget"));
    } finally {
      System.clearProperty("spark.executor.memory");
      System.clearProperty("spark.ember.memoryLimit");
    }
  }

  @Test
  void helpDescribesTheCommand() {
    Outcome o = run("doctor", "--help");
    assertEquals(0, o.status());
    assertTrue(o.out().contains("OpenBLAS"), o.out());
    assertTrue(run("--help").out().contains("doctor"), "listed among the commands");
  }
}
