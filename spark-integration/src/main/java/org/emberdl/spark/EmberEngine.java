package org.emberdl.spark;

import org.apache.spark.SparkConf;
import org.emberdl.spark.internal.local.ExecutorEngine;
import org.emberdl.spark.internal.local.TaskDevice;

/**
 * The public face of the tensor engine that Ember keeps in each JVM (driver, or executor): its
 * pooled network replicas stay between fits and {@code transform} calls so that the next task
 * reuses them. Like {@code torch.cuda.empty_cache()}, {@link #releaseCached()} hands their native
 * memory back, e.g. in a long-lived driver or notebook once scoring is done, or in tests before an
 * allocator leak check.
 */
public final class EmberEngine {
  private EmberEngine() {}

  /**
   * The off-heap memory an executor with {@code conf} lets Ember use, as its engine computes it:
   * {@code spark.ember.memoryLimit} if set, else {@code spark.executor.memoryOverhead}, else
   * max(384 MiB, 10% of {@code spark.executor.memory}).
   *
   * @throws IllegalArgumentException naming {@code spark.ember.memoryLimit} when it is not a size
   */
  public static long memoryLimit(SparkConf conf) {
    return ExecutorEngine.memoryLimit(conf);
  }

  /**
   * Whether the Spark stages put their tensors on a task's CUDA device ({@code device=cuda|auto});
   * false while they build replicas and batches on the CPU (the tensor engine's CUDA backend is
   * used directly through {@code Device.cuda}).
   */
  public static boolean stagesRunOnCuda() {
    return TaskDevice.STAGES_ON_CUDA;
  }

  /**
   * Closes every replica pooled in this JVM; replicas that a running task has borrowed are closed
   * when it gives them back. Affects only this JVM (on a cluster, the driver's local-mode engine).
   */
  public static void releaseCached() {
    ExecutorEngine.get().releaseAll();
  }
}
