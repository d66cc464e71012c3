package org.emberdl.spark.internal.stage;

import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.regex.Pattern;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.TaskContext;
import org.apache.spark.storage.BlockId;
import org.apache.spark.util.TaskCompletionListener;
import org.emberdl.federated.Update;
import org.emberdl.spark.internal.data.SparkBlocks;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A reduce-scatter and an all-gather among the tasks of one barrier stage attempt, over Spark's
 * block manager ({@link SparkBlocks}), so that a step's update is summed among the executors and
 * the driver need see only the sum.
 *
 * <p>Per step, task {@code p} of {@code P} cuts its update into {@code P} chunks ({@link
 * UpdateChunks}) and puts chunk {@code j} as a block for task {@code j} (reduce-scatter); it reads
 * chunk {@code p} of every peer's update and sums the {@code P} contributions in partition order,
 * exactly as {@code Coordinator.sum} does, so chunk {@code p} of the sum is bit-identical to the
 * driver's. Optionally it then puts that chunk of the sum and reads the others (all-gather). Each
 * task sends and receives {@code 2 G (P-1)/P} bytes per step for an update of {@code G} bytes,
 * whatever {@code P} is.
 *
 * <p>Finding peers: a block is found by its id alone, through the block manager master on the
 * driver, which the putting task tells where the block is; a task needs neither its peers'
 * addresses ({@code BarrierTaskContext.getTaskInfos()} gives the executors' RPC addresses, not the
 * block manager ids a direct fetch needs) nor any exchange before the first step. On a cluster the
 * cost is small RPCs to the driver (a location report per put and per removal, a lookup per poll of
 * a missing block: about {@code 4 (P-1)} per task per all-reduce, carrying ids, not data), so the
 * driver handles {@code O(P^2)} tiny messages per step; the data never passes through it. In local
 * mode every task shares the driver's block manager, reads locally and never asks the master.
 *
 * <p>Waits: a task waiting for a peer's block looks for it again whenever a block is put in its own
 * JVM (tasks sharing a block manager wake each other at once) and otherwise polls, backing off from
 * 2 microseconds to 2 ms on a cluster (a poll is a lookup at the driver) and to 100 ms in local
 * mode (where every put wakes it). Every round checks {@link TaskContext#killTaskIfInterrupted()}
 * (Spark kills the stage's other tasks when one fails), and the wait gives up after {@code
 * spark.ember.stageTimeout} with an error that names the partitions, the step and the chunk.
 *
 * <p>Cleanup: every block is removed by the task that put it, as soon as every peer must have read
 * it. Tasks go through the exchanges (reduce-scatter or all-gather of a step) in the same order,
 * and a peer puts its block of an exchange only after finishing its reads of the previous one; so
 * when a task has read every peer's block of exchange {@code k}, all its own blocks of exchanges
 * before {@code k} have been read, and it removes them. {@link #close} removes the last exchange's
 * blocks after a {@link BarrierTaskContext#barrier()}; a task that fails or is killed removes its
 * blocks from a task completion listener, and blocks on a lost executor go with it. Block ids carry
 * the stage id and attempt number, so a retried attempt never reads a failed attempt's blocks.
 *
 * <p>Not thread safe: one instance per task, used from the task's thread.
 */
public final class BlockAllReduce implements AutoCloseable {
  /** Every block name starts with {@code "test_" + PREFIX + runKey + "-"}. */
  static final String PREFIX = "ember-allreduce-";

  private static final Logger LOG = LoggerFactory.getLogger(BlockAllReduce.class);
  private static final Pattern KEY = Pattern.compile("[A-Za-z0-9._-]+");
  private static final Pattern PHASE = Pattern.compile("[a-z]+");
  private static final long MIN_POLL_NANOS = 2_000;

  /**
   * In local mode a put wakes the waiters of this JVM ({@link #ARRIVALS}); the timed wait only
   * bounds how late a kill is seen. On a cluster a poll is a lookup RPC to the driver per missing
   * block, backed off to this.
   */
  private static final long MAX_LOCAL_POLL_NANOS = 100_000_000;

  private static final long MAX_REMOTE_POLL_NANOS = 2_000_000;

  /**
   * Counts the blocks put in this JVM and wakes the tasks waiting for one, so that tasks sharing a
   * block manager (local mode, or an executor with several cores) hand over without polling delay.
   */
  private static final Object ARRIVALS = new Object();

  private static long arrivals; // guarded by ARRIVALS

  private final TaskContext task;
  private final String blockPrefix;
  private final int partition;
  private final int partitions;
  private final long timeoutMillis;
  private final boolean remote;
  private final long maxPollNanos;
  private final ArrayDeque<Own> own = new ArrayDeque<>();
  private final Set<String> phasesThisStep = new HashSet<>();
  private int exchange;
  private int step = -1;
  private boolean closed;

  private record Own(BlockId id, int exchange) {}

  /** The sum's chunk that this task formed in a reduce-scatter, and where it lies. */
  record Shard(int partition, int from, UpdateChunks.Summed sum) implements Serializable {}

  /**
   * An all-reduce for the current task, which must be one of a barrier stage's tasks (one per
   * partition).
   *
   * @param runKey names the fit (letters, digits, '.', '_', '-'; {@code TrainingConfig.runKey()},
   *     {@code "fit-" + UUID}, fits); the driver may remove leftovers with {@link
   *     #removeLeftovers}, which also matches run keys that extend this one with '-'
   * @param timeoutMillis the longest wait for one peer's block ({@code spark.ember.stageTimeout})
   */
  static BlockAllReduce forTask(String runKey, long timeoutMillis) {
    TaskContext task = TaskContext.get();
    if (task == null) {
      throw new IllegalStateException(
          "BlockAllReduce runs inside a Spark task; there is none here");
    }
    return new BlockAllReduce(task, runKey, timeoutMillis);
  }

  BlockAllReduce(TaskContext task, String runKey, long timeoutMillis) {
    if (!KEY.matcher(runKey).matches()) {
      throw new IllegalArgumentException(
          "run key '" + runKey + "' must be letters, digits, '.', '_' or '-'");
    }
    if (timeoutMillis <= 0) {
      throw new IllegalArgumentException("timeout must be > 0 ms, got " + timeoutMillis);
    }
    this.task = task;
    this.partition = task.partitionId();
    this.partitions = task.numPartitions();
    if (partitions > 1 && !(task instanceof BarrierTaskContext)) {
      throw new IllegalStateException(
          "BlockAllReduce needs a barrier stage (RDD.barrier()), so that all "
              + partitions
              + " tasks run at once; partition "
              + partition
              + " runs in an ordinary task");
    }
    this.blockPrefix =
        PREFIX
            + runKey
            + "-st"
            + task.stageId()
            + "."
            + task.stageAttemptNumber()
            + "-"; // a retried attempt never sees a failed attempt's blocks
    this.timeoutMillis = timeoutMillis;
    this.remote = !SparkBlocks.onDriver();
    this.maxPollNanos = remote ? MAX_REMOTE_POLL_NANOS : MAX_LOCAL_POLL_NANOS;
    task.addTaskCompletionListener((TaskCompletionListener) ctx -> removeOwn(Integer.MAX_VALUE));
  }

  /** The block name prefix of the fit {@code runKey}, for {@link SparkBlocks#names}. */
  static String prefix(String runKey) {
    return PREFIX + runKey + "-";
  }

  /**
   * On the driver after a stage: removes any block of the fit {@code runKey} still held anywhere
   * (none after a stage that ended normally); returns how many there were.
   */
  static int removeLeftovers(String runKey) {
    int n = SparkBlocks.removeAll(prefix(runKey));
    if (n > 0) {
      LOG.warn("removed {} all-reduce block(s) of {} left behind by a failed stage", n, runKey);
    }
    return n;
  }

  /**
   * The sum over all partitions of their {@code update}s for {@code step}, on every task,
   * bit-identical to {@code Coordinator.sum} of the updates in partition order (its {@link
   * Update#partitions()} is 1: {@code Update} has no way to set the count).
   */
  Update allReduce(int step, Update update) {
    UpdateChunks chunks = chunks(update);
    Shard shard = reduceScatter(step, update);
    float[] values = new float[update.values().length];
    float[] buffers = new float[update.buffers().length];
    gatherInto(step, "sum", chunks, shard.sum().floats(), values, buffers);
    UpdateChunks.Summed s = shard.sum();
    return new Update(values, buffers, s.examples(), s.lossSum(), s.correct());
  }

  /**
   * This partition's chunk of the sum over all partitions of their {@code update}s for {@code step}
   * (the chunk's floats are those of the values-then-buffers vector from {@link Shard#from()}),
   * with the scalars (examples, loss sum, correct) of the whole sum, which every task gets.
   */
  Shard reduceScatter(int step, Update update) {
    UpdateChunks chunks = chunks(update);
    begin(step, "rs");
    for (int j = 0; j < partitions; j++) {
      if (j != partition) {
        put(name(step, "rs", partition, j), chunks.encode(update, j));
      }
    }
    int expected = chunks.size(partition);
    UpdateChunks.Chunk[] parts =
        gather(
            step,
            "rs",
            q -> name(step, "rs", q, partition),
            (bytes, source, what) -> UpdateChunks.decode(bytes, expected, what),
            UpdateChunks.Chunk.own(chunks, update, partition),
            new UpdateChunks.Chunk[partitions]);
    return new Shard(partition, chunks.start(partition), UpdateChunks.sum(parts));
  }

  /**
   * The vector of {@code length} floats whose chunk {@code q} (as {@link UpdateChunks} cuts {@code
   * length} floats into one chunk per partition) is partition {@code q}'s {@code mine}: after a
   * {@link #reduceScatter}, the whole sum; after the driver sent each task its chunk of the new
   * weights, the whole weights.
   *
   * @param phase names the exchange in block ids (lower-case letters), one use per step
   */
  float[] allGather(int step, String phase, int length, float[] mine) {
    if (!PHASE.matcher(phase).matches() || phase.equals("rs")) {
      throw new IllegalArgumentException(
          "phase '" + phase + "' must be lower-case letters, not rs");
    }
    float[] out = new float[length];
    gatherInto(step, phase, new UpdateChunks(length, 0, partitions), mine, out, new float[0]);
    return out;
  }

  /**
   * {@link #allGather} into {@code values} followed by {@code buffers} (cut into chunks as {@code
   * new UpdateChunks(values.length, buffers.length, P)} cuts them), without allocating: what a task
   * of a training stage with {@code spark.ember.stageReduce=tasks} does with its chunk of the new
   * weights, into its replica's weights.
   */
  void allGatherInto(int step, String phase, float[] mine, float[] values, float[] buffers) {
    if (!PHASE.matcher(phase).matches() || phase.equals("rs")) {
      throw new IllegalArgumentException(
          "phase '" + phase + "' must be lower-case letters, not rs");
    }
    gatherInto(
        step,
        phase,
        new UpdateChunks(values.length, buffers.length, partitions),
        mine,
        values,
        buffers);
  }

  private void gatherInto(
      int step, String phase, UpdateChunks chunks, float[] mine, float[] values, float[] buffers) {
    if (mine.length != chunks.size(partition)) {
      throw new IllegalArgumentException(
          "partition "
              + partition
              + "'s chunk of "
              + chunks.length()
              + " floats over "
              + partitions
              + " partitions has "
              + chunks.size(partition)
              + " floats, got "
              + mine.length);
    }
    begin(step, phase);
    if (partitions > 1) {
      put(name(step, phase, partition, partition), UpdateChunks.encodeFloats(mine));
    }
    FloatBuffer[] parts =
        gather(
            step,
            phase,
            q -> name(step, phase, q, q),
            (bytes, source, what) -> UpdateChunks.decodeFloats(bytes, chunks.size(source), what),
            FloatBuffer.wrap(mine),
            new FloatBuffer[partitions]);
    for (int q = 0; q < partitions; q++) {
      chunks.place(parts[q], q, values, buffers);
    }
  }

  private UpdateChunks chunks(Update update) {
    return new UpdateChunks(update.values().length, update.buffers().length, partitions);
  }

  /**
   * Waits for every peer's block of the last exchange to have been read, then removes this task's
   * remaining blocks. Call it once, after the last step, from every task of the stage (it is a
   * barrier: a task that skips it leaves its peers waiting).
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (partitions > 1 && !own.isEmpty()) {
      ((BarrierTaskContext) task).barrier();
    }
    removeOwn(Integer.MAX_VALUE);
  }

  // ---------------------------------------------------------------------------------------------

  private interface Decoder<T> {
    T decode(ByteBuffer bytes, int source, String what);
  }

  /** Opens an exchange: steps only go forward, and each phase is used once per step. */
  private void begin(int step, String phase) {
    if (closed) {
      throw new IllegalStateException("all-reduce of partition " + partition + " is closed");
    }
    if (step < this.step) {
      throw new IllegalArgumentException(
          "step " + step + " after step " + this.step + " (steps only go forward)");
    }
    if (step > this.step) {
      this.step = step;
      phasesThisStep.clear();
    }
    if (!phasesThisStep.add(phase)) {
      throw new IllegalArgumentException(
          "exchange '" + phase + "' used twice in step " + step + " by partition " + partition);
    }
  }

  private BlockId name(int step, String phase, int source, int chunk) {
    return SparkBlocks.id(blockPrefix + "s" + step + "-" + phase + "-p" + source + "-c" + chunk);
  }

  private void put(BlockId id, ByteBuffer bytes) {
    SparkBlocks.put(id, bytes, remote);
    own.addLast(new Own(id, exchange));
    synchronized (ARRIVALS) {
      arrivals++;
      ARRIVALS.notifyAll();
    }
  }

  /**
   * Every peer's block of this exchange, decoded, with {@code mine} in this partition's slot; then
   * removes this task's blocks of earlier exchanges (every peer has read them, see the class doc).
   */
  private <T> T[] gather(
      int step,
      String phase,
      Function<Integer, BlockId> blockOf,
      Decoder<T> decoder,
      T mine,
      T[] out) {
    out[partition] = mine;
    int missing = partitions - 1;
    long start = System.nanoTime();
    long deadline = start + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
    long pause = MIN_POLL_NANOS;
    while (missing > 0) {
      task.killTaskIfInterrupted();
      long seen = arrivalsNow();
      boolean progress = false;
      for (int q = 0; q < partitions; q++) {
        if (out[q] == null) {
          int source = q;
          T got =
              SparkBlocks.read(
                  blockOf.apply(q),
                  remote,
                  bytes -> decoder.decode(bytes, source, describe(step, phase, source)));
          if (got != null) {
            out[q] = got;
            missing--;
            progress = true;
          }
        }
      }
      if (missing == 0) {
        break;
      }
      if (progress) {
        pause = MIN_POLL_NANOS;
        continue;
      }
      if (System.nanoTime() > deadline) {
        throw timedOut(step, phase, out);
      }
      awaitArrival(seen, Math.min(pause, deadline - System.nanoTime()));
      pause = Math.min(2 * pause, maxPollNanos);
    }
    removeOwn(exchange);
    exchange++;
    return out;
  }

  private static long arrivalsNow() {
    synchronized (ARRIVALS) {
      return arrivals;
    }
  }

  /** Waits up to {@code nanos} for a block to be put in this JVM after {@code seen} were. */
  private void awaitArrival(long seen, long nanos) {
    long until = System.nanoTime() + nanos;
    synchronized (ARRIVALS) {
      long left;
      while (arrivals == seen && (left = until - System.nanoTime()) > 0) {
        try {
          TimeUnit.NANOSECONDS.timedWait(ARRIVALS, left);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          task.killTaskIfInterrupted();
          throw new IllegalStateException(
              "all-reduce of partition " + partition + " interrupted while waiting for a peer", e);
        }
      }
    }
  }

  private String describe(int step, String phase, int source) {
    int chunk = phase.equals("rs") ? partition : source;
    return "partition "
        + source
        + "'s block for chunk "
        + chunk
        + " of step "
        + step
        + " ("
        + (phase.equals("rs") ? "reduce-scatter" : "all-gather '" + phase + "'")
        + ")";
  }

  private IllegalStateException timedOut(int step, String phase, Object[] got) {
    List<Integer> missing = new ArrayList<>();
    for (int q = 0; q < got.length; q++) {
      if (got[q] == null) {
        missing.add(q);
      }
    }
    return new IllegalStateException(
        "training stage: partition "
            + partition
            + " waited "
            + timeoutMillis / 1000.0
            + " s for "
            + (phase.equals("rs")
                ? "chunk " + partition + " of step " + step + " (reduce-scatter) from partition(s) "
                : "chunk(s) "
                    + missing
                    + " of step "
                    + step
                    + " (all-gather '"
                    + phase
                    + "') from partition(s) ")
            + missing
            + " ("
            + StageTraining.TIMEOUT_CONF
            + "); their tasks are stuck or gone");
  }

  /** Removes this task's blocks of exchanges before {@code before}. */
  private void removeOwn(int before) {
    while (!own.isEmpty() && own.peekFirst().exchange() < before) {
      BlockId id = own.pollFirst().id();
      try {
        SparkBlocks.remove(id, remote);
      } catch (RuntimeException e) { // cleanup must not hide the task's own failure
        LOG.warn("could not remove all-reduce block {}: {}", id.name(), e.toString());
      }
    }
  }
}
