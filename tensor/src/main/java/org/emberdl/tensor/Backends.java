package org.emberdl.tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;
import org.emberdl.tensor.cpu.CpuBackend;

/** Finds the backend of a device: the CPU one always, others through {@link BackendProvider}. */
public final class Backends {
  private Backends() {}

  private static final class Providers {
    static final List<BackendProvider> ALL = load();

    private static List<BackendProvider> load() {
      List<BackendProvider> list = new ArrayList<>();
      for (BackendProvider p : ServiceLoader.load(BackendProvider.class)) {
        list.add(p);
      }
      return List.copyOf(list);
    }
  }

  /** The backend for {@code device}; throws when that device type is not available here. */
  public static Backend of(Device device) {
    if (device.type() == Device.Type.CPU) {
      return CpuBackend.INSTANCE;
    }
    for (BackendProvider p : Providers.ALL) {
      if (p.type() == device.type()) {
        if (!p.isAvailable() || device.index() >= p.deviceCount()) {
          throw new IllegalStateException(
              "device " + device + " is not available (" + p.deviceCount() + " visible)");
        }
        return p.backend(device);
      }
    }
    throw new IllegalStateException(
        "no backend for " + device + ": add the ember CUDA module to the classpath");
  }

  /** Every device usable here: the CPU, then each visible device of each provider. */
  public static List<Device> available() {
    List<Device> out = new ArrayList<>();
    out.add(Device.CPU);
    for (BackendProvider p : Providers.ALL) {
      if (p.isAvailable()) {
        for (int i = 0; i < p.deviceCount(); i++) {
          out.add(p.type() == Device.Type.CUDA ? Device.cuda(i) : Device.CPU);
        }
      }
    }
    return out;
  }
}
