package org.emberdl.tensor.cuda;

/**
 * Prints what {@link CudaAvailability#probe} finds with the driver library {@code args[0]}, one
 * field per line, for {@link CudaAvailabilityDriverTest}'s child JVMs (a JVM opens one driver).
 */
public final class ProbeMain {
  private ProbeMain() {}

  public static void main(String[] args) {
    CudaStatus s = CudaAvailability.probe(args[0]);
    System.out.println("probe.available=" + s.available());
    System.out.println("probe.reason=" + s.reason());
    System.out.println("probe.driverVersion=" + s.driverVersion());
    System.out.println("probe.runtimeVersion=" + s.runtimeVersion());
    for (CudaDevice d : s.devices()) {
      System.out.println("probe.device=" + d);
      System.out.println("probe.deviceBytes=" + d.totalMemoryBytes());
    }
  }
}
