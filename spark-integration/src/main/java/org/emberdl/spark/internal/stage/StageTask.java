package org.emberdl.spark.internal.stage;

import java.util.Collections;
import java.util.Iterator;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import org.apache.spark.TaskContext;
import org.apache.spark.rpc.RpcEndpointRef;
import org.emberdl.federated.Step;
import org.emberdl.federated.Update;
import org.emberdl.nn.Module;
import org.emberdl.optim.Optimizer;
import org.emberdl.spark.internal.data.PartitionData;
import org.emberdl.spark.internal.data.SparkInternals;
import org.emberdl.spark.internal.local.FrozenParameters;
import org.emberdl.spark.internal.local.ModuleBuffers;
import org.emberdl.spark.internal.local.PartitionTrainer;
import org.emberdl.spark.internal.local.RoundWeights;
import org.emberdl.spark.internal.plan.LrSchedule;
import org.emberdl.spark.internal.plan.StageReduce;
import org.emberdl.spark.internal.train.Optimizers;
import org.emberdl.spark.internal.train.Steps;
import org.emberdl.spark.internal.train.TrainingConfig;
import org.emberdl.tensor.MemoryScope;

/**
 * The executor's side of a training stage: one long-lived task per partition that computes its
 * share of every step of the epoch with {@link PartitionTrainer#trainLoaded} (the code a round of
 * the rounds path runs), sends it to the driver (through Spark's RPC, or directly when the driver
 * is in this JVM: {@link LocalStages}) and continues from the step or the weights the driver
 * replies with.
 *
 * <p>With {@code spark.ember.stageReduce=tasks} ({@link StageReduce#TASKS}) a task first sums its
 * chunk of every partition's update with its peers ({@link BlockAllReduce#reduceScatter}, over
 * Spark's block manager), sends the driver only that chunk, gets back its chunk of the new weights
 * and all-gathers the rest from its peers; its "encode" time then includes the reduce-scatter, its
 * "decode+apply" time the all-gather.
 *
 * <p>Every wait for the driver is bounded by {@code spark.ember.stageTimeout} and checks every 100
 * ms whether Spark has killed the task (it does when another task of the barrier stage fails), so a
 * dead peer ends in a retry of the stage or a clear error, never a hang.
 */
final class StageTask {
  /**
   * Test hook, a Spark local property {@code "partition:epoch:step"}: that task of the stage's
   * first attempt fails after computing that step, as a crashed task would; with {@code ":*"}
   * appended, in every attempt.
   */
  static final String FAIL_AT_PROPERTY = "ember.test.failStageTaskAt";

  private static final long POLL_MILLIS = 100;

  private StageTask() {}

