package org.emberdl.tensor.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The probe on this machine, and the status record's rules and spelling. */
class CudaAvailabilityTest {
  /**
   * Whether the dynamic linker's cache lists a driver, asked without Ember's probe (ldconfig). A
   * machine with a driver runs the driver-present checks in {@link CudaAvailabilityDriverTest}.
   */
  static boolean driverInstalled() {
    try {
      Process p = new ProcessBuilder("ldconfig", "-p").redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      p.waitFor();
      return out.contains("libcuda.so.1 ");
    } catch (IOException | InterruptedException e) {
      return false;
    }
  }

  @Test
  void withoutADriverTheReasonNamesTheDriverLibraryAndTheLinkersMessage() {
    assumeFalse(driverInstalled(), "this machine has an NVIDIA driver");
    CudaStatus s = CudaAvailability.status();
    assertFalse(s.available());
    assertFalse(CudaAvailability.isAvailable());
    // dlopen's own message follows in parentheses, e.g. "libcuda.so.1: cannot open shared object
    // file: No such file or directory" on glibc
    assertTrue(
        s.reason().startsWith("no NVIDIA driver: libcuda.so.1 not found (libcuda.so.1: "),
        s.reason());
    assertTrue(s.reason().endsWith(")"), s.reason());
    assertEquals(0, s.driverVersion());
    assertEquals(0, s.runtimeVersion());
    assertEquals(List.of(), s.devices());
    assertEquals("CUDA unavailable: " + s.reason(), s.describe());
  }

  @Test
  void theProbeRunsOnceAndEveryCallGetsItsAnswer() {
    CudaStatus first = CudaAvailability.status();
    // the same object: the second call reads the cached answer instead of probing again
    assertSame(first, CudaAvailability.status());
    assertEquals(first.available(), CudaAvailability.isAvailable());
  }

  @Test
  void aDriverLibraryThatIsNotThereIsAReasonNotAnError() {
    CudaStatus s = CudaAvailability.probe("/nonexistent/libcuda.so.1");
    assertFalse(s.available());
    assertTrue(
        s.reason().startsWith("no NVIDIA driver: /nonexistent/libcuda.so.1 not found ("),
        s.reason());
  }

  @Test
  void versionsAreSpelledAsCudaDoes() {
    // CUDA encodes major * 1000 + minor * 10
    assertEquals("12.4", CudaStatus.version(12040));
    assertEquals("13.1", CudaStatus.version(13010));
    assertEquals("11.0", CudaStatus.version(11000));
    assertEquals("none", CudaStatus.version(0));
  }

  @Test
  void anAvailableStatusDescribesItsVersionsAndDevices() {
    CudaDevice h100 = new CudaDevice(0, "NVIDIA H100 80GB HBM3", 85_520_809_984L, 9, 0);
    CudaDevice a100 = new CudaDevice(1, "NVIDIA A100-SXM4-40GB", 42_505_273_344L, 8, 0);
    CudaStatus s = new CudaStatus(true, "", 13000, 13010, List.of(h100, a100));
    // 85520809984 / 2^30 = 79.647... GiB; 42505273344 / 2^30 = 39.586... GiB
    assertEquals(
        "CUDA available: driver 13.0, runtime 13.1, 2 devices (cuda:0 NVIDIA H100 80GB HBM3, 79.6"
            + " GiB, compute capability 9.0; cuda:1 NVIDIA A100-SXM4-40GB, 39.6 GiB, compute"
            + " capability 8.0)",
        s.describe());
  }

  @Test
  void aStatusHasAReasonExactlyWhenUnavailable() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> new CudaStatus(true, "x", 0, 0, List.of()));
    assertEquals(
        "a status has a reason exactly when CUDA is unavailable, got available=true and reason 'x'",
        e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> CudaStatus.unavailable(""));
  }
}
