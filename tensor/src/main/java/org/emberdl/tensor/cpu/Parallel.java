package org.emberdl.tensor.cpu;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicReference;
import org.emberdl.tensor.EmberConfig;

/**
 * Ember's one CPU thread pool. A parallel region splits {@code [0, n)} into at most {@link
 * EmberConfig#threads()} contiguous ranges; the calling thread runs the first. Nested regions run
 * inline, so kernels may call each other freely without oversubscribing the cores.
 */
final class Parallel {
  /** A body over a half-open range of work units. */
  @FunctionalInterface
  interface RangeBody {
    void run(long from, long to);
  }

  private static final ThreadLocal<Boolean> INSIDE = ThreadLocal.withInitial(() -> false);

  private static final ExecutorService POOL =
      Executors.newCachedThreadPool(
          r -> {
            Thread t = new Thread(r, "ember-cpu");
            t.setDaemon(true);
            return t;
          });

  private Parallel() {}

  /**
   * Runs {@code body} over {@code [0, n)}, split across threads when {@code work} (an estimate of
   * elements touched) is at least {@code minWork}.
   */
  static void range(long n, long work, long minWork, RangeBody body) {
    int threads = (int) Math.min(EmberConfig.threads(), n);
    if (threads <= 1 || work < minWork || INSIDE.get()) {
      body.run(0, n);
      return;
    }
    CountDownLatch done = new CountDownLatch(threads - 1);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    for (int t = 1; t < threads; t++) {
      long from = n * t / threads;
      long to = n * (t + 1) / threads;
      POOL.execute(
          () -> {
            INSIDE.set(true);
            try {
              body.run(from, to);
            } catch (Throwable e) {
              failure.compareAndSet(null, e);
            } finally {
              INSIDE.set(false);
              done.countDown();
            }
          });
    }
    INSIDE.set(true);
    try {
      body.run(0, n / threads);
    } catch (Throwable e) {
      failure.compareAndSet(null, e);
    } finally {
      INSIDE.set(false);
    }
    try {
      done.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for kernel threads", e);
    }
    Throwable e = failure.get();
    if (e instanceof RuntimeException re) {
      throw re;
    }
    if (e instanceof Error err) {
      throw err;
    }
  }
}
