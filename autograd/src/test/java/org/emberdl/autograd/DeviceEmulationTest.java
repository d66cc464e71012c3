package org.emberdl.autograd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.emberdl.nn.DeviceTrainingTest;
import org.emberdl.tensor.cuda.EmulatedDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Autograd, nn and optim on the emulated CUDA device (tensor's {@link EmulatedDevice}: the real
 * kernels compiled as host C++ behind a fake libcuda.so.1; skipped without g++): {@link
 * DeviceGradCheckTest} (every op's gradients on cuda:0 against finite differences and the CPU) and
 * {@link DeviceTrainingTest} (a 784-256-128-10 MLP trained with Adam on cuda:0 and on the CPU) run
 * in a child JVM, which must report every case passed.
 */
class DeviceEmulationTest {

  @Test
  void gradientsAndTrainingOnTheEmulatedDevice(@TempDir Path dir) throws Exception {
    Path lib = EmulatedDevice.build(dir, Path.of("../tensor"));
    EmulatedDevice.Run run =
        EmulatedDevice.run(
            lib, 500, DeviceGradCheckTest.class.getName(), DeviceTrainingTest.class.getName());
    String out = run.output();
    System.out.println(out); // the table, with each case's time, in the surefire report
    long cases = out.lines().filter(l -> l.contains(" [cuda:0")).count();
    long passed = out.lines().filter(l -> l.matches(".* \\[cuda:0.*\\] +PASS .*")).count();
    // every GradCheck case ran and passed
    assertEquals(
        GradCheckTest.CASES.size(),
        out.lines().filter(l -> l.contains("DeviceGradCheckTest.")).count(),
        out);
    // and the short training run; the real epoch is a GPU's (skipped here)
    assertTrue(
        out.lines()
            .anyMatch(
                l -> l.matches("DeviceTrainingTest.shortRunMatchesTheCpu \\[cuda:0\\] +PASS .*")),
        out);
    assertEquals(cases - 1, passed, out);
    assertTrue(
        out.lines()
            .anyMatch(
                l -> l.matches("DeviceTrainingTest.oneEpochOfFashionMnist \\[cuda:0\\] +SKIP .*")),
        out);
    assertTrue(out.contains(" passed, 0 failed, "), out);
    assertEquals(0, run.exitValue(), out);
  }
}
