package org.emberdl.spark;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The per-epoch breakdown's arithmetic, on made-up clock readings (milliseconds as nanos). */
class StagePhasesTest {
  private static final long MS = 1_000_000;

  private static StageMessages.TaskTimes times(long steps, long computeMs) {
    return new StageMessages.TaskTimes(steps, computeMs * MS, steps * MS, 0, 0);
  }

  @Test
  void stepsAreTimedFromPublishToPublishWithoutTheLaunchAndOverheadIsAboveTheSlowestTask() {
    StagePhases p = new StagePhases(2);
    p.started(0);
    // step 0: launch; the first update 500 ms after the job was submitted
    p.arrived(0, times(1, 3), 500 * MS);
    p.arrived(1, times(1, 4), 501 * MS);
    p.published(0, 0, 0, 502 * MS);
    // step 1: 10 ms wall; computes 2 and 5 ms (cumulative 3 -> 5, 4 -> 9)
    p.arrived(0, times(2, 5), 508 * MS);
    p.arrived(1, times(2, 9), 511 * MS);
    p.published(MS, MS, 0, 512 * MS);
    // step 2: 6 ms wall; computes 3 and 1 ms
    p.arrived(1, times(3, 10), 514 * MS);
    p.arrived(0, times(3, 8), 517 * MS);
    p.published(MS, MS, 0, 518 * MS);
    String s = p.summary();
    // wall (10 + 6) / 2 = 8.00 ms/step; slowest computes (5 + 3) / 2 = 4.00; overhead 4.00 = 50%
    assertTrue(s.startsWith("first update 500 ms after the stage's job was submitted"), s);
    assertTrue(s.contains("3 steps, 8.00 ms/step"), s);
    assertTrue(s.contains("slowest task's compute 4.00, overhead 4.00 ms (50% of the step)"), s);
    // tasks: (8 + 10) ms over 6 steps = 3.00 compute; first to last arrival (1 + 3 + 3) / 3
    assertTrue(s.contains("per task: compute 3.00, encode 1.00"), s);
    assertTrue(s.contains("(first to last 2.33)"), s);
  }

  @Test
  void aRetriedTasksFirstStepCountsItsOwnCompute() {
    StagePhases p = new StagePhases(1);
    p.started(0);
    p.arrived(0, times(1, 2), MS);
    p.published(0, 0, 0, 2 * MS);
    p.arrived(0, times(2, 5), 9 * MS); // 3 ms
    p.published(0, 0, 0, 10 * MS);
    p.arrived(0, times(1, 4), 20 * MS); // a new attempt's first step: 4 ms
    p.published(0, 0, 0, 22 * MS);
    String s = p.summary();
    // wall (8 + 12) / 2 = 10; slowest (3 + 4) / 2 = 3.5; overhead 6.5 = 65%
    assertTrue(s.contains("slowest task's compute 3.50, overhead 6.50 ms (65% of the step)"), s);
  }
}
