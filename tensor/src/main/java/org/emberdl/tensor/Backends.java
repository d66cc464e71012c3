package org.emberdl.tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;
import org.emberdl.tensor.cpu.CpuBackend;
import org.emberdl.tensor.cuda.CudaAvailability;
import org.emberdl.tensor.cuda.CudaStatus;

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
          throw new IllegalStateException(unavailable(device, CudaAvailability.status()));
        }
        return p.backend(device);
      }
    }
    throw new IllegalStateException(noBackend(device, CudaAvailability.status()));
  }

  /**
   * Why {@code device} (a CUDA device) cannot be used where this build has no backend for it: the
   * reason CUDA is unavailable on this machine, or, where it is available, that the build lacks the
   * backend; either way Ember runs on the CPU here.
   */
  static String noBackend(Device device, CudaStatus cuda) {
    if (cuda.available()) {
      return device
          + " cannot be used: this machine has CUDA ("
          + cuda.devicesSummary()
          + "), but this Ember build has no CUDA backend; it runs on the CPU (use Device.CPU)";
    }
    return device
        + " cannot be used: "
        + cuda.describe()
        + "; this Ember build runs on the CPU (use Device.CPU)";
  }

  /**
   * Why {@code device} (a CUDA device) cannot be used where this build has the CUDA backend: the
   * reason CUDA is unavailable on this machine, or the devices it has when the index is past them.
   */
  static String unavailable(Device device, CudaStatus cuda) {
    if (cuda.available()) {
      return device + " cannot be used: this machine has " + cuda.devicesSummary();
    }
    return device
        + " cannot be used: "
        + cuda.describe()
        + "; Ember runs on the CPU here (use"
        + " Device.CPU)";
  }

  /** Whether this build has a backend for devices of {@code type} (the CPU always). */
  public static boolean provides(Device.Type type) {
    return type == Device.Type.CPU || Providers.ALL.stream().anyMatch(p -> p.type() == type);
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
