package org.emberdl.spark.internal.local;

import java.util.function.Supplier;
import org.apache.spark.SparkContext;
import org.emberdl.spark.internal.plan.DeviceChoice;
import org.emberdl.tensor.Backends;
import org.emberdl.tensor.Device;
import org.emberdl.tensor.cuda.CudaAvailability;
import org.emberdl.tensor.cuda.CudaStatus;

/**
 * The device of one task, from the {@code device} Param, the GPU Spark assigned the task, the
 * executor's CUDA status and whether Ember's Spark stages run on CUDA ({@link #STAGES_ON_CUDA}).
 * {@link #select} is pure, so that every branch is checked without a GPU; {@link
 * ExecutorEngine#enterTask} supplies the facts and logs the notice.
 *
 * @param device where the task's tensors go
 * @param notice why a GPU that Spark assigned is not used (auto only), for one WARN per executor;
 *     null when there is nothing to say
 */
public record TaskDevice(Device device, String notice) {
  /**
   * Whether the Spark stages put their replicas and batches on a task's CUDA device. Not yet: the
   * tensor engine has a CUDA backend ({@code Device.cuda}), but the stages' replicas, batches and
   * updates are built on the CPU, so a task that resolved to a GPU would still train on the CPU.
   * Until they move, {@code cuda} is refused and {@code auto} runs on the CPU with a WARN, rather
   * than either silently using the CPU.
   */
  public static final boolean STAGES_ON_CUDA = false;

  /**
   * The device for a task on {@code executor} (e.g. {@code driver (127.0.0.1)}) that Spark gave GPU
   * {@code gpu} (null: none). {@code probe} is asked only where the answer matters ({@code cuda},
   * or {@code auto} with a GPU): probing loads the driver, which a CPU task has no use for.
   *
   * @throws IllegalStateException naming the executor and the reason, for {@code cuda} where CUDA
   *     cannot be used
   */
  public static TaskDevice select(
      DeviceChoice choice,
      String executor,
      String gpu,
      Supplier<CudaStatus> probe,
      boolean stagesOnCuda) {
    return switch (choice) {
      case CPU -> new TaskDevice(Device.CPU, null);
      case CUDA -> {
        CudaStatus cuda = probe.get();
        if (!cuda.available()) {
          throw new IllegalStateException(
              "device=cuda asked, but CUDA is unavailable on executor "
                  + executor
                  + ": "
                  + cuda.reason());
        }
        if (!stagesOnCuda) {
          throw new IllegalStateException(
              "device=cuda asked, and executor "
                  + executor
                  + " has CUDA ("
                  + cuda.devicesSummary()
                  + "), but Ember's Spark stages do not run on CUDA yet; set device=auto or cpu"
                  + " to run on the CPU");
        }
        yield new TaskDevice(cudaDevice(executor, gpu == null ? "0" : gpu, cuda), null);
      }
      case AUTO -> {
        if (gpu == null) {
          yield new TaskDevice(Device.CPU, null);
        }
        CudaStatus cuda = probe.get();
        String given = "task was given GPU " + gpu + " on executor " + executor;
        if (!cuda.available()) {
          yield new TaskDevice(
              Device.CPU,
              given
                  + ", but CUDA is unavailable there: "
                  + cuda.reason()
                  + "; running on the CPU (device=auto)");
        }
        if (!stagesOnCuda) {
          yield new TaskDevice(
              Device.CPU,
              given
                  + ", which has CUDA ("
                  + cuda.devicesSummary()
                  + "), but Ember's Spark stages do not run on CUDA yet; running on the CPU"
                  + " (device=auto)");
        }
        yield new TaskDevice(cudaDevice(executor, gpu, cuda), null);
      }
    };
  }

  /**
   * Refuses {@code device=cuda} on the driver before any Spark job, where the driver can tell: in
   * local mode its JVM is the executor; on a cluster, while the stages do not run on CUDA ({@link
   * #STAGES_ON_CUDA}), no executor can. (Executors' drivers and GPUs are checked by their tasks.)
   *
   * @throws IllegalStateException as the tasks would, naming the reason
   */
  public static void checkOnDriver(DeviceChoice choice, SparkContext sc) {
    if (choice != DeviceChoice.CUDA) {
      return;
    }
    boolean stagesOnCuda = STAGES_ON_CUDA && Backends.provides(Device.Type.CUDA);
    if (sc.isLocal()) {
      select(choice, ExecutorEngine.executorName(), null, CudaAvailability::status, stagesOnCuda);
    } else if (!stagesOnCuda) {
      throw new IllegalStateException(
          "device=cuda asked, but Ember's Spark stages do not run on CUDA yet, so no executor can"
              + " run on CUDA; set device=auto or cpu to run on the CPU");
    }
  }

  /** CUDA device {@code gpu}, a Spark GPU address: the driver's ordinal of a visible device. */
  private static Device cudaDevice(String executor, String gpu, CudaStatus cuda) {
    int ordinal;
    try {
      ordinal = Integer.parseInt(gpu.trim());
    } catch (NumberFormatException e) {
      throw new IllegalStateException(
          "GPU address '"
              + gpu
              + "' on executor "
              + executor
              + " is not a CUDA device ordinal; the discovery script"
              + " (spark.executor.resource.gpu.discoveryScript) must list ordinals such as 0, 1");
    }
    if (ordinal < 0 || ordinal >= cuda.devices().size()) {
      throw new IllegalStateException(
          "GPU address "
              + gpu
              + " on executor "
              + executor
              + " is not one of its "
              + cuda.devices().size()
              + " visible CUDA devices (ordinals from 0)");
    }
    return Device.cuda(ordinal);
  }
}
