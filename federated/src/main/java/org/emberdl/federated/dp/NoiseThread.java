package org.emberdl.federated.dp;

import java.util.concurrent.Callable;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The one thread that draws DP noise off the critical path ({@link NoiseDraw}, {@link
 * NoisePrefetch}): a JVM-wide daemon named {@code ember-dp-noise}, started on the first draw and
 * gone after {@link #IDLE_SECONDS} without work, so nothing has to shut it down and it never keeps
 * the JVM alive. Draws queue behind each other; every caller joins its own.
 */
final class NoiseThread {
  /** Seconds the thread waits for the next draw before it exits. */
  static final long IDLE_SECONDS = 30;

  static final String NAME = "ember-dp-noise";

  private static final ThreadPoolExecutor EXECUTOR = executor();

  private NoiseThread() {}

  /** Queues {@code task}; null when the executor refuses it (the caller then draws itself). */
  static <T> Future<T> submit(Callable<T> task) {
    try {
      return EXECUTOR.submit(task);
    } catch (RejectedExecutionException e) {
      return null;
    }
  }

  private static ThreadPoolExecutor executor() {
    ThreadPoolExecutor e =
        new ThreadPoolExecutor(
            1,
            1,
            IDLE_SECONDS,
            TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(),
            r -> {
              Thread t = new Thread(r, NAME);
              t.setDaemon(true);
              return t;
            });
    e.allowCoreThreadTimeOut(true);
    return e;
  }
}
