package org.emberdl.tensor.cuda;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.javacpp.SizeTPointer;

/**
 * The driver-API calls of {@link CudaAvailability}, kept in a class of their own: only this class
 * touches {@link cudart}, whose loading fails with a {@link LinkageError} where the CUDA runtime is
 * missing, so {@link CudaAvailability} calls it only once the driver itself has loaded, and catches
 * that error.
 */
final class DriverQueries {
  /**
   * The CUDA runtime version the bindings were built for (a constant: touching it loads nothing).
   */
  static final int BINDINGS_RUNTIME = cudart.CUDART_VERSION;

  private static final int CUDA_SUCCESS = 0;
  private static final int NAME_BYTES = 256;

  private DriverQueries() {}

  /** Initializes the driver and lists its devices; a failing call becomes the reason. */
  static CudaStatus query() {
    int[] value = new int[1];
    int rc = cudart.cuDriverGetVersion(value);
    if (rc != CUDA_SUCCESS) {
      return CudaStatus.unavailable("cuDriverGetVersion failed: " + error(rc));
    }
    int driver = value[0];
    int runtime = cudart.cudaRuntimeGetVersion(value) == 0 ? value[0] : 0;
    rc = cudart.cuInit(0);
    if (rc != CUDA_SUCCESS) {
      return CudaStatus.unavailable(
          "the NVIDIA driver (CUDA " + CudaStatus.version(driver) + ") failed cuInit: " + error(rc),
          driver,
          runtime);
    }
    // A CUDA 13 runtime runs on any driver for CUDA 13.x, but not on an older major version.
    if (driver / 1000 < BINDINGS_RUNTIME / 1000) {
      return CudaStatus.unavailable(
          "the NVIDIA driver supports CUDA "
              + CudaStatus.version(driver)
              + ", older than the CUDA "
              + CudaStatus.version(BINDINGS_RUNTIME)
              + " that Ember's bindings are built for; install an NVIDIA driver for CUDA "
              + BINDINGS_RUNTIME / 1000
              + " or newer",
          driver,
          runtime);
    }
    rc = cudart.cuDeviceGetCount(value);
    if (rc != CUDA_SUCCESS) {
      return CudaStatus.unavailable("cuDeviceGetCount failed: " + error(rc), driver, runtime);
    }
    if (value[0] == 0) {
      return CudaStatus.unavailable(
          "the NVIDIA driver (CUDA " + CudaStatus.version(driver) + ") sees no CUDA device",
          driver,
          runtime);
    }
    List<CudaDevice> devices = new ArrayList<>();
    for (int i = 0; i < value[0]; i++) {
      try {
        devices.add(device(i));
      } catch (IllegalStateException e) {
        return CudaStatus.unavailable(
            "querying CUDA device " + i + " failed: " + e.getMessage(), driver, runtime);
      }
    }
    return new CudaStatus(true, "", driver, runtime, devices);
  }

  private static CudaDevice device(int ordinal) {
    int[] handle = new int[1];
    check(cudart.cuDeviceGet(handle, ordinal), "cuDeviceGet");
    int dev = handle[0];
    byte[] name = new byte[NAME_BYTES];
    check(cudart.cuDeviceGetName(name, NAME_BYTES, dev), "cuDeviceGetName");
    long bytes;
    try (SizeTPointer total = new SizeTPointer(1)) {
      check(cudart.cuDeviceTotalMem(total, dev), "cuDeviceTotalMem");
      bytes = total.get();
    }
    int[] major = new int[1];
    int[] minor = new int[1];
    check(
        cudart.cuDeviceGetAttribute(
            major, cudart.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev),
        "cuDeviceGetAttribute");
    check(
        cudart.cuDeviceGetAttribute(
            minor, cudart.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev),
        "cuDeviceGetAttribute");
    return new CudaDevice(ordinal, cString(name), bytes, major[0], minor[0]);
  }

  private static void check(int rc, String call) {
    if (rc != CUDA_SUCCESS) {
      throw new IllegalStateException(call + " returned " + error(rc));
    }
  }

  /** E.g. {@code CUDA_ERROR_NO_DEVICE (100): no CUDA-capable device is detected}. */
  static String error(int rc) {
    // cuGetErrorName stores a pointer to a static string in a (const char**): read it through a
    // PointerPointer; the byte[] overloads would take the pointer's bytes for the text.
    String n = errorString(rc, true);
    String t = errorString(rc, false);
    return (n == null ? "error" : n) + " (" + rc + ")" + (t == null ? "" : ": " + t);
  }

  private static String errorString(int rc, boolean name) {
    try (PointerPointer<BytePointer> out = new PointerPointer<>(1)) {
      int r = name ? cudart.cuGetErrorName(rc, out) : cudart.cuGetErrorString(rc, out);
      if (r != CUDA_SUCCESS || out.get(0) == null || out.get(0).isNull()) {
        return null;
      }
      return new BytePointer(out.get(0)).getString(StandardCharsets.UTF_8);
    }
  }

  private static String cString(byte[] bytes) {
    int end = 0;
    while (end < bytes.length && bytes[end] != 0) {
      end++;
    }
    return new String(bytes, 0, end, StandardCharsets.UTF_8);
  }
}
