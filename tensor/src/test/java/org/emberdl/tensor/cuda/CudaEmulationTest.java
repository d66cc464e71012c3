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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Ember's whole CUDA path without a GPU: {@code src/test/resources/cuda-host/fake_driver.cpp} is a
 * libcuda.so.1 whose cuLaunchKernel runs the real kernel sources compiled as host C++ (g++; skipped
 * without it), so {@link BackendConformanceTest} runs its {@code cuda:0} cases in a child JVM
 * through the probe, {@code Backends}, {@link CudaBackend}'s context, caching allocator, pinned
 * staging, cubin loading and argument packing, and compares every kernel's results with the CPU
 * backend. What it cannot check is the GPU itself (its parallel execution, the CUDA math library,
 * cuBLAS): {@code scripts/gpu-check.sh} does that on a GPU machine.
 */
class CudaEmulationTest {
  private static final Path HOST = Path.of("src/test/resources/cuda-host");

  @Test
  void theConformanceSuitePassesOnTheEmulatedDevice(@TempDir Path dir) throws Exception {
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
                KernelCompilerTest.KERNELS.toString(),
                "-I",
                HOST.toString(),
                "-o",
                lib.toString(),
                HOST.resolve("fake_driver.cpp").toString(),
                "-x",
                "c++",
                "-include",
                HOST.resolve("cuda_host_emu.h").toString()));
    try (Stream<Path> files = Files.list(KernelCompilerTest.KERNELS)) {
      files.filter(p -> p.toString().endsWith(".cu")).sorted().forEach(p -> gcc.add(p.toString()));
    }
    gcc.add("-ldl");
    Process p;
    try {
      p = new ProcessBuilder(gcc).redirectErrorStream(true).start();
    } catch (IOException e) {
      assumeTrue(false, "no g++ to build the emulated device: " + e.getMessage());
      return;
    }
    String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.waitFor(), log);

    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder pb =
        new ProcessBuilder(
            java,
            "-Dember.cuda.required=true",
            "-Dember.cuda.fakeDriver=" + lib,
            "--add-modules=jdk.incubator.vector",
            "--add-opens=java.base/java.nio=ALL-UNNAMED",
            "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
            "--add-opens=java.base/java.lang=ALL-UNNAMED",
            "-cp",
            String.join(File.pathSeparator, KernelCompilerTest.classpath()),
            GpuCheck.class.getName());
    pb.redirectErrorStream(true);
    Process run = pb.start();
    String out = new String(run.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(run.waitFor(300, TimeUnit.SECONDS), out);
    assertTrue(
        out.contains(
            "CUDA available: driver 13.0, runtime 13.1, 1 device (cuda:0 Ember Emulated GPU, 16.0"
                + " GiB, compute capability 9.0)"),
        out);
    assertTrue(out.contains("kernels for this GPU: cuda:0 -> sm_90"), out);
    // every conformance case ran on cuda:0 and passed
    long cudaRows = out.lines().filter(l -> l.contains(" [cuda:0] ")).count();
    long cudaPasses = out.lines().filter(l -> l.matches(".* \\[cuda:0\\] +PASS .*")).count();
    assertTrue(cudaRows >= 11, out);
    assertEquals(cudaRows, cudaPasses, out);
    assertTrue(out.contains(" passed, 0 failed, "), out);
    assertEquals(0, run.exitValue(), out);
  }
}
