package org.emberdl.spark.internal.plan;

/**
 * The {@code device} Param: where a stage's tasks run their tensors. Executors pick the device per
 * task ({@code org.emberdl.spark.internal.local.TaskDevice}), from this choice, the GPU Spark
 * assigned the task, and what the executor's CUDA probe found.
 */
public enum DeviceChoice implements ParamValue {
  /**
   * The GPU Spark gave the task when this build can use it; otherwise the CPU, with one WARN per
   * executor naming the GPU and why it is not used.
   */
  AUTO,
  /** Always the CPU, whatever Spark assigned. */
  CPU,
  /** A CUDA device, or the task fails naming the executor and why CUDA cannot be used there. */
  CUDA;

  static String[] names() {
    return ParamValue.names(values());
  }

  /**
   * @throws IllegalArgumentException naming the Param and its values, for any other value
   */
  public static DeviceChoice of(String value) {
    return ParamValue.parse(values(), "device", value);
  }
}
