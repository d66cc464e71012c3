package org.emberdl.spark.internal.stage;

import java.util.Locale;

/**
 * Where the time of a training stage's steps goes, measured with {@code System.nanoTime} around
 * each phase (a few clock reads per step, nothing per element) and summarised once per epoch: the
 * tasks' own account (computing the update, encoding it, waiting for the reply, decoding and
 * loading it; sent along with each update) and the driver's (decoding the updates, waiting for the
 * last one, summing, the time from the sum to the reply (the aggregator, and where the driver
 * applies the steps the optimizer and snapshot), encoding and sending the reply).
 *
 * <p>The overhead of a step is its wall time on the driver (from the publish of the step before to
 * its own; the first step, which includes the stage's launch, is reported apart) minus the compute
 * of its slowest task: what synchronous training costs above the work itself.
 */
final class StagePhases {
  private long steps;
  private long intervals;
  private long started;
  private long firstUpdate;
  private boolean anyUpdate;
  private boolean anyArrived;
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
    started = now;
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
    if (!anyArrived) {
      anyArrived = true;
      firstArrival = now;
    }
    if (!anyUpdate) {
      anyUpdate = true;
      firstUpdate = now;
    }
    lastArrival = now;
    StageMessages.TaskTimes before = tasks[partition];
    long compute =
        times.steps() == 1 // the task's first step (a retried task starts its count over)
            ? times.computeNanos()
            : before != null && times.steps() > before.steps()
                ? times.computeNanos() - before.computeNanos()
                : 0;
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
    anyArrived = false;
    if (steps > 0) { // the first step's wall time includes the stage's launch: not counted
      slowestComputeNanos += stepSlowest;
      stepNanos += now - lastPublish;
      intervals++;
    }
    stepSlowest = 0;
    lastPublish = now;
    steps++;
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
    double step = ms(stepNanos, intervals);
    double slowest = ms(slowestComputeNanos, intervals);
    return String.format(
        Locale.ROOT,
        "first update %.0f ms after the stage's job was submitted (launch, registration,"
            + " replica, first step); %d steps, %.2f ms/step; per task: compute %.2f, encode %.2f, wait for the reply %.2f,"
            + " decode+apply %.2f; driver: read %.3f per update, wait for the updates %.2f (first"
            + " to last %.2f), sum on arrival %.2f, sum to reply %.2f, encode %.2f, reply %.2f;"
            + " slowest task's compute %.2f, overhead %.2f ms (%.0f%% of the step)",
        ms(firstUpdate - started, 1),
        steps,
        step,
        ms(compute, taskSteps),
        ms(encode, taskSteps),
        ms(wait, taskSteps),
        ms(load, taskSteps),
        ms(decodeNanos, Math.max(1, decodes)), // in-process updates are not read: 0
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
