package org.emberdl.spark;

import java.util.Locale;

/**
 * Where the time of a training stage's steps goes, measured with {@code System.nanoTime} around
 * each phase (a few clock reads per step, nothing per element) and summarised once per epoch: the
 * tasks' own account (computing the update, encoding it, waiting for the reply, decoding and
 * loading it; sent along with each update) and the driver's (decoding the updates, waiting for the
 * last one, summing, the optimizer step and snapshot, encoding and sending the reply).
 *
 * <p>The overhead of a step is its wall time on the driver minus the compute of its slowest task:
 * what synchronous training costs above the work itself.
 */
final class StagePhases {
  private long steps;
  private long stepNanos;
  private long lastPublish;
  private long decodeNanos;
  private long decodes;
  private long awaitNanos;
  private long spreadNanos;
  private long firstArrival;
  private long lastArrival;
  private long sumNanos;
  private long applyNanos;
  private long encodeNanos;
  private long replyNanos;
  private long slowestComputeNanos;
  private long stepSlowest;
  private final StageMessages.TaskTimes[] tasks;

  StagePhases(int partitions) {
    this.tasks = new StageMessages.TaskTimes[partitions];
  }

  /** The driver starts the stage's first step (or the epoch's). */
  synchronized void started(long now) {
    lastPublish = now;
  }

  /** An update decoded on the RPC dispatcher thread. */
  synchronized void decoded(long nanos) {
    decodeNanos += nanos;
    decodes++;
  }

  /**
   * Partition {@code partition}'s update for the current step arrived; {@code times} includes that
   * step's compute.
   */
  synchronized void arrived(int partition, StageMessages.TaskTimes times, long now) {
    if (firstArrival == 0) {
      firstArrival = now;
    }
    lastArrival = now;
    StageMessages.TaskTimes before = tasks[partition];
    long compute =
        before == null || times.steps() <= before.steps()
            ? 0 // a retried task starts its count over: this step's compute is not known
            : times.computeNanos() - before.computeNanos();
    tasks[partition] = times;
    stepSlowest = Math.max(stepSlowest, compute);
  }

  synchronized void awaited(long nanos) {
    awaitNanos += nanos;
  }

  synchronized void summed(long nanos) {
    sumNanos += nanos;
  }

  /** The driver publishes a step: {@code applyNanos} since the sum, then encode and reply. */
  synchronized void published(long apply, long encode, long reply, long now) {
    applyNanos += apply;
    encodeNanos += encode;
    replyNanos += reply;
    spreadNanos += lastArrival - firstArrival;
    firstArrival = 0;
    slowestComputeNanos += stepSlowest;
    stepSlowest = 0;
    stepNanos += now - lastPublish;
    lastPublish = now;
    steps++;
  }

  /** Mean milliseconds per step of the step wall time above the slowest task's compute. */
  synchronized double overheadMillis() {
    return steps == 0 ? Double.NaN : (stepNanos - slowestComputeNanos) / 1e6 / steps;
  }

  /** One line for the epoch's INFO log. */
  synchronized String summary() {
    if (steps == 0) {
      return "no steps";
    }
    long taskSteps = 0;
    long compute = 0;
    long encode = 0;
    long wait = 0;
    long load = 0;
    for (StageMessages.TaskTimes t : tasks) {
      if (t != null) {
        taskSteps += t.steps();
        compute += t.computeNanos();
        encode += t.encodeNanos();
        wait += t.waitNanos();
        load += t.loadNanos();
      }
    }
    double step = ms(stepNanos, steps);
    double slowest = ms(slowestComputeNanos, steps);
    return String.format(
        Locale.ROOT,
        "%d steps, %.2f ms/step; per task: compute %.2f, encode %.2f, wait for the reply %.2f,"
            + " decode+load %.2f; driver: read %.3f per update, wait for the updates %.2f (first"
            + " to last %.2f), sum on arrival %.2f, optimizer+snapshot %.2f, encode %.2f, reply %.2f;"
            + " slowest task's compute %.2f, overhead %.2f ms (%.0f%% of the step)",
        steps,
        step,
        ms(compute, taskSteps),
        ms(encode, taskSteps),
        ms(wait, taskSteps),
        ms(load, taskSteps),
        ms(decodeNanos, decodes),
        ms(awaitNanos, steps),
        ms(spreadNanos, steps),
        ms(sumNanos, steps),
        ms(applyNanos, steps),
        ms(encodeNanos, steps),
        ms(replyNanos, steps),
        slowest,
        step - slowest,
        100 * (step - slowest) / step);
  }

  private static double ms(long nanos, long count) {
    return count == 0 ? Double.NaN : nanos / 1e6 / count;
  }
}
