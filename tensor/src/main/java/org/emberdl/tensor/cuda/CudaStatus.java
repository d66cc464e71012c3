package org.emberdl.tensor.cuda;

import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * What {@link CudaAvailability} found: whether CUDA can be used on this machine and, when not, why.
 *
 * @param available true when the driver initialized and sees at least one device
 * @param reason why CUDA is unavailable (names the library, call or error); empty when available
 * @param driverVersion the CUDA version the driver supports, as CUDA encodes it (12040 for 12.4); 0
 *     when no driver was found
 * @param runtimeVersion the CUDA runtime's version, encoded the same way; 0 when none was loaded
 * @param devices the visible devices, in ordinal order; empty when unavailable
 */
public record CudaStatus(
    boolean available,
    String reason,
    int driverVersion,
    int runtimeVersion,
    List<CudaDevice> devices) {
  public CudaStatus {
    Objects.requireNonNull(reason, "reason");
    devices = List.copyOf(devices);
    if (available == !reason.isEmpty()) {
      throw new IllegalArgumentException(
          "a status has a reason exactly when CUDA is unavailable, got available="
              + available
              + " and reason '"
              + reason
              + "'");
    }
  }

  /** CUDA cannot be used, for {@code reason}; the versions found so far (0 = none). */
  public static CudaStatus unavailable(String reason, int driverVersion, int runtimeVersion) {
    if (reason.isEmpty()) {
      throw new IllegalArgumentException("an unavailable status needs its reason");
    }
    return new CudaStatus(false, reason, driverVersion, runtimeVersion, List.of());
  }

  /** CUDA cannot be used, for {@code reason}, and no driver was found. */
  public static CudaStatus unavailable(String reason) {
    return unavailable(reason, 0, 0);
  }

  /** CUDA's spelling of an encoded version: 12040 is {@code 12.4}; 0 is {@code none}. */
  public static String version(int encoded) {
    return encoded <= 0 ? "none" : encoded / 1000 + "." + encoded % 1000 / 10;
  }

  /**
   * One line for logs and errors: {@code CUDA available: <}{@link #devicesSummary}{@code >} or
   * {@code CUDA unavailable: <reason>}.
   */
  public String describe() {
    return available ? "CUDA available: " + devicesSummary() : "CUDA unavailable: " + reason;
  }

  /**
   * The versions and devices, e.g. {@code driver 13.0, runtime 13.1, 1 device (cuda:0 NVIDIA H100
   * 80GB HBM3, 79.1 GiB, compute capability 9.0)}.
   */
  public String devicesSummary() {
    return "driver "
        + version(driverVersion)
        + ", runtime "
        + version(runtimeVersion)
        + ", "
        + devices.size()
        + (devices.size() == 1 ? " device" : " devices")
        + (devices.isEmpty()
            ? ""
            : devices.stream()
                .map(CudaDevice::toString)
                .collect(Collectors.joining("; ", " (", ")")));
  }
}
