package org.emberdl.tensor.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.emberdl.tensor.EmberConfig;

/**
 * Work that Ember's CPU pool workers pick up while no parallel region needs them: a job of numbered
 * chunks, claimed one at a time from a counter. A worker that finishes its part of a region, or
 * waits for the next one, runs a chunk, then checks for a region again, so a region waits at most
 * one chunk for a worker. {@link Job#finish} claims the chunks left with every pool thread.
 *
 * <p>Why: in a training step on all cores, the workers wait whenever the calling thread runs serial
 * code (autograd bookkeeping, small ops). Work that does not depend on the step (DP-SGD's noise)
 * fills those gaps on the pool's own threads, instead of a further thread that would take turns
 * with the pool's threads for the cores.
 *
 * <p>One job at a time JVM-wide: {@link #offer} returns null while another is pending, or when the
 * pool has no workers ({@link EmberConfig#threads()} is 1); the caller then runs the work itself.
 */
public final class IdleWork {
  /** The body of one chunk. */
  @FunctionalInterface
  public interface Chunk {
    void run(int index);
  }

  private static final AtomicReference<Job> PENDING = new AtomicReference<>();

  private IdleWork() {}

  /**
   * Makes {@code chunks} chunks of {@code body} available to idle pool workers.
   *
   * @return the job, to {@link Job#finish} or {@link Job#cancel}; null when the pool has no workers
   *     or another job is pending (nothing runs then)
   */
  public static Job offer(int chunks, Chunk body) {
    if (chunks < 0) {
      throw new IllegalArgumentException("chunks must be >= 0, got " + chunks);
    }
    int threads = EmberConfig.threads();
    if (threads <= 1) {
      return null;
    }
    Job job = new Job(chunks, body);
    if (!PENDING.compareAndSet(null, job)) {
      return null;
    }
    Parallel.wakeForIdleWork(threads - 1);
    return job;
  }

  /**
   * Runs one chunk of the pending job on the calling pool worker; false when there is none to
   * claim.
   */
  static boolean runOne() {
    Job job = PENDING.get();
    return job != null && job.claimAndRun();
  }

  /** Whether a job with unclaimed chunks is pending (a worker then does not park). */
  static boolean pending() {
    Job job = PENDING.get();
    return job != null && job.next.get() < job.chunks;
  }

  /** Chunks of one offered job. */
  public static final class Job {
    private final int chunks;
    private final Chunk body;
    private final AtomicInteger next = new AtomicInteger();
    private final AtomicInteger done = new AtomicInteger();
    private final AtomicInteger byCaller = new AtomicInteger();
    private volatile Throwable failure;

    private Job(int chunks, Chunk body) {
      this.chunks = chunks;
      this.body = body;
    }

    private boolean claimAndRun() {
      if (next.get() >= chunks) {
        return false;
      }
      int i = next.getAndIncrement();
      if (i >= chunks) {
        return false;
      }
      try {
        if (failure == null) {
          body.run(i);
        }
      } catch (Throwable e) {
        if (failure == null) {
          failure = e;
        }
      } finally {
        done.incrementAndGet();
      }
      return true;
    }

    /**
     * Runs the chunks nobody claimed yet on the calling thread and the pool's workers (each claims
     * chunks until none is left), waits for chunks still running, and withdraws the job.
     *
     * @throws RuntimeException or Error: the first failure of a chunk, as thrown
     */
    public void finish() {
      PENDING.compareAndSet(this, null);
      int before = next.get();
      if (before < chunks) {
        Parallel.range(
            EmberConfig.threads(),
            Long.MAX_VALUE,
            0,
            (from, to) -> {
              while (claimAndRun()) {
                // claims until none is left
              }
            });
      }
      byCaller.set(Math.max(0, Math.min(chunks, next.get()) - Math.min(chunks, before)));
      awaitRunning();
      Throwable f = failure;
      if (f instanceof RuntimeException re) {
        throw re;
      }
      if (f instanceof Error err) {
        throw err;
      }
    }

    /** Withdraws the job: chunks not claimed yet never run; waits for those running. */
    public void cancel() {
      PENDING.compareAndSet(this, null);
      int claimed = next.getAndSet(chunks);
      // chunks claimed before the counter jumped all count in done; the rest never will
      int skipped = Math.max(0, chunks - Math.min(claimed, chunks));
      done.addAndGet(skipped);
      awaitRunning();
    }

    private void awaitRunning() {
      while (done.get() < chunks) {
        Thread.onSpinWait();
      }
    }

    /**
     * How many chunks {@link #finish} ran (on the calling thread and the workers it enlisted):
     * those the idle workers had not reached. For diagnostics and tests.
     */
    public int chunksLeftAtFinish() {
      return byCaller.get();
    }

    public int chunks() {
      return chunks;
    }
  }
}
