package org.emberdl.tensor.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The emulated device of {@link CudaEmulationTest}, for any module's tests (autograd's GradCheck
 * and training runs use it through the tensor test jar): builds {@code fake_driver.cpp} and the
 * real kernel sources as host C++ into a libcuda.so.1 (skipped without g++), and runs {@link
 * GpuCheck} on it in a child JVM with this JVM's test class path.
 */
public final class EmulatedDevice {
  private EmulatedDevice() {}

  /**
   * Builds the fake driver in {@code dir}; {@code tensorModule} is the tensor module's directory
   * (the kernel sources and the host shims are read from it).
   */
  public static Path build(Path dir, Path tensorModule) throws IOException, InterruptedException {
    Path kernels = tensorModule.resolve(KernelCompilerTest.KERNELS);
    Path host = tensorModule.resolve("src/test/resources/cuda-host");
    Path lib = dir.resolve("libcuda.so.1");
    List<String> gcc =
        new ArrayList<>(
            List.of(
                "g++",
                "-std=c++17",
                "-O1",
                "-shared",
                "-fPIC",
                "-ffp-contract=off",
                "-pthread",
                "-Wl,-soname,libcuda.so.1",
                "-I",
                kernels.toString(),
                "-I",
                host.toString(),
                "-o",
                lib.toString(),
                host.resolve("fake_driver.cpp").toString(),
                "-x",
                "c++",
                "-include",
                host.resolve("cuda_host_emu.h").toString()));
    try (Stream<Path> files = Files.list(kernels)) {
      files.filter(p -> p.toString().endsWith(".cu")).sorted().forEach(p -> gcc.add(p.toString()));
    }
    gcc.add("-ldl");
    Process p;
    try {
      p = new ProcessBuilder(gcc).redirectErrorStream(true).start();
    } catch (IOException e) {
      assumeTrue(false, "no g++ to build the emulated device: " + e.getMessage());
      return null;
    }
    String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.waitFor(), log);
    return lib;
  }

  /**
   * Runs {@link GpuCheck} on the emulated device {@code lib} in a child JVM (the default suites, or
   * the test classes named), and returns its output; fails when it does not finish in {@code
   * timeoutSeconds}.
   */
  public static Run run(Path lib, long timeoutSeconds, String... testClasses)
      throws IOException, InterruptedException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd =
        new ArrayList<>(
            List.of(
                java,
                "-Dember.cuda.required=true",
                "-Dember.cuda.fakeDriver=" + lib,
                "--add-modules=jdk.incubator.vector",
                "--add-opens=java.base/java.nio=ALL-UNNAMED",
                "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
                "--add-opens=java.base/java.lang=ALL-UNNAMED",
                "--add-opens=java.base/java.util=ALL-UNNAMED"));
    cmd.addAll(
        List.of(
            "-cp",
            String.join(File.pathSeparator, KernelCompilerTest.classpath()),
            GpuCheck.class.getName()));
    cmd.addAll(List.of(testClasses));
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.redirectErrorStream(true);
    Process run = pb.start();
    String out = new String(run.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(run.waitFor(timeoutSeconds, TimeUnit.SECONDS), out);
    return new Run(out, run.exitValue());
  }

  /** The child JVM's output (GpuCheck's table) and exit status. */
  public record Run(String output, int exitValue) {
    /** The table rows of {@code device} ({@code " [cuda:0] "} in the test's display name). */
    public long rows(String device) {
      return output.lines().filter(l -> l.contains(" [" + device + "] ")).count();
    }

    public long passes(String device) {
      return output
          .lines()
          .filter(l -> l.matches(".* \\[" + java.util.regex.Pattern.quote(device) + "\\] +PASS .*"))
          .count();
    }
  }
}
