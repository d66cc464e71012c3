package org.emberdl.tensor.cuda;

import org.bytedeco.javacpp.Loader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether CUDA can be used in this JVM, probed once on first use and cached; never throws, and
 * never leaves a class unusable behind it.
 *
 * <p>Why in two steps: Bytedeco's CUDA bindings ({@code org.bytedeco.cuda.global.cudart}) are a JNI
 * library with a hard dependency on the driver, {@code libcuda.so.1}. On a machine without the
 * driver, the first touch of that class throws {@link UnsatisfiedLinkError} from its static
 * initializer and every later touch {@link NoClassDefFoundError}: a poisoned class and a message
 * that names neither the driver nor a fix. So the driver is first opened by itself with a plain
 * {@code dlopen} ({@link Loader#loadGlobal}); only when that works are the bindings touched (in
 * {@link DriverQueries}), and a {@link LinkageError} there (no CUDA runtime, {@code
 * libcudart.so.13}) becomes a reason too.
 */
public final class CudaAvailability {
  /** The driver library that {@code dlopen} looks for (the NVIDIA driver installs it). */
  public static final String DRIVER_LIBRARY = "libcuda.so.1";

  private static final Logger LOG = LoggerFactory.getLogger(CudaAvailability.class);

  private CudaAvailability() {}

  /** Probed on the first call of {@link #status()}, by the JVM's class initialization (once). */
  private static final class Probed {
    static final CudaStatus STATUS = probe(DRIVER_LIBRARY);
  }

  /** This machine's CUDA status: the same object every time; the first call probes the driver. */
  public static CudaStatus status() {
    return Probed.STATUS;
  }

  /** Whether CUDA can be used here: {@code status().available()}. */
  public static boolean isAvailable() {
    return status().available();
  }

  /**
   * Probes the driver at {@code driverLibrary} (a name that {@code dlopen} searches for, or a path)
   * and, when it loads, the devices it sees. Not cached: a JVM opens at most one driver, so tests
   * run it in a JVM of their own.
   */
  static CudaStatus probe(String driverLibrary) {
    CudaStatus status;
    try {
      Loader.loadGlobal(driverLibrary);
      status = queryDriver(driverLibrary);
    } catch (UnsatisfiedLinkError e) {
      status =
          CudaStatus.unavailable(
              "no NVIDIA driver: " + driverLibrary + " not found (" + e.getMessage() + ")");
    } catch (RuntimeException e) {
      status =
          CudaStatus.unavailable("loading the NVIDIA driver " + driverLibrary + " failed: " + e);
    }
    LOG.debug("{}", status.describe());
    return status;
  }

  /** The driver loaded: asks it through the bindings, whose loading may fail in turn. */
  private static CudaStatus queryDriver(String driverLibrary) {
    try {
      return DriverQueries.query();
    } catch (LinkageError e) {
      return CudaStatus.unavailable(
          "the NVIDIA driver ("
              + driverLibrary
              + ") loads, but Ember's CUDA bindings (built for CUDA "
              + CudaStatus.version(DriverQueries.BINDINGS_RUNTIME)
              + ") do not: "
              + e
              + "; they need org.bytedeco:cuda's natives for "
              + Loader.getPlatform()
              + " on the classpath and the CUDA "
              + DriverQueries.BINDINGS_RUNTIME / 1000
              + " runtime (libcudart.so."
              + DriverQueries.BINDINGS_RUNTIME / 1000
              + ") on the library path (a CUDA toolkit) or"
              + " org.bytedeco:cuda-redist on the classpath");
    }
  }
}
