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

  private EmberConfig() {}

  /** Threads CPU kernels may use. */
  public static int threads() {
    return threads;
  }

  /** Sets the CPU kernel threads (e.g. to {@code spark.task.cpus} inside a Spark task). */
  public static void setThreads(int n) {
    if (n < 1) {
      throw new IllegalArgumentException("threads must be >= 1, got " + n);
    }
    threads = n;
  }
}
