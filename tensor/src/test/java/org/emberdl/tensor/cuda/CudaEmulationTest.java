package org.emberdl.tensor.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Ember's whole CUDA path without a GPU: {@code src/test/resources/cuda-host/fake_driver.cpp} is a
 * libcuda.so.1 whose cuLaunchKernel runs the real kernel sources compiled as host C++ (g++; skipped
 * without it), so {@link BackendConformanceTest} runs its {@code cuda:0} cases in a child JVM
 * through the probe, {@code Backends}, {@link CudaBackend}'s context, caching allocator, pinned
 * staging, cubin loading and argument packing, and compares every kernel's results with the CPU
 * backend, and {@link HostReadsTest} checks that every Java-side read of a cuda:0 array gives the
 * CPU's answer. What it cannot check is the GPU itself (its parallel execution, the CUDA math
 * library, cuBLAS): {@code scripts/gpu-check.sh} does that on a GPU machine.
 */
class CudaEmulationTest {
  @Test
  void theConformanceSuitePassesOnTheEmulatedDevice(@TempDir Path dir) throws Exception {
    Path lib = EmulatedDevice.build(dir, Path.of(""));
    EmulatedDevice.Run run = EmulatedDevice.run(lib, 300);
    String out = run.output();
    assertTrue(
        out.contains(
            "CUDA available: driver 13.0, runtime 13.1, 1 device (cuda:0 Ember Emulated GPU, 16.0"
                + " GiB, compute capability 9.0)"),
        out);
    assertTrue(out.contains("kernels for this GPU: cuda:0 -> sm_90"), out);
    // every conformance and host-read case ran on cuda:0 and passed
    assertTrue(run.rows("cuda:0") >= 18, out);
    assertEquals(run.rows("cuda:0"), run.passes("cuda:0"), out);
    assertTrue(out.contains("HostReadsTest.toStringPrintsTheValues [cuda:0]"), out);
    assertTrue(out.contains(" passed, 0 failed, "), out);
    assertEquals(0, run.exitValue(), out);
  }
}
