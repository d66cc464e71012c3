package org.emberdl.tensor.cuda;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.platform.engine.DiscoverySelector;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.reporting.ReportEntry;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

/**
 * {@code scripts/gpu-check.sh}'s runner: runs {@link BackendConformanceTest}, {@link HostReadsTest}
 * (and the probe's and allocator's tests), or the test classes named as arguments, through the
 * JUnit Platform launcher, with no Maven (a GPU machine reaches no registry), and prints one table
 * row per test and device; exits 1 when any failed. Run with {@code -Dember.cuda.required=true}, so
 * a machine without a usable GPU fails rather than skips.
 */
public final class GpuCheck {
  private GpuCheck() {}

  record Row(String name, String status, long millis, String detail) {}

  /** Device suites of other modules, run by default when their classes are on the class path. */
  static final List<String> OTHER_MODULES =
      List.of("org.emberdl.autograd.DeviceGradCheckTest", "org.emberdl.nn.DeviceTrainingTest");

  public static void main(String[] args) {
    // CudaEmulationTest's emulated device: its libcuda.so.1 must be in the process before the
    // probe opens "libcuda.so.1" (it then finds this one)
    String fake = System.getProperty("ember.cuda.fakeDriver");
    if (fake != null) {
      System.load(fake);
    }
    boolean emulated = fake != null;
    PrintStream out = System.out;
    out.println("== Ember GPU check ==");
    out.println(CudaAvailability.status().describe());
    for (CudaLibrary l : CudaLibraries.status()) {
      out.println(l.name() + ": " + l.describe());
    }
    out.println("kernels for this GPU: " + targets());
    List<Row> rows = new ArrayList<>();
    Map<String, Long> started = new ConcurrentHashMap<>();
    Map<String, String> details = new ConcurrentHashMap<>();
    TestExecutionListener listener =
        new TestExecutionListener() {
          @Override
          public void executionStarted(TestIdentifier id) {
            started.put(id.getUniqueId(), System.nanoTime());
          }

          @Override
          public void executionSkipped(TestIdentifier id, String reason) {
            if (id.isTest()) {
              rows.add(new Row(name(id), "SKIP", 0, reason));
            }
          }

          @Override
          public void executionFinished(TestIdentifier id, TestExecutionResult r) {
            if (!id.isTest()) {
              if (r.getStatus() != TestExecutionResult.Status.SUCCESSFUL) {
                rows.add(new Row(name(id), r.getStatus().toString(), 0, cause(r)));
              }
              return;
            }
            long ms = (System.nanoTime() - started.getOrDefault(id.getUniqueId(), 0L)) / 1_000_000;
            String status =
                switch (r.getStatus()) {
                  case SUCCESSFUL -> "PASS";
                  case ABORTED -> "SKIP";
                  case FAILED -> "FAIL";
                };
            String detail = cause(r);
            rows.add(
                new Row(
                    name(id),
                    status,
                    ms,
                    detail.isEmpty() ? details.getOrDefault(id.getUniqueId(), "") : detail));
          }

          @Override
          public void reportingEntryPublished(TestIdentifier id, ReportEntry entry) {
            // a passing test's measurements (TestReporter "detail") fill its detail column
            String d = entry.getKeyValuePairs().get("detail");
            if (d != null) {
              details.put(id.getUniqueId(), d);
            }
          }
        };
    List<DiscoverySelector> selectors = new ArrayList<>();
    if (args.length > 0) {
      // other modules' device suites (autograd's GradCheck and training runs), by class name
      for (String name : args) {
        selectors.add(selectClass(name));
      }
    } else {
      selectors.add(selectClass(BackendConformanceTest.class));
      selectors.add(selectClass(HostReadsTest.class));
      for (String name : OTHER_MODULES) {
        try {
          Class.forName(name, false, GpuCheck.class.getClassLoader());
          selectors.add(selectClass(name));
        } catch (ClassNotFoundException absent) {
          // tensor's own test run (CudaEmulationTest) has no autograd on its class path
        }
      }
      if (!emulated) {
        // the probe's tests ask ldconfig about the driver, which the emulation is not
        selectors.add(selectClass(CudaAvailabilityTest.class));
        selectors.add(selectClass(CachingDeviceAllocatorTest.class));
      }
    }
    LauncherDiscoveryRequest request =
        LauncherDiscoveryRequestBuilder.request().selectors(selectors).build();
    Launcher launcher = LauncherFactory.create();
    launcher.execute(request, listener);
    int width = rows.stream().mapToInt(r -> r.name().length()).max().orElse(10);
    String fmt = "%-" + width + "s  %-4s  %7s  %s%n";
    out.printf(fmt, "test", "", "ms", "detail");
    long pass = 0;
    long fail = 0;
    long skip = 0;
    for (Row r : rows) {
      out.printf(Locale.ROOT, fmt, r.name(), r.status(), r.millis(), r.detail());
      switch (r.status()) {
        case "PASS" -> pass++;
        case "SKIP" -> skip++;
        default -> fail++;
      }
    }
    out.printf("%d passed, %d failed, %d skipped%n", pass, fail, skip);
    if (!emulated && CudaAvailability.isAvailable()) {
      gemmBenchmark(out, 512, 1024, 2048, 4096);
    }
    System.exit(fail == 0 && pass > 0 ? 0 : 1);
  }

