package org.emberdl.tensor.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The probe's driver-present paths, with a stand-in driver built from {@code
 * cuda-stub/libcuda_stub.c} (gcc; skipped without it). Each case runs {@link ProbeMain} in a JVM of
 * its own: a process opens one {@code libcuda.so.1}, and the stub must never stand in for the
 * driver of this test JVM, whose {@link CudaAvailability#status()} other tests read.
 */
class CudaAvailabilityDriverTest {
  @TempDir static Path dir;
  private static Path stub;

  @BeforeAll
  static void buildStub() throws Exception {
    Path source = dir.resolve("libcuda_stub.c");
    try (InputStream in =
        CudaAvailabilityDriverTest.class.getResourceAsStream("/cuda-stub/libcuda_stub.c")) {
      Files.copy(in, source);
    }
    stub = dir.resolve("libcuda.so.1");
    Process gcc;
    try {
      gcc =
          new ProcessBuilder(
                  "gcc",
                  "-shared",
                  "-fPIC",
                  "-Wl,-soname,libcuda.so.1",
                  "-o",
                  stub.toString(),
                  source.toString())
              .redirectErrorStream(true)
              .start();
    } catch (IOException e) {
      assumeTrue(false, "no gcc to build the stand-in driver: " + e.getMessage());
      return;
    }
    String log = new String(gcc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, gcc.waitFor(), log);
  }

  @Test
  void aDriverWithADeviceIsAvailableAndListsIt() throws Exception {
    Map<String, String> s = probe(classpath(), Map.of());
    assumeTrue(
        s.get("available").equals("true") || !s.get("reason").contains("bindings"),
        "this machine has no CUDA runtime for the bindings: " + s.get("reason"));
    assertEquals("true", s.get("available"), s.toString());
    assertEquals("", s.get("reason"));
    assertEquals("13000", s.get("driverVersion"), "the stub's cuDriverGetVersion");
    // 80 GiB = 80 * 2^30 = 85899345920 bytes, as the stub's cuDeviceTotalMem_v2 reports
    assertEquals("cuda:0 Ember Stub GPU, 80.0 GiB, compute capability 9.0", s.get("device"));
    assertEquals("85899345920", s.get("deviceBytes"));
  }

  @Test
  void aFailingCuInitIsTheReasonWithTheDriversErrorNameAndText() throws Exception {
    Map<String, String> s = probe(classpath(), Map.of("EMBER_STUB_CUINIT", "100"));
    assertEquals("false", s.get("available"));
    assertEquals(
        "the NVIDIA driver (CUDA 13.0) failed cuInit: CUDA_ERROR_NO_DEVICE (100): no CUDA-capable"
            + " device is detected",
        s.get("reason"));
    assertEquals("13000", s.get("driverVersion"), "known before cuInit");
    assertEquals(null, s.get("device"));
  }

  @Test
  void anErrorCodeWithoutANameStillNamesTheCode() throws Exception {
    Map<String, String> s = probe(classpath(), Map.of("EMBER_STUB_CUINIT", "999"));
    assertEquals("the NVIDIA driver (CUDA 13.0) failed cuInit: error (999)", s.get("reason"));
  }

  @Test
  void aDriverOlderThanTheBindingsIsRefusedNamingBothVersions() throws Exception {
    Map<String, String> s = probe(classpath(), Map.of("EMBER_STUB_DRIVER_VERSION", "12040"));
    assertEquals("false", s.get("available"));
    // 12040 = CUDA 12.4; the bindings are org.bytedeco:cuda 13.1 (CUDART_VERSION 13010)
    assertEquals(
        "the NVIDIA driver supports CUDA 12.4, older than the CUDA 13.1 that Ember's bindings are"
            + " built for; install an NVIDIA driver for CUDA 13 or newer",
        s.get("reason"));
    assertEquals("12040", s.get("driverVersion"));
  }

  @Test
  void aDriverWithoutDevicesSaysSo() throws Exception {
    Map<String, String> s = probe(classpath(), Map.of("EMBER_STUB_DEVICES", "0"));
    assertEquals("the NVIDIA driver (CUDA 13.0) sees no CUDA device", s.get("reason"));
  }

  /**
   * The bindings' own natives missing (the platform jar left out): the driver loads, the bindings
   * throw a LinkageError, and that becomes the reason instead of a poisoned class.
   */
  @Test
  void bindingsThatCannotLoadBecomeTheReason() throws Exception {
    List<String> cp =
        classpath().stream().filter(e -> !e.matches(".*/cuda-[^/]*-linux-[^/]*\\.jar")).toList();
    assertTrue(cp.size() < classpath().size(), "the platform jar was on " + classpath());
    Map<String, String> s = probe(cp, Map.of());
    String reason = s.get("reason");
    assertEquals("false", s.get("available"));
    String prefix =
        "the NVIDIA driver ("
            + stub
            + ") loads, but Ember's CUDA bindings (built for CUDA 13.1) do not:"
            + " java.lang.UnsatisfiedLinkError: ";
    assertTrue(reason.startsWith(prefix), reason);
    assertTrue(
        reason.endsWith(
            "; they need org.bytedeco:cuda's natives for linux-x86_64 on the classpath and the"
                + " CUDA 13 runtime (libcudart.so.13) on the library path (a CUDA toolkit) or"
                + " org.bytedeco:cuda-redist on the classpath"),
        reason);
  }

  /** The test JVM's classpath entries (surefire's booter jar names them in its manifest). */
  private static List<String> classpath() throws IOException {
    String cp = System.getProperty("java.class.path");
    List<String> entries = new ArrayList<>(Arrays.asList(cp.split(File.pathSeparator)));
    if (entries.size() == 1 && entries.get(0).contains("surefire")) {
      try (java.util.jar.JarFile jar = new java.util.jar.JarFile(entries.get(0))) {
        String manifest = jar.getManifest().getMainAttributes().getValue("Class-Path");
        entries.clear();
        for (String url : manifest.trim().split(" +")) {
          entries.add(Path.of(java.net.URI.create(url)).toString());
        }
      }
    }
    return entries;
  }

  /** {@link ProbeMain}'s fields, from a child JVM given {@code env}. */
  private static Map<String, String> probe(List<String> classpath, Map<String, String> env)
      throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder pb =
        new ProcessBuilder(
            java,
            "-cp",
            String.join(File.pathSeparator, classpath),
            ProbeMain.class.getName(),
            stub.toString());
    pb.environment().putAll(env);
    pb.redirectErrorStream(true);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), out);
    assertEquals(0, p.exitValue(), out);
    Map<String, String> fields = new LinkedHashMap<>();
    for (String line : out.lines().collect(Collectors.toList())) {
      int eq = line.indexOf('=');
      if (line.startsWith("probe.") && eq > 0) {
        fields.putIfAbsent(line.substring("probe.".length(), eq), line.substring(eq + 1));
      }
    }
    assertTrue(fields.containsKey("available"), out);
    return fields;
  }
}
