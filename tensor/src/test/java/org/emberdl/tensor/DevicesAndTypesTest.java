package org.emberdl.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.emberdl.tensor.cuda.CudaAvailability;
import org.emberdl.tensor.cuda.CudaDevice;
import org.emberdl.tensor.cuda.CudaStatus;
import org.junit.jupiter.api.Test;

class DevicesAndTypesTest {
  @Test
  void promotionTable() {
    // bool < int32 < int64 < float32 < float64, as torch.promote_types for these dtypes
    assertEquals(DType.INT32, DType.promote(DType.BOOL, DType.INT32));
    assertEquals(DType.INT64, DType.promote(DType.INT32, DType.INT64));
    assertEquals(DType.FLOAT32, DType.promote(DType.INT64, DType.FLOAT32));
    assertEquals(DType.FLOAT64, DType.promote(DType.FLOAT64, DType.FLOAT32));
    assertEquals(DType.FLOAT32, DType.INT32.toFloatingPoint());
    assertEquals(DType.FLOAT64, DType.fromSafetensorsName("F64"));
    assertThrows(IllegalArgumentException.class, () -> DType.fromSafetensorsName("BF16"));
  }

  @Test
  void devicesParseAndAbsentCudaIsAClearError() {
    assertEquals(Device.CPU, Device.parse("cpu"));
    assertEquals(Device.cuda(1), Device.parse("cuda:1"));
    assertEquals("cuda:0", Device.parse("CUDA").toString());
    assertThrows(IllegalArgumentException.class, () -> Device.parse("tpu"));
    assertTrue(Backends.available().contains(Device.CPU));
    if (!Backends.available().contains(Device.cuda(0))) {
      IllegalStateException e =
          assertThrows(
              IllegalStateException.class, () -> NDArray.zeros(DType.FLOAT32, Device.cuda(0), 2));
      assertTrue(e.getMessage().contains("cuda:0"), e.getMessage());
    }
  }

  @Test
  void aCudaDeviceWithoutABackendNamesWhyCudaIsUnusableAndThatEmberRunsOnTheCpu() {
    if (Backends.provides(Device.Type.CUDA)) {
      return; // a CUDA backend on the classpath (not this module's tests)
    }
    CudaStatus cuda = CudaAvailability.status();
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> Backends.of(Device.cuda(0)));
    if (!cuda.available()) {
      assertEquals(
          "cuda:0 cannot be used: CUDA unavailable: "
              + cuda.reason()
              + "; this Ember build runs on the CPU (use Device.CPU)",
          e.getMessage());
      assertTrue(cuda.reason().contains("libcuda.so.1"), cuda.reason());
    }
    assertEquals(e.getMessage(), Backends.noBackend(Device.cuda(0), cuda));
    // the same for an array created there
    assertEquals(
        e.getMessage(),
        assertThrows(
                IllegalStateException.class, () -> NDArray.zeros(DType.FLOAT32, Device.cuda(0), 2))
            .getMessage());
  }

  @Test
  void whereCudaIsAvailableButThereIsNoBackendTheMessageSaysExactlyThat() {
    CudaStatus cuda =
        new CudaStatus(
            true, "", 13000, 13010, List.of(new CudaDevice(0, "Ember Stub GPU", 80L << 30, 9, 0)));
    assertEquals(
        "cuda:1 cannot be used: this machine has CUDA (driver 13.0, runtime 13.1, 1 device (cuda:0"
            + " Ember Stub GPU, 80.0 GiB, compute capability 9.0)), but this Ember build has no"
            + " CUDA backend; it runs on the CPU (use Device.CPU)",
        Backends.noBackend(Device.cuda(1), cuda));
    assertTrue(Backends.provides(Device.Type.CPU));
  }

  /** Device code stays in its package: the facade never imports a backend's classes. */
  @Test
  void onlyBackendsKnowsTheCpuPackage() throws IOException {
    Path root = Path.of("src/main/java/org/emberdl/tensor");
    try (Stream<Path> files = Files.list(root)) {
      List<Path> offenders =
          files
              .filter(p -> p.toString().endsWith(".java"))
              .filter(p -> !p.getFileName().toString().equals("Backends.java"))
              .filter(p -> read(p).contains("import org.emberdl.tensor.cpu."))
              .toList();
      assertEquals(List.of(), offenders);
    }
    try (Stream<Path> files = Files.walk(root)) {
      assertEquals(
          List.of(),
          files
              .filter(p -> p.toString().endsWith(".java"))
              .filter(p -> read(p).contains("import org.emberdl.autograd"))
              .toList(),
          "the tensor module must not see gradients");
    }
  }

  private static String read(Path p) {
    try {
      return Files.readString(p);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }
}
