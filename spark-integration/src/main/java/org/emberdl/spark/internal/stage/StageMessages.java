package org.emberdl.spark.internal.stage;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.emberdl.federated.Update;
import org.emberdl.optim.Optimizer;
import org.emberdl.spark.internal.local.RoundWeights;
import org.emberdl.spark.internal.plan.StageReduce;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;

/**
 * What a training stage's tasks and the driver's {@link StageEndpoint} say to each other (as {@link
 * StageWire} bytes).
 */
public final class StageMessages {
  private StageMessages() {}

  /** A task of stage attempt {@code stageAttempt} starts; the reply is a {@link Resume}. */
  public record Register(int partition, int stageAttempt) {}

  /**
   * Where a task starts: the epoch's first step not yet applied, the weights before it and, when
   * the tasks apply each step themselves ({@link StageReduce#DRIVER}), the optimizer's state before
   * it (else null: the driver applies the steps and replies with weights).
   */
  public record Resume(int step, RoundWeights weights, OptimizerState optimizer) {
    public Resume(int step, RoundWeights weights) {
      this(step, weights, null);
    }
  }

  /**
   * An optimizer's {@link Optimizer#stateDict()} as plain values: its scalars (the step count, the
   * learning rate, the hyper-parameters) and its float32 state buffers (moments), by name, in the
   * state dict's order.
   */
  public record OptimizerState(Map<String, Double> scalars, Map<String, float[]> buffers) {
    /** The state of {@code optimizer} (copied). */
    public static OptimizerState of(Optimizer optimizer) {
      Map<String, Double> scalars = new LinkedHashMap<>();
      Map<String, float[]> buffers = new LinkedHashMap<>();
      try (MemoryScope scope = MemoryScope.open()) {
        for (Map.Entry<String, NDArray> e : optimizer.stateDict().entrySet()) {
          NDArray a = e.getValue();
          if (a.ndim() == 0) {
            scalars.put(e.getKey(), a.item());
          } else if (a.dtype() == DType.FLOAT32 && a.ndim() == 1) {
            buffers.put(e.getKey(), a.toFloatArray());
          } else {
            throw new IllegalStateException(
                "a training stage ships float32 optimizer state only; '"
                    + e.getKey()
                    + "' is "
                    + a.dtype()
                    + Arrays.toString(a.shape()));
          }
        }
      }
      return new OptimizerState(scalars, buffers);
    }

    /** Loads this state into {@code optimizer} ({@link Optimizer#loadStateDict}). */
    public void loadInto(Optimizer optimizer) {
      try (MemoryScope scope = MemoryScope.open()) {
        Map<String, NDArray> dict = new LinkedHashMap<>();
        scalars.forEach((k, v) -> dict.put(k, NDArray.scalar(v, DType.FLOAT64)));
        buffers.forEach((k, v) -> dict.put(k, NDArray.of(v, v.length)));
        optimizer.loadStateDict(dict);
      }
    }
  }

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
