package org.emberdl.tensor;

/**
 * Process-wide engine settings, in one place.
 *
 * <p>{@code threads}: worker threads for CPU kernels and GEMM ({@code -Demberdl.threads=N},
 * default: available processors). OpenBLAS always runs single-threaded inside Ember's own pool: two
 * spinning pools on the same cores slow each other down many times over.
 */
public final class EmberConfig {
  private static volatile int threads =
      Math.max(
          1, Integer.getInteger("emberdl.threads", Runtime.getRuntime().availableProcessors()));

  /** {@link #withThreads}' setting for the calling thread, or null. */
  private static final ThreadLocal<Integer> OVERRIDE = new ThreadLocal<>();

  private EmberConfig() {}

  /** Threads CPU kernels may use (on this thread: see {@link #withThreads}). */
  public static int threads() {
    Integer own = OVERRIDE.get();
    return own != null ? own : threads;
  }

  /**
   * Runs {@code body} with {@code n} kernel threads on the calling thread only, then restores its
   * previous setting: for work that runs while the other tasks of this JVM wait for it (a training
   * stage's step, combined and applied on one task's thread while its peers are parked), whose
   * cores would otherwise idle. Kernels split their work by ranges, so the results do not depend on
   * {@code n}.
   */
  public static void withThreads(int n, Runnable body) {
    if (n < 1) {
      throw new IllegalArgumentException("threads must be >= 1, got " + n);
    }
    Integer previous = OVERRIDE.get();
    OVERRIDE.set(n);
    try {
      body.run();
    } finally {
      if (previous == null) {
        OVERRIDE.remove();
      } else {
        OVERRIDE.set(previous);
      }
    }
  }

  /** Sets the CPU kernel threads (e.g. to {@code spark.task.cpus} inside a Spark task). */
  public static void setThreads(int n) {
    if (n < 1) {
      throw new IllegalArgumentException("threads must be >= 1, got " + n);
    }
    threads = n;
  }
}
