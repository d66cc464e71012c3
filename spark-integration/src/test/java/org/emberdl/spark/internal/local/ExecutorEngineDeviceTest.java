package org.emberdl.spark.internal.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.util.List;
import org.emberdl.spark.LogCapture;
import org.emberdl.spark.SparkTestSession;
import org.emberdl.spark.internal.plan.DeviceChoice;
import org.emberdl.tensor.Device;
import org.emberdl.tensor.cuda.CudaAvailability;
import org.junit.jupiter.api.Test;

/**
 * The executor engine's side of a task given a GPU under {@code device=auto}: the CPU, and one WARN
 * per executor that names the GPU and why it is not used. Spark's local mode assigns tasks no
 * resources (a task asking for a GPU is never scheduled), so the GPU is handed to the engine's seam
 * as {@code TaskContext.resources()("gpu")} would give it.
 */
class ExecutorEngineDeviceTest {
  @Test
  void anAssignedGpuThatCannotBeUsedIsOneWarnPerExecutorWithTheReason() {
    assumeFalse(CudaAvailability.isAvailable(), "this machine has CUDA");
    SparkTestSession.get(); // the engine names its executor from SparkEnv
    ExecutorEngine engine = ExecutorEngine.get();
    try (LogCapture log = new LogCapture(ExecutorEngine.class)) {
      assertEquals(Device.CPU, engine.selectDevice(DeviceChoice.AUTO, "0"));
      assertEquals(Device.CPU, engine.selectDevice(DeviceChoice.AUTO, "1"));
      assertEquals(Device.CPU, engine.selectDevice(DeviceChoice.AUTO, null));
      assertEquals(
          List.of(
              "WARN task was given GPU 0 on executor driver (127.0.0.1), but CUDA is unavailable"
                  + " there: "
                  + CudaAvailability.status().reason()
                  + "; running on the CPU (device=auto)"),
          log.lines(),
          "one WARN for the executor, not one per task");
    }
  }
}
