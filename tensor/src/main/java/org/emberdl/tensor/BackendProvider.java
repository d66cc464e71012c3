package org.emberdl.tensor;

/**
 * Service-provider interface for non-CPU backends (CUDA), discovered through {@link
 * java.util.ServiceLoader}. Implementations must not load native code until {@link
 * #backend(Device)} is called, and {@link #isAvailable()} must never throw.
 */
public interface BackendProvider {
  /** The device type this provider serves. */
  Device.Type type();

  /** True when the device type can be used on this machine (driver present, a device visible). */
  boolean isAvailable();

  /** Number of visible devices of this type; 0 when unavailable. */
  int deviceCount();

  /** The backend for {@code device}, initialized on first call. */
  Backend backend(Device device);
}