  static Iterator<Integer> run(
      TrainingConfig config,
      String endpoint,
      int epoch,
      int steps,
      long timeoutMillis,
      StageReduce reduce,
      Iterator<PartitionData> partitionData) {
    // The task's rows in off-heap Arrow columns for the whole epoch: those an earlier epoch's task
    // kept on this executor, or a new copy; kept for the next epoch (freed when the fit ends).
    PartitionData data = partitionData.next().arrowFed(config.runKey());
    TaskContext task = TaskContext.get();
    int partition = task.partitionId();
    int attempt = task.stageAttemptNumber();
    Function<byte[], CompletableFuture<byte[]>> driver = channel(endpoint, timeoutMillis);
    // In the driver's JVM, a task that applies the steps hands its update over and takes the step
    // as objects (no message encoded or read); null elsewhere.
    Function<StepExchange.LocalSubmit, CompletableFuture<StepExchange.Published>> local =
        reduce == StageReduce.DRIVER ? LocalStages.stepChannel(endpoint) : null;
    StageMessages.Resume resume =
        StageWire.decode(
            await(
                task,
                driver.apply(StageWire.encode(new StageMessages.Register(partition, attempt))),
                timeoutMillis,
                "registration"),
            StageMessages.Resume.class);
    // Created before the replica, so that its cleanup listener is registered even if that fails.
    BlockAllReduce reducer =
        reduce == StageReduce.TASKS ? BlockAllReduce.forTask(config.runKey(), timeoutMillis) : null;
    // The task keeps one replica and the epoch's row order for all its steps: each step loads
    // the driver's reply into the replica and computes from there, as a round's task would.
    PartitionTrainer.withReplica(
        config,
        (engine, model) -> {
          RoundWeights weights = resume.weights();
          UpdateChunks weightChunks =
              new UpdateChunks(
                  weights.values().length, weights.buffers().length, task.numPartitions());
          float[] myWeights = new float[weightChunks.size(partition)];
          PartitionTrainer.load(model, weights);
          // Replicated steps: the task applies each step the driver combines, from the driver's
          // optimizer state and with the driver's code (Steps.apply), rather than load new weights.
          StepReplica replica =
              resume.optimizer() == null
                  ? null
                  : new StepReplica(config, model, weights, resume.optimizer());
          try {
            int[] order = PartitionTrainer.epochOrder(config, epoch, partition, data);
            byte[] message = null;
            // The update's array, reused step after step: encoded into the message at once, or
            // read by the driver's sum (in-process) before the reply that starts the next step.
            float[] updateValues = null;
            long compute = 0;
            long encode = 0;
            long wait = 0;
            long load = 0;
            long done = 0;
            for (int step = resume.step(); step < steps; step++) {
              long t0 = System.nanoTime();
              Update update;
              // one scope per step, as a round's task has: what the step allocates is freed here
              try (MemoryScope scope = MemoryScope.open()) {
                update =
                    PartitionTrainer.trainLoaded(
                        config,
                        engine,
                        model,
                        weights,
                        data,
                        order,
                        partition,
                        epoch,
                        step,
                        (long) epoch * steps + step,
                        updateValues);
                if (reducer == null) { // the tasks' reduce keeps blocks of it for its peers
                  updateValues = update.values();
                }
              }
              failIfAsked(task, partition, epoch, step);
              long t1 = System.nanoTime();
              compute += t1 - t0;
              StageMessages.TaskTimes times =
                  new StageMessages.TaskTimes(done + 1, compute, encode, wait, load);
              if (replica != null && local != null) {
                // The update is read by the driver's sum before the reply comes.
                StepExchange.Published next =
                    await(
                        task,
                        local.apply(
                            new StepExchange.LocalSubmit(partition, attempt, step, times, update)),
                        timeoutMillis,
                        "step " + step);
                long t3 = System.nanoTime();
                wait += t3 - t1;
                if (step + 1 < steps) {
                  if (next.appliedTo() != null) {
                    replica.copy(next.appliedTo()); // the driver applied it: the same bits
                  } else {
                    weights = replica.apply(next.step(), (long) epoch * steps + step);
                  }
                }
                load += System.nanoTime() - t3;
                done++;
                continue;
              }
              // Safe to reuse: Spark has serialized (remote) or the endpoint has decoded (local)
              // the previous step's message before its reply arrived.
              if (reducer == null) {
                message =
                    StageWire.encodeSubmit(
                        new StageMessages.Submit(partition, attempt, step, update, times), message);
              } else {
                BlockAllReduce.Shard shard = reducer.reduceScatter(step, update);
                message =
                    StageWire.encodeShard(
                        new StageMessages.Shard(
                            partition,
                            attempt,
                            step,
                            update.values().length,
                            update.buffers().length,
                            shard.sum(),
                            times),
                        message);
              }
              long t2 = System.nanoTime();
              encode += t2 - t1;
              byte[] reply = await(task, driver.apply(message), timeoutMillis, "step " + step);
              long t3 = System.nanoTime();
              wait += t3 - t2;
              if (step + 1 < steps) {
                if (replica != null) {
                  weights = replica.apply(reply, (long) epoch * steps + step);
                } else if (reducer == null) {
                  weights = StageWire.decodeWeights(reply, weights);
                } else {
                  StageWire.decodeWeightsChunk(reply, weightChunks.start(partition), myWeights);
                  reducer.allGatherInto(
                      step, "weights", myWeights, weights.values(), weights.buffers());
                }
                if (replica == null) {
                  PartitionTrainer.load(model, weights);
                }
              }
              load += System.nanoTime() - t3;
              done++;
            }
          } finally {
            if (replica != null) {
              replica.close();
            }
          }
          return null;
        });
    if (reducer != null) {
      reducer.close(); // a barrier: the last exchange's blocks are read, then removed
    }
    return Collections.emptyIterator();
  }

  /**
   * A task's copy of the driver's optimizer, which applies each combined step the driver sends to
   * the task's replica exactly as the driver applies it to its own model.
   */
  private static final class StepReplica implements AutoCloseable {
    private final Module model;
    private final Optimizer optimizer;
    private final LrSchedule schedule;
    private RoundWeights weights;
    private float[] values;
    private float[] buffers;

    StepReplica(
        TrainingConfig config,
        Module model,
        RoundWeights weights,
        StageMessages.OptimizerState state) {
      this.model = model;
      this.weights = weights;
      this.optimizer = Optimizers.create(config, model);
      this.schedule = config.schedule();
      try {
        state.loadInto(optimizer);
      } catch (RuntimeException e) {
        optimizer.close();
        throw e;
      }
    }

