package org.emberdl.spark.internal.stage;

import org.emberdl.federated.Update;
import org.emberdl.spark.internal.local.RoundWeights;

/**
 * What a training stage's tasks and the driver's {@link StageEndpoint} say to each other (as {@link
 * StageWire} bytes).
 */
public final class StageMessages {
  private StageMessages() {}

  /** A task of stage attempt {@code stageAttempt} starts; the reply is a {@link Resume}. */
  public record Register(int partition, int stageAttempt) {}

  /** Where a task starts: the epoch's first step not yet applied, and the weights before it. */
  public record Resume(int step, RoundWeights weights) {}

  /**
   * With {@code spark.ember.stageReduce=tasks}: partition {@code partition}'s chunk of the sum of
   * every partition's update for {@code step}, as its reduce-scatter formed it ({@link
   * BlockAllReduce#reduceScatter}), with the whole sum's examples, loss and correct count. The
   * update has {@code values} values and {@code buffers} buffer values; the chunk is the one {@link
   * UpdateChunks} assigns the partition in their concatenation. The reply is a {@link
   * WeightsChunk}.
   */
  record Shard(
      int partition,
      int stageAttempt,
      int step,
      int values,
      int buffers,
      UpdateChunks.Summed sum,
      TaskTimes times) {}

  /**
   * The driver's reply to a {@link Shard}: floats {@code [from, from + floats.length)} of the new
   * weights' values followed by their buffers, the partition's chunk, which the tasks all-gather.
   */
  record WeightsChunk(int from, float[] floats) {}

  /**
   * A partition's update for {@code step}; the reply is the weights after that step. {@code times}
   * is the task's own account of the steps it has finished so far in this stage, for the driver's
   * per-epoch breakdown ({@link StagePhases}).
   */
  record Submit(int partition, int stageAttempt, int step, Update update, TaskTimes times) {
    Submit(int partition, int stageAttempt, int step, Update update) {
      this(partition, stageAttempt, step, update, TaskTimes.NONE);
    }
  }

  /**
   * A task's cumulative nanoseconds over {@code steps} steps: computing its update ({@code
   * PartitionTrainer}), encoding it, waiting for the driver's reply (RPC both ways plus the
   * driver's wait for the slowest task and its step), decoding the reply and loading it into the
   * replica.
   */
  record TaskTimes(
      long steps, long computeNanos, long encodeNanos, long waitNanos, long loadNanos) {
    static final TaskTimes NONE = new TaskTimes(0, 0, 0, 0, 0);
  }
}
