package org.emberdl.spark;

import org.emberdl.spark.internal.local.ExecutorEngine;

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
   * Closes every replica pooled in this JVM; replicas that a running task has borrowed are closed
   * when it gives them back. Affects only this JVM (on a cluster, the driver's local-mode engine).
   */
  public static void releaseCached() {
    ExecutorEngine.get().releaseAll();
  }
}