    /**
     * Applies the step in {@code reply}, the fit's global step {@code globalStep} (which sets its
     * learning rate, as on the driver); returns the weights the next step starts from.
     */
    RoundWeights apply(byte[] reply, long globalStep) {
      Step step = StageWire.decodeStep(reply, values, buffers);
      values = step.values();
      buffers = step.buffers();
      return applyOwned(step, globalStep);
    }

    /**
     * {@link #apply(byte[], long)} of a step shared with the driver and the other tasks in this
     * JVM: read only, so copied first where the step would be changed (zeroing frozen slots).
     */
    RoundWeights apply(Step shared, long globalStep) {
      Step step = shared;
      if (FrozenParameters.flatRanges(model).length > 0) {
        step =
            new Step(
                shared.kind(),
                shared.values().clone(),
                shared.buffers() == null ? null : shared.buffers().clone());
      }
      return applyOwned(step, globalStep);
    }

    /**
     * Copies the weights and buffers of {@code driver}, the driver's model in this JVM, which has
     * just applied a gradient step (read only: nothing writes it before this task's next update).
     * The replica's own optimizer state is left behind; it is not used again in this stage.
     */
    void copy(Module driver) {
      try (MemoryScope scope = MemoryScope.open()) {
        model.flatParameters().values().copyFrom(driver.flatParameters().values());
      }
      float[] b = ModuleBuffers.read(driver);
      if (b.length > 0) {
        ModuleBuffers.write(model, b);
      }
    }

    private RoundWeights applyOwned(Step step, long globalStep) {
      if (step.kind() == Step.Kind.DELTA) {
        // local steps moved the replica: a delta applies to the weights the step started from
        PartitionTrainer.load(model, weights);
      }
      Steps.apply(model, optimizer, step, schedule, globalStep);
      if (step.kind() == Step.Kind.DELTA) {
        weights =
            new RoundWeights(
                model.flatParameters().values().toFloatArray(), ModuleBuffers.read(model));
      }
      return weights;
    }

    @Override
    public void close() {
      optimizer.close();
    }
  }

  /**
   * How this task's messages reach the driver's exchange: directly when the driver is in this JVM
   * ({@link LocalStages}), else through its RPC endpoint.
   */
  private static Function<byte[], CompletableFuture<byte[]>> channel(
      String endpoint, long timeoutMillis) {
    Function<byte[], CompletableFuture<byte[]>> local = LocalStages.channel(endpoint);
    if (local != null) {
      return local;
    }
    RpcEndpointRef driver = SparkInternals.driverEndpoint(endpoint);
    // The RPC layer's own timeout is a little later, so that await's message is the one seen.
    return message -> SparkInternals.ask(driver, message, byte[].class, timeoutMillis + 10_000);
  }

  /** The driver's reply, waited for at most {@code timeoutMillis}, checking for a kill. */
  private static <T> T await(
      TaskContext task, CompletableFuture<T> reply, long timeoutMillis, String what) {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
    while (true) {
      task.killTaskIfInterrupted();
      try {
        return reply.get(POLL_MILLIS, TimeUnit.MILLISECONDS);
      } catch (TimeoutException e) {
        if (System.nanoTime() > deadline) {
          reply.cancel(true);
          throw new IllegalStateException(
              "training stage: partition "
                  + task.partitionId()
                  + " got no reply from the driver to its "
                  + what
                  + " within "
                  + timeoutMillis / 1000
                  + " s ("
                  + StageTraining.TIMEOUT_CONF
                  + "); a peer task or the driver is stuck or gone");
        }
      } catch (ExecutionException e) {
        throw new IllegalStateException(
            "training stage: the driver refused partition "
                + task.partitionId()
                + "'s "
                + what
                + ": "
                + e.getCause().getMessage(),
            e.getCause());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        task.killTaskIfInterrupted();
        throw new IllegalStateException("training stage task interrupted", e);
      }
    }
  }

  private static void failIfAsked(TaskContext task, int partition, int epoch, int step) {
    String at = task.getLocalProperty(FAIL_AT_PROPERTY);
    String here = partition + ":" + epoch + ":" + step;
    if (at != null
        && (at.equals(here + ":*") || (at.equals(here) && task.stageAttemptNumber() == 0))) {
      throw new IllegalStateException(
          "injected failure of partition " + partition + " at epoch " + epoch + " step " + step);
    }
  }
}
