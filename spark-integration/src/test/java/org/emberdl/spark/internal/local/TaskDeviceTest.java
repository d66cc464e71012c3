package org.emberdl.spark.internal.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.function.Supplier;
import org.emberdl.spark.internal.plan.DeviceChoice;
import org.emberdl.tensor.Device;
import org.emberdl.tensor.cuda.CudaDevice;
import org.emberdl.tensor.cuda.CudaStatus;
import org.junit.jupiter.api.Test;

/**
 * Every branch of the task's device choice, with the executor's CUDA status given (a machine
 * without a driver, one with two GPUs) and with or without a CUDA backend in the build.
 */
class TaskDeviceTest {
  private static final String EXECUTOR = "3 (worker-1)";
  private static final CudaStatus NO_DRIVER =
      CudaStatus.unavailable(
          "no NVIDIA driver: libcuda.so.1 not found (libcuda.so.1: cannot open shared object file:"
              + " No such file or directory)");
  private static final CudaStatus TWO_GPUS =
      new CudaStatus(
          true,
          "",
          13000,
          13010,
          List.of(
              new CudaDevice(0, "GPU A", 16L << 30, 8, 6),
              new CudaDevice(1, "GPU B", 16L << 30, 8, 6)));
  private static final String TWO_GPUS_SUMMARY =
      "driver 13.0, runtime 13.1, 2 devices (cuda:0 GPU A, 16.0 GiB, compute capability 8.6;"
          + " cuda:1 GPU B, 16.0 GiB, compute capability 8.6)";

  private static TaskDevice select(DeviceChoice c, String gpu, CudaStatus cuda, boolean backend) {
    return TaskDevice.select(c, EXECUTOR, gpu, () -> cuda, backend);
  }

  @Test
  void aTaskThatCannotUseAGpuDoesNotProbeForOne() {
    Supplier<CudaStatus> noProbe =
        () -> {
          throw new AssertionError("probed CUDA");
        };
    assertEquals(
        new TaskDevice(Device.CPU, null),
        TaskDevice.select(DeviceChoice.CPU, EXECUTOR, "0", noProbe, false));
    assertEquals(
        new TaskDevice(Device.CPU, null),
        TaskDevice.select(DeviceChoice.AUTO, EXECUTOR, null, noProbe, false));
  }

  @Test
  void cpuIsTheCpuWhateverSparkAssigned() {
    assertEquals(new TaskDevice(Device.CPU, null), select(DeviceChoice.CPU, "1", TWO_GPUS, true));
    assertEquals(
        new TaskDevice(Device.CPU, null), select(DeviceChoice.CPU, null, NO_DRIVER, false));
  }

  @Test
  void cudaWithoutCudaFailsNamingTheExecutorAndTheReason() {
    IllegalStateException e =
        assertThrows(
            IllegalStateException.class, () -> select(DeviceChoice.CUDA, "0", NO_DRIVER, false));
    assertEquals(
        "device=cuda asked, but CUDA is unavailable on executor 3 (worker-1): no NVIDIA driver:"
            + " libcuda.so.1 not found (libcuda.so.1: cannot open shared object file: No such file"
            + " or directory)",
        e.getMessage());
  }

  @Test
  void cudaWhereCudaWorksButTheStagesDoNotRunOnCudaSaysExactlyThat() {
    IllegalStateException e =
        assertThrows(
            IllegalStateException.class, () -> select(DeviceChoice.CUDA, "1", TWO_GPUS, false));
    assertEquals(
        "device=cuda asked, and executor 3 (worker-1) has CUDA ("
            + TWO_GPUS_SUMMARY
            + "), but Ember's Spark stages do not run on CUDA yet; set device=auto or cpu to run"
            + " on the CPU",
        e.getMessage());
  }

  @Test
  void cudaWhereTheStagesRunOnCudaTakesTheAssignedGpuOrDeviceZero() {
    assertEquals(
        new TaskDevice(Device.cuda(1), null), select(DeviceChoice.CUDA, "1", TWO_GPUS, true));
    assertEquals(
        new TaskDevice(Device.cuda(0), null), select(DeviceChoice.CUDA, null, TWO_GPUS, true));
    assertEquals(
        new TaskDevice(Device.cuda(1), null), select(DeviceChoice.AUTO, "1", TWO_GPUS, true));
  }

  @Test
  void aGpuAddressThatIsNoVisibleOrdinalIsRefusedNamingIt() {
    assertEquals(
        "GPU address 2 on executor 3 (worker-1) is not one of its 2 visible CUDA devices"
            + " (ordinals from 0)",
        assertThrows(
                IllegalStateException.class, () -> select(DeviceChoice.AUTO, "2", TWO_GPUS, true))
            .getMessage());
    assertEquals(
        "GPU address 'GPU-5f3c' on executor 3 (worker-1) is not a CUDA device ordinal; the"
            + " discovery script (spark.executor.resource.gpu.discoveryScript) must list ordinals"
            + " such as 0, 1",
        assertThrows(
                IllegalStateException.class,
                () -> select(DeviceChoice.CUDA, "GPU-5f3c", TWO_GPUS, true))
            .getMessage());
  }

  @Test
  void autoWithoutAGpuIsTheCpuWithNothingToSay() {
    assertEquals(
        new TaskDevice(Device.CPU, null), select(DeviceChoice.AUTO, null, NO_DRIVER, false));
    // a machine with GPUs, but Spark gave this task none: not ours to take
    assertEquals(new TaskDevice(Device.CPU, null), select(DeviceChoice.AUTO, null, TWO_GPUS, true));
  }

  @Test
  void autoWithAnUnusableGpuRunsOnTheCpuAndSaysWhy() {
    TaskDevice noDriver = select(DeviceChoice.AUTO, "0", NO_DRIVER, false);
    assertEquals(Device.CPU, noDriver.device());
    assertEquals(
        "task was given GPU 0 on executor 3 (worker-1), but CUDA is unavailable there: no NVIDIA"
            + " driver: libcuda.so.1 not found (libcuda.so.1: cannot open shared object file: No"
            + " such file or directory); running on the CPU (device=auto)",
        noDriver.notice());
    TaskDevice noBackend = select(DeviceChoice.AUTO, "1", TWO_GPUS, false);
    assertEquals(Device.CPU, noBackend.device());
    assertEquals(
        "task was given GPU 1 on executor 3 (worker-1), which has CUDA ("
            + TWO_GPUS_SUMMARY
            + "), but Ember's Spark stages do not run on CUDA yet; running on the CPU"
            + " (device=auto)",
        noBackend.notice());
    assertNull(select(DeviceChoice.AUTO, "1", TWO_GPUS, true).notice());
  }
}
