package org.emberdl.tensor.cpu;

import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.emberdl.tensor.EmberConfig;

/**
 * Ember's one CPU thread pool. A parallel region splits {@code [0, n)} into at most {@link
 * EmberConfig#threads()} contiguous ranges; the calling thread runs the first.
 *
 * <p>Workers spin for a short while after each region before parking, as OpenMP runtimes do: the
 * ops of a training step follow each other microseconds apart, and waking a parked thread costs
 * tens of microseconds, more than a whole small kernel. Only one region uses the workers at a time;
 * a region that finds them busy (another Spark task in the same JVM) or that starts inside a region
 * runs on its own thread, so the cores are never oversubscribed.
 */
final class Parallel {
  /** A body over a half-open range of work units. */
  @FunctionalInterface
  interface RangeBody {
    void run(long from, long to);
  }

  /** How long an idle worker spins before parking. */
  private static final long SPIN_NANOS = Long.getLong("emberdl.spinMicros", 200) * 1000;

  private static final ThreadLocal<Boolean> INSIDE = ThreadLocal.withInitial(() -> false);
  private static final ReentrantLock POOL_LOCK = new ReentrantLock();
  private static volatile Worker[] workers = new Worker[0];

  private Parallel() {}

  /** One pool thread with a single task slot. */
  private static final class Worker extends Thread {
    private volatile RangeBody body;
    private volatile boolean done = true;
    private volatile boolean parked;

    /**
     * The thread waiting for this worker's range, once it stopped spinning (see {@link
     * #awaitDone}).
     */
    private volatile Thread joiner;

    private final int index;
    private long from;
    private long to;
    private Throwable failure;

    Worker(int index) {
      super("ember-cpu-" + index);
      this.index = index;
      setDaemon(true);
    }

    void submit(RangeBody task, long start, long end) {
      from = start;
      to = end;
      failure = null;
      joiner = null;
      done = false;
      body = task; // volatile write publishes from/to
      if (parked) {
        LockSupport.unpark(this);
      }
    }

    @Override
    public void run() {
      INSIDE.set(true);
      while (true) {
        RangeBody task = awaitTask();
        try {
          task.run(from, to);
        } catch (Throwable e) {
          failure = e;
        }
        body = null;
        done = true;
        // done is written before joiner is read, and awaitDone writes joiner before reading done:
        // one
        // of the two sees the other
        Thread waiting = joiner;
        if (waiting != null) {
          LockSupport.unpark(waiting);
        }
      }
    }

    /**
     * Waits until this worker's range is done: spinning for up to {@link #SPIN_NANOS}, as a range
     * usually ends within microseconds of the caller's own part, then parked until the worker
     * unparks it. An unbounded spin would take a core from the very worker it waits for whenever
     * the machine has more runnable threads than cores (other processes, or Spark executors on the
     * driver's machine), slowing both.
     */
    void awaitDone() {
      long deadline = System.nanoTime() + SPIN_NANOS;
      while (!done) {
        if (System.nanoTime() < deadline) {
          Thread.onSpinWait();
        } else {
          joiner = Thread.currentThread();
          while (!done) {
            LockSupport.park(this);
          }
        }
      }
    }

    private RangeBody awaitTask() {
      long deadline = System.nanoTime() + SPIN_NANOS;
      RangeBody task;
      while ((task = body) == null) {
        // Between regions, chunks of offered idle work (one at a time, so a region waits at most
        // one chunk); only the workers EmberConfig.threads() allows, so the cores are not
        // oversubscribed after the thread count was lowered.
        if (index < EmberConfig.threads() && IdleWork.runOne()) {
          deadline = System.nanoTime() + SPIN_NANOS;
          continue;
        }
        if (System.nanoTime() < deadline) {
          Thread.onSpinWait();
        } else {
          parked = true;
          // parked is written before the job slot is read, and IdleWork.offer writes the slot
          // before reading parked: one of the two sees the other
          if (body == null && !(index < EmberConfig.threads() && IdleWork.pending())) {
            LockSupport.park(this);
          }
          parked = false;
          deadline = System.nanoTime() + SPIN_NANOS;
        }
      }
      return task;
    }
  }

  /**
   * Starts the first {@code count} workers if needed and wakes those parked, so they pick up the
   * idle work just offered.
   */
  static void wakeForIdleWork(int count) {
    Worker[] pool = workers(count);
    for (int i = 0; i < count; i++) {
      if (pool[i].parked) {
        LockSupport.unpark(pool[i]);
      }
    }
  }

  private static Worker[] workers(int count) {
    Worker[] current = workers;
    if (current.length >= count) {
      return current;
    }
    return grow(count);
  }

  private static synchronized Worker[] grow(int count) {
    Worker[] current = workers;
    if (current.length >= count) {
      return current;
    }
    Worker[] grown = java.util.Arrays.copyOf(current, count);
    for (int i = current.length; i < count; i++) {
      grown[i] = new Worker(i + 1);
      grown[i].start();
    }
    workers = grown;
    return grown;
  }

  /**
   * Runs {@code body} over {@code [0, n)} in pieces of {@code grain} units that the threads claim
   * from a counter until none is left (when {@code work} is at least {@code minWork}): a thread
   * that finishes early, or a worker that starts late, takes more pieces instead of one thread
   * waiting for the other's fixed half. Only for bodies whose results do not depend on which thread
   * runs which units or on how the range is cut (each unit writes its own outputs).
   */
  static void claim(long n, long grain, long work, long minWork, RangeBody body) {
    long g = Math.max(1, grain);
    long pieces = (n + g - 1) / g;
    int threads = (int) Math.min(EmberConfig.threads(), pieces);
    if (threads <= 1 || work < minWork || INSIDE.get()) {
      body.run(0, n);
      return;
    }
    java.util.concurrent.atomic.AtomicLong next = new java.util.concurrent.atomic.AtomicLong();
    range(
        threads,
        work,
        minWork,
        (a, b) -> {
          long from;
          while ((from = next.getAndAdd(g)) < n) {
            body.run(from, Math.min(n, from + g));
          }
        });
  }

  /** A grain that cuts {@code n} units into about {@code perThread} pieces per pool thread. */
  static long grain(long n, int perThread) {
    return Math.max(1, n / ((long) EmberConfig.threads() * perThread));
  }

  /**
   * Runs {@code body} over {@code [0, n)}, split across threads when {@code work} (an estimate of
   * elements touched) is at least {@code minWork}.
   */
  static void range(long n, long work, long minWork, RangeBody body) {
    int threads = (int) Math.min(EmberConfig.threads(), n);
    if (threads <= 1 || work < minWork || INSIDE.get() || !POOL_LOCK.tryLock()) {
      body.run(0, n);
      return;
    }
    try {
      Worker[] pool = workers(threads - 1);
      for (int t = 1; t < threads; t++) {
        pool[t - 1].submit(body, n * t / threads, n * (t + 1) / threads);
      }
      Throwable failure = null;
      INSIDE.set(true);
      try {
        body.run(0, n / threads);
      } catch (Throwable e) {
        failure = e;
      } finally {
        INSIDE.set(false);
      }
      for (int t = 1; t < threads; t++) {
        Worker w = pool[t - 1];
        w.awaitDone();
        if (failure == null) {
          failure = w.failure;
        }
      }
      if (failure instanceof RuntimeException re) {
        throw re;
      }
      if (failure instanceof Error err) {
        throw err;
      }
    } finally {
      POOL_LOCK.unlock();
    }
  }
}
