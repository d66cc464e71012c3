package org.emberdl.arrow;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.emberdl.tensor.cuda.EmulatedDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ArrowDeviceTest} on tensor's emulated CUDA device ({@link EmulatedDevice}; skipped without
 * g++), in a child JVM: every upload and download case must pass on cuda:0.
 */
class ArrowEmulationTest {
  @Test
  void uploadsAndDownloadsOnTheEmulatedDevice(@TempDir Path dir) throws Exception {
    Path lib = EmulatedDevice.build(dir, Path.of("../tensor"));
    EmulatedDevice.Run run = EmulatedDevice.run(lib, 120, ArrowDeviceTest.class.getName());
    String out = run.output();
    assertEquals(3, run.rows("cuda:0"), out);
    assertEquals(3, run.passes("cuda:0"), out);
    assertTrue(out.contains("3 passed, 0 failed, 0 skipped"), out);
    assertEquals(0, run.exitValue(), out);
  }
}
