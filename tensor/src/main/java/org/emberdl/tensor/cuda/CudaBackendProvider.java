package org.emberdl.tensor.cuda;

import java.util.concurrent.ConcurrentHashMap;
import org.emberdl.tensor.Backend;
import org.emberdl.tensor.BackendProvider;
import org.emberdl.tensor.Device;

/**
 * Registers the CUDA backend with {@link org.emberdl.tensor.Backends} (through {@link
 * java.util.ServiceLoader}): available exactly when {@link CudaAvailability} says so, one {@link
 * CudaBackend} (context, stream, allocator, kernels) per device, made on first use.
 */
public final class CudaBackendProvider implements BackendProvider {
  private static final ConcurrentHashMap<Integer, CudaBackend> BACKENDS = new ConcurrentHashMap<>();

  @Override
  public Device.Type type() {
    return Device.Type.CUDA;
  }

  @Override
  public boolean isAvailable() {
    return CudaAvailability.isAvailable();
  }

  @Override
  public int deviceCount() {
    return CudaAvailability.status().devices().size();
  }

  @Override
  public Backend backend(Device device) {
    return BACKENDS.computeIfAbsent(
        device.index(), i -> new CudaBackend(CudaAvailability.status().devices().get(i)));
  }
}
