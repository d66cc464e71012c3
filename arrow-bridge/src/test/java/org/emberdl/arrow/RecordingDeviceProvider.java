package org.emberdl.arrow;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.emberdl.tensor.Backend;
import org.emberdl.tensor.BackendProvider;
import org.emberdl.tensor.Device;
import org.emberdl.tensor.cpu.CpuBackend;
import org.emberdl.tensor.memory.Allocators;
import org.emberdl.tensor.memory.HostMemory;
import org.emberdl.tensor.memory.Storage;

/**
 * A stand-in "cuda:0" for tests on machines without a GPU: host memory behind the CUDA device type,
 * every kernel delegated to the CPU backend, and each {@code copyFromHost} recorded. It lets a test
 * assert what the real CUDA backend will be handed by the upload path: the Arrow buffer's own
 * address, in one call. Registered for this module's tests only (test resources).
 */
public final class RecordingDeviceProvider implements BackendProvider {
  static final Device DEVICE = Device.cuda(0);

  /** {@code {hostAddress, bytes}} of each copyFromHost since {@link #clear()}. */
  static final List<long[]> UPLOADS = new CopyOnWriteArrayList<>();

  private static final Backend BACKEND =
      (Backend)
          Proxy.newProxyInstance(
              Backend.class.getClassLoader(),
              new Class<?>[] {Backend.class},
              (proxy, method, args) ->
                  switch (method.getName()) {
                    case "device" -> DEVICE;
                    case "allocate" -> new Storage(Allocators.cpu().buffer((long) args[0]), DEVICE);
                    case "copyFromHost" -> {
                      long host = (long) args[0];
                      Storage dst = (Storage) args[1];
                      long bytes = (long) args[3];
                      UPLOADS.add(new long[] {host, bytes});
                      HostMemory.copy(host, dst.address() + (long) args[2], bytes);
                      yield null;
                    }
                    default -> {
                      try {
                        yield method.invoke(CpuBackend.INSTANCE, args);
                      } catch (InvocationTargetException e) {
                        throw e.getCause();
                      }
                    }
                  });

  static void clear() {
    UPLOADS.clear();
  }

  @Override
  public Device.Type type() {
    return Device.Type.CUDA;
  }

  @Override
  public boolean isAvailable() {
    return true;
  }

  @Override
  public int deviceCount() {
    return 1;
  }

  @Override
  public Backend backend(Device device) {
    return BACKEND;
  }
}
