package org.emberdl.examples;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import org.apache.spark.SparkConf;
import org.bytedeco.openblas.global.openblas_full;
import org.emberdl.spark.EmberEngine;
import org.emberdl.tensor.Backends;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Device;
import org.emberdl.tensor.EmberConfig;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.cuda.CudaAvailability;
import org.emberdl.tensor.cuda.CudaDevice;
import org.emberdl.tensor.cuda.CudaLibraries;
import org.emberdl.tensor.cuda.CudaLibrary;
import org.emberdl.tensor.cuda.CudaStatus;

/**
 * What {@code ember doctor} reports about this JVM and machine, as (label, value) lines: Java,
 * Spark, OpenBLAS, Ember's threads and off-heap budget, CUDA. Each section is gathered on its own,
 * and one that fails says so in its value, so the report is always complete.
 */
final class DoctorReport {
  /** One line of the report. */
  record Line(String label, String value) {}

  private static final String SPARK_CONF = "org.apache.spark.SparkConf";

  private final List<Line> lines = new ArrayList<>();

  private DoctorReport() {}

  /** The report of this JVM. */
  static List<Line> gather() {
    DoctorReport r = new DoctorReport();
    r.section("Java", r::java);
    r.section("Spark", r::spark);
    r.section("OpenBLAS", r::openBlas);
    r.section("Kernel threads", r::kernelThreads);
    r.section("Memory budget", r::memoryBudget);
    r.section("CUDA", r::cuda);
    return List.copyOf(r.lines);
  }

  /** The lines as aligned text: each label padded to the longest, two spaces, the value. */
  static String format(List<Line> lines) {
    int width = lines.stream().mapToInt(l -> l.label().length()).max().orElse(0);
    StringBuilder out = new StringBuilder();
    for (Line l : lines) {
      out.append(String.format(Locale.ROOT, "%-" + width + "s  %s%n", l.label(), l.value()));
    }
    return out.toString();
  }

  private interface Section {
    void gather() throws Exception;
  }

  /** Runs {@code s}; a failure becomes the section's line instead of failing the report. */
  private void section(String label, Section s) {
    try {
      s.gather();
    } catch (Exception | LinkageError e) {
      add(label, "could not be read: " + e);
    }
  }

  private void add(String label, String value) {
    lines.add(new Line(label, value));
  }

  private void java() {
    add(
        "Java",
        String.format(
            Locale.ROOT,
            "%s (%s), max heap %s, %d processors",
            System.getProperty("java.version"),
            System.getProperty("java.vendor"),
            mib(Runtime.getRuntime().maxMemory()),
            Runtime.getRuntime().availableProcessors()));
  }

  private void spark() throws IOException {
    // Read from Spark's own jar, so that no Spark class loads (nor needs to be present).
    try (InputStream in =
        DoctorReport.class.getClassLoader().getResourceAsStream("spark-version-info.properties")) {
      if (in == null) {
        add("Spark", "not on the classpath (run with spark-submit, or add Spark's jars)");
        return;
      }
      Properties p = new Properties();
      p.load(in);
      add("Spark", p.getProperty("version", "unknown version"));
    }
  }

  private void openBlas() {
    // One small GEMM through Ember's CPU backend first, so that OpenBLAS is set up as Ember runs
    // it (one thread: Ember parallelizes around it).
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray a = NDArray.ones(DType.FLOAT32, 2, 2);
      a.matmul(a);
    }
    add("OpenBLAS", openblas_full.openblas_get_config().getString().trim());
    add("OpenBLAS core", openblas_full.openblas_get_corename().getString().trim());
    add(
        "OpenBLAS threads",
        openblas_full.openblas_get_num_threads()
            + " ("
            + threading(openblas_full.openblas_get_parallel())
            + "; Ember splits GEMMs over its own kernel threads)");
  }

  private static String threading(int parallel) {
    return switch (parallel) {
      case 0 -> "built single-threaded";
      case 1 -> "pthreads build";
      case 2 -> "OpenMP build";
      default -> "threading " + parallel;
    };
  }

  private void kernelThreads() {
    add(
        "Kernel threads",
        EmberConfig.threads()
            + " in this JVM (-Demberdl.threads); a Spark task uses spark.task.cpus");
  }

  private void memoryBudget() throws ClassNotFoundException {
    if (!onClasspath(SPARK_CONF)) {
      add("Memory budget", "unknown: Spark is not on the classpath");
      return;
    }
    // Under spark-submit, its --conf settings are this JVM's spark.* system properties.
    SparkConf conf = new SparkConf();
    String source;
    if (conf.contains("spark.ember.memoryLimit")) {
      source = "spark.ember.memoryLimit";
    } else if (conf.contains("spark.executor.memoryOverhead")) {
      source = "spark.executor.memoryOverhead";
    } else {
      source =
          "max(384 MiB, 10% of spark.executor.memory = "
              + conf.get("spark.executor.memory", "1g")
              + ")";
    }
    add(
        "Memory budget",
        (EmberEngine.memoryLimit(conf) >> 20) + " MiB off-heap per executor (" + source + ")");
  }

  private static boolean onClasspath(String className) {
    try {
      Class.forName(className, false, DoctorReport.class.getClassLoader());
      return true;
    } catch (ClassNotFoundException | LinkageError e) {
      return false;
    }
  }

  private void cuda() {
    CudaStatus s = CudaAvailability.status();
    if (!s.available()) {
      add("CUDA", "unavailable: " + s.reason());
      if (s.driverVersion() > 0) {
        add("CUDA versions", versions(s));
      }
    } else {
      add("CUDA", versions(s));
      for (CudaDevice d : s.devices()) {
        add("CUDA device", d.toString());
      }
    }
    for (CudaLibrary lib : CudaLibraries.status()) {
      add(lib.name(), lib.describe());
    }
    add(
        "CUDA backend",
        !Backends.provides(Device.Type.CUDA)
            ? "none in this build: tensors run on the CPU (device=auto falls back with a WARN,"
                + " device=cuda fails)"
            : EmberEngine.stagesRunOnCuda()
                ? "present"
                : "present for Device.cuda; the Spark stages run on the CPU for now"
                    + " (device=auto falls back with a WARN, device=cuda is refused)");
  }

  private static String versions(CudaStatus s) {
    return "driver "
        + CudaStatus.version(s.driverVersion())
        + ", runtime "
        + CudaStatus.version(s.runtimeVersion());
  }

  private static String mib(long bytes) {
    return bytes == Long.MAX_VALUE ? "unlimited" : (bytes >> 20) + " MiB";
  }
}
