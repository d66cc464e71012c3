package org.emberdl.tensor.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.util.List;
import org.emberdl.tensor.Backends;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Device;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;

/** The CUDA backend is registered, and a device it cannot serve is refused with the reason. */
class CudaBackendsTest {
  @Test
  void thisBuildProvidesACudaBackend() {
    assertTrue(Backends.provides(Device.Type.CUDA));
  }

  @Test
  void withoutADriverCudaDevicesAreRefusedNamingTheDriversAbsence() {
    CudaStatus cuda = CudaAvailability.status();
    assumeFalse(cuda.available(), "this machine has CUDA: " + cuda.describe());
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> Backends.of(Device.cuda(0)));
    assertEquals(
        "cuda:0 cannot be used: CUDA unavailable: "
            + cuda.reason()
            + "; Ember runs on the CPU here (use Device.CPU)",
        e.getMessage());
    assertTrue(
        e.getMessage()
            .startsWith(
                "cuda:0 cannot be used: CUDA unavailable: no NVIDIA driver:"
                    + " libcuda.so.1 not found (libcuda.so.1: "),
        e.getMessage());
    // an array made there says the same
    assertEquals(
        e.getMessage(),
        assertThrows(
                IllegalStateException.class, () -> NDArray.zeros(DType.FLOAT32, Device.cuda(0), 2))
            .getMessage());
    assertEquals(List.of(Device.CPU), Backends.available());
  }

  @Test
  void anIndexPastTheDevicesNamesTheDevicesThere() throws Exception {
    CudaStatus one =
        new CudaStatus(
            true, "", 13000, 13010, List.of(new CudaDevice(0, "Ember Stub GPU", 80L << 30, 9, 0)));
    java.lang.reflect.Method m =
        Backends.class.getDeclaredMethod("unavailable", Device.class, CudaStatus.class);
    m.setAccessible(true);
    assertEquals(
        "cuda:1 cannot be used: this machine has driver 13.0, runtime 13.1, 1 device (cuda:0 Ember"
            + " Stub GPU, 80.0 GiB, compute capability 9.0)",
        m.invoke(null, Device.cuda(1), one));
  }
}