  /**
   * GFLOP/s of float32 square GEMMs on cuda:0, Ember's tiled kernel against cuBLAS where the
   * machine has it (the issue's bar: the kernel at >= 50% of cuBLAS on an A100/H100 class GPU).
   */
  static void gemmBenchmark(PrintStream out, int... sizes) {
    CudaBackend be =
        (CudaBackend) org.emberdl.tensor.Backends.of(org.emberdl.tensor.Device.cuda(0));
    out.println("GEMM float32 (GFLOP/s, best of 5 after a warm-up):");
    out.printf("%6s  %10s  %10s  %s%n", "n", "ember", "cuBLAS", "ember/cuBLAS");
    for (int n : sizes) {
      try (org.emberdl.tensor.MemoryScope s = org.emberdl.tensor.MemoryScope.open()) {
        org.emberdl.tensor.Device d = org.emberdl.tensor.Device.cuda(0);
        org.emberdl.tensor.NDArray a =
            org.emberdl.tensor.NDArray.full(org.emberdl.tensor.DType.FLOAT32, d, 0.5, n, n);
        org.emberdl.tensor.NDArray b =
            org.emberdl.tensor.NDArray.full(org.emberdl.tensor.DType.FLOAT32, d, 0.25, n, n);
        org.emberdl.tensor.NDArray c =
            org.emberdl.tensor.NDArray.empty(org.emberdl.tensor.DType.FLOAT32, d, n, n);
        be.useCublas = false;
        double ember = gflops(be, a, b, c, n);
        double cublas = Double.NaN;
        if (be.hasCublas()) {
          be.useCublas = true;
          cublas = gflops(be, a, b, c, n);
        }
        be.useCublas = true;
        out.printf(
            Locale.ROOT,
            "%6d  %10.0f  %10s  %s%n",
            n,
            ember,
            Double.isNaN(cublas) ? "-" : String.format(Locale.ROOT, "%.0f", cublas),
            Double.isNaN(cublas)
                ? "-"
                : String.format(Locale.ROOT, "%.0f%%", 100 * ember / cublas));
      }
    }
  }

  private static double gflops(
      CudaBackend be,
      org.emberdl.tensor.NDArray a,
      org.emberdl.tensor.NDArray b,
      org.emberdl.tensor.NDArray c,
      int n) {
    be.matmul(a, b, c);
    be.synchronize();
    double best = Double.MAX_VALUE;
    for (int r = 0; r < 5; r++) {
      long t0 = System.nanoTime();
      be.matmul(a, b, c);
      be.synchronize();
      best = Math.min(best, (System.nanoTime() - t0) / 1e9);
    }
    return 2.0 * n * n * n / best / 1e9;
  }

  private static String targets() {
    CudaStatus s = CudaAvailability.status();
    if (!s.available()) {
      return "none (no GPU)";
    }
    List<String> t = new ArrayList<>();
    for (CudaDevice d : s.devices()) {
      t.add(
          "cuda:"
              + d.index()
              + " -> "
              + KernelTargets.forDevice(d.computeMajor(), d.computeMinor()));
    }
    return String.join(", ", t);
  }

  private static final java.util.regex.Pattern CLASS =
      java.util.regex.Pattern.compile("class:(?:\\w+\\.)*(\\w+)");
  private static final java.util.regex.Pattern METHOD =
      java.util.regex.Pattern.compile("(?:method|test-template):(\\w+)\\(");

  /** {@code Class.method [device]}. */
  private static String name(TestIdentifier id) {
    String u = id.getUniqueId();
    java.util.regex.Matcher c = CLASS.matcher(u);
    java.util.regex.Matcher m = METHOD.matcher(u);
    String name = (c.find() ? c.group(1) : u) + (m.find() ? "." + m.group(1) : "");
    if (u.contains("test-template-invocation")) {
      name += " [" + id.getDisplayName().replaceAll("^\\[\\d+\\] ", "") + "]";
    }
    return name;
  }

  private static String cause(TestExecutionResult r) {
    return r.getThrowable()
        .map(
            t ->
                t.getClass().getSimpleName()
                    + ": "
                    + String.valueOf(t.getMessage()).replace('\n', ' '))
        .orElse("");
  }
}
