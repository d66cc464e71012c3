package org.emberdl.tensor.cuda;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.emberdl.tensor.Device;

/**
 * The device parameter of device suites in any module: {@code cuda:0} is skipped with the reason
 * when {@link CudaAvailability} finds no GPU, or fails with {@code -Dember.cuda.required=true} (as
 * {@code scripts/gpu-check.sh} and the emulated device run them).
 */
public final class DeviceUnderTest {
  private DeviceUnderTest() {}

  /** Returns normally when {@code d} can run; otherwise skips or fails, naming the reason. */
  public static void require(Device d) {
    if (d.type() == Device.Type.CUDA && !CudaAvailability.isAvailable()) {
      String why = CudaAvailability.status().describe();
      if (Boolean.getBoolean("ember.cuda.required")) {
        fail("-Dember.cuda.required=true, but " + why);
      }
      assumeTrue(false, why);
    }
  }

  /** Whether this run is on {@link EmulatedDevice}'s fake driver rather than a GPU. */
  public static boolean emulated() {
    return System.getProperty("ember.cuda.fakeDriver") != null;
  }
}
