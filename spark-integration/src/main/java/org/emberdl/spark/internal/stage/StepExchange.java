package org.emberdl.spark.internal.stage;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;
import org.emberdl.federated.Aggregator;
import org.emberdl.federated.Step;
import org.emberdl.federated.Update;
import org.emberdl.nn.Module;
import org.emberdl.spark.internal.local.RoundWeights;
import org.emberdl.spark.internal.plan.StageReduce;
import org.emberdl.spark.internal.train.Coordinator;
import org.emberdl.spark.internal.train.RoundExecutor;

/**
 * The driver's state of one epoch's training stage, shared by the threads that hand in the tasks'
 * messages (Spark's RPC dispatcher, or the tasks themselves in the driver's JVM: {@link
 * LocalStages}) and the driver's training thread (which waits for each step and applies it, or
 * publishes the weights after it). Every method holds the lock briefly and none waits for a peer on
 * a messenger's thread: a task's {@code Submit} is answered later, from {@link #publishStep} or
 * {@link #publish}, through its saved {@link StageReply}.
 *
 * <p>Retries: when a barrier task fails, Spark kills the stage's other tasks and runs the stage
 * again with a higher attempt number. The new attempt's tasks register, learn the first step the
 * driver has not applied and the weights before it, and recompute from there; the updates of that
 * step already received from the failed attempt are dropped (unless the driver already holds all of
 * them), and the failed attempt's waiting tasks are told to stop. A step's update depends only on
 * the weights, the seed, the epoch, the step and the partition, so the retried run reaches the
 * undisturbed run's weights bit for bit.
 *
 * <p>The sum: each update is added into the step's total as soon as the updates of all lower
 * partitions are in, straight from the task's message bytes ({@link StageWire#submitHead}), on the
 * dispatcher thread while slower tasks still compute. The total is {@code Update.zero} plus each
 * partition's update with {@link Update#add}, in partition order: the same code and order as {@link
 * Coordinator#sum}, so the same bits as the rounds path. A message's bytes are held until they are
 * added; a task reuses its send buffer only after its reply, which comes after the step's sum.
 *
 * <p>With {@code spark.ember.stageReduce=tasks} ({@link StageReduce#TASKS}) the tasks have summed
 * among themselves: each sends its {@code 1/P} chunk of the sum ({@link StageMessages.Shard}), the
 * step's total is {@link UpdateChunks#assemble} of the chunks (placed, not added: the same bits),
 * and each task's reply is its chunk of the new weights, which the tasks all-gather.
 *
 * <p>Registration: a task that registers while the driver applies a step (after {@link #awaitStep}
 * handed it over, before {@link #publish}) is answered from {@code publish}, with the step after
 * it. So every task of an attempt resumes at the same step, which the tasks' reduce-scatter needs
 * (its blocks are per step), and none recomputes a step whose result is on its way.
 */
public final class StepExchange {
  private record Waiter(int partition, int stageAttempt, StageReply context) {}

  /**
   * A task's update for one step handed over in the driver's JVM ({@link LocalStages}): the update
   * itself instead of its message bytes. The exchange only reads it, and the task leaves it alone
   * until its reply, which comes after the step's sum.
   */
  record LocalSubmit(
      int partition, int stageAttempt, int step, StageMessages.TaskTimes times, Update update) {}

  /**
   * A replicated step as a task of the driver's JVM gets it: the step, and the driver's model when
   * the driver has already applied the step to it (then the task copies its weights instead of
   * applying the step; read only), else null.
   */
  record Published(Step step, Module appliedTo) {}

  private final int partitions;
  private final StageReduce reduce;

  /** How the weights are cut into the chunks each task gets in tasks mode. */
  private final UpdateChunks weightChunks;

  /** Tasks mode: the current step's chunks of the sum, by partition; the update's buffer count. */
  private UpdateChunks.Summed[] shards;

  private int shardBuffers;

  /** Tasks mode: each partition's reply of the last step, and of the one before (reused). */
  private byte[][] chunkBytes;

  private byte[][] spareChunks;

  /** Bytes of the steps' messages the driver received and sent, for the epoch's log. */
  private long bytesIn;

  private long bytesOut;
  private final StagePhases phases;
  private int completed;
  private RoundWeights weights;

  /**
   * Replicated steps ({@link #publishStep}): where a registering task resumes, built on the
   * training thread (which owns the model and the optimizer) for the given step; null when the
   * driver publishes weights ({@link #publish}).
   */
  private final IntFunction<StageMessages.Resume> resumeAt;

  /**
   * The last reply's bytes (the weights, or the step the tasks apply): the answer to a late submit
   * of the step before.
   */
  private byte[] weightsBytes;

  /** The reply's bytes of the step before the last: the array the next reply is written into. */
  private byte[] spareBytes;

  /**
   * Replicated steps: the last step published, the answer to a late submit of the step before (as
   * the object, or encoded when the late task is remote and no reply was encoded).
   */
  private Step lastStep;

  /**
   * The current step's updates that arrived and are not summed yet, by partition: a message's
   * {@link StageWire.SubmitHead}, or an in-process {@link Update}.
   */
  private Object[] pending;

  private boolean[] arrived;
  private int received;

  /** Partitions {@code 0..summed-1} are in {@link #total}. */
  private int summed;

  private Update total;
  private float[] scratchValues = new float[0];
  private float[] scratchBuffers = new float[0];
  private boolean handedOver;

  /** Lent by the training thread while it waits in {@link #awaitCombined}; else null. */
  private Aggregator combiner;

  /** Lent with {@link #combiner}: the driver's step, taken here for tasks of this JVM; or null. */
  private RoundExecutor.DriverStep driverStep;

  /** Whether {@link #combinedStep} was applied to the driver's state here. */
  private boolean combinedApplied;

  /** The driver's model when {@link #lastStep} was applied to it before its publication. */
  private Module lastAppliedTo;

  /** The last step combined and published, until the training thread takes it. */
  private Update combinedTotal;

  private Step combinedStep;
  private RuntimeException combineFailure;
  private int stageAttempt;
  private final List<Waiter> waiters = new ArrayList<>();

  /** Registrations that arrived while a step was handed over, answered from {@link #publish}. */
  private final List<Waiter> registrations = new ArrayList<>();

  public StepExchange(int partitions, RoundWeights initial) {
    this(partitions, initial, new StagePhases(partitions));
  }

  StepExchange(int partitions, RoundWeights initial, StagePhases phases) {
    this(partitions, initial, phases, StageReduce.DRIVER);
  }

  StepExchange(int partitions, RoundWeights initial, StagePhases phases, StageReduce reduce) {
    this(partitions, initial, phases, reduce, null);
  }

  /**
   * @param resumeAt non-null: the tasks apply each step to their replicas ({@link #publishStep}),
   *     and a registering task is answered, on the training thread, with this function's state at
   *     the step it resumes from
   */
  StepExchange(
      int partitions,
      RoundWeights initial,
      StagePhases phases,
      StageReduce reduce,
      IntFunction<StageMessages.Resume> resumeAt) {
    this.resumeAt = resumeAt;
    this.partitions = partitions;
    this.phases = phases;
    this.weights = initial;
    this.reduce = reduce;
    this.weightChunks =
        new UpdateChunks(initial.values().length, initial.buffers().length, partitions);
    this.chunkBytes = new byte[partitions][];
    this.spareChunks = new byte[partitions][];
    openStep();
  }

  private void openStep() {
    pending = new Object[partitions];
    arrived = new boolean[partitions];
    received = 0;
    summed = 0;
    total = null;
    shards = new UpdateChunks.Summed[partitions];
    handedOver = false;
  }

  /**
   * A task of {@code attempt} starts: {@code context} is answered with where it resumes ({@link
   * StageMessages.Resume}), now, or from {@link #publish} when the driver is applying a step.
   */
  synchronized void register(int partition, int attempt, StageReply context) {
    checkPartition(partition);
    supersede(attempt);
    if (attempt < stageAttempt) {
      context.fail(superseded(attempt));
    } else if (resumeAt != null) {
      // answered by the training thread, which owns the state: in awaitStep or applied
      registrations.add(new Waiter(partition, attempt, context));
      notifyAll();
    } else if (handedOver) {
      registrations.add(new Waiter(partition, attempt, context));
    } else {
      context.reply(StageWire.encode(new StageMessages.Resume(completed, weights)));
    }
  }

  /** {@link #submit(StageWire.SubmitHead, StageReply)} of a decoded message (tests). */
  void submit(StageMessages.Submit s, StageReply context) {
    submit(StageWire.submitHead(StageWire.encode(s)), context);
  }

  /** A task's update; {@code context} is answered by {@link #publish} or now with a failure. */
  synchronized void submit(StageWire.SubmitHead s, StageReply context) {
    accept(
        s.partition(),
        s.stageAttempt(),
        s.step(),
        s.values(),
        s.buffers(),
        s.times(),
        s.bytes().length,
        s,
        context);
  }

  /**
   * A task's update handed over in the driver's JVM; {@code context} is answered as for a message
   * ({@link #submit(StageWire.SubmitHead, StageReply)}), with the step object where it takes one.
   */
  synchronized void submit(LocalSubmit s, StageReply context) {
    Update u = s.update();
    accept(
        s.partition(),
        s.stageAttempt(),
        s.step(),
        u.values().length,
        u.buffers().length,
        s.times(),
        0,
        u,
        context);
  }

  /**
   * The checks and bookkeeping of an update, whichever way it came: {@code payload} is its {@link
   * StageWire.SubmitHead} or its {@link Update}; {@code size}: its message's bytes (0 in-process).
   */
  private void accept(
      int partition,
      int attempt,
      int step,
      int values,
      int buffers,
      StageMessages.TaskTimes times,
      int size,
      Object payload,
      StageReply context) {
    checkPartition(partition);
    supersede(attempt);
    if (attempt < stageAttempt) {
      context.fail(superseded(attempt));
      return;
    }
    if (reduce != StageReduce.DRIVER) {
      context.fail(
          new IllegalStateException(
              "training stage: partition "
                  + partition
                  + " sent its whole update, but the driver expects chunks of the sum ("
                  + StageReduce.CONF
                  + "="
                  + reduce.paramValue()
                  + ")"));
      return;
    }
    if (step == completed - 1 && (weightsBytes != null || lastStep != null)) {
      // A task of this attempt that resumed at step s and submitted after its publish (before
      // registrations were deferred during a hand-over, this was how a retry resumed): the current
      // weights are that step's result, exactly what its peers were sent.
      replyLast(context);
      return;
    }
    if (step != completed) {
      context.fail(
          new IllegalStateException(
              "training stage: partition "
                  + partition
                  + " sent step "
                  + step
                  + " while the driver is at step "
                  + completed));
      return;
    }
    if (values != weights.values().length) {
      context.fail(
          new IllegalStateException(
              "training stage: partition "
                  + partition
                  + " sent an update of "
                  + values
                  + " values for step "
                  + step
                  + ", the model has "
                  + weights.values().length
                  + " parameters"));
      return;
    }
    if (!arrived[partition]) {
      if (total != null && buffers != total.buffers().length) {
        context.fail(
            new IllegalStateException(
                "training stage: partition "
                    + partition
                    + " sent "
                    + buffers
                    + " buffer values for step "
                    + step
                    + ", the other partitions "
                    + total.buffers().length));
        return;
      }
      arrived[partition] = true;
      pending[partition] = payload;
      received++;
      bytesIn += size;
      phases.arrived(partition, times, System.nanoTime());
      addInOrder();
    }
    waiters.add(new Waiter(partition, attempt, context));
    if (received == partitions) {
      if (combiner != null) {
        combineAndPublish(); // on this thread: the training thread need not wake first
      }
      notifyAll();
    }
  }

  /** Whether a task waiting for the current step is in the driver's JVM (lock held). */
  private boolean anyWaiterTakesSteps() {
    for (Waiter w : waiters) {
      if (w.context().takesSteps()) {
        return true;
      }
    }
    return false;
  }

  /** Answers a late submit of the step before with what its peers got (lock held). */
  private void replyLast(StageReply context) {
    if (lastStep != null && context.takesSteps()) {
      context.replyStep(new Published(lastStep, lastAppliedTo));
      return;
    }
    if (weightsBytes == null) {
      weightsBytes = StageWire.encodeStep(lastStep, spareBytes);
      spareBytes = null;
    }
    context.reply(weightsBytes);
  }

  /**
   * Tasks mode: a task's chunk of the step's sum ({@code size}: its message's bytes); {@code
   * context} is answered by {@link #publish} with the task's chunk of the new weights, or now with
   * a failure.
   */
  synchronized void submit(StageMessages.Shard s, int size, StageReply context) {
    checkPartition(s.partition());
    supersede(s.stageAttempt());
    if (s.stageAttempt() < stageAttempt) {
      context.fail(superseded(s.stageAttempt()));
      return;
    }
    String refused = refusal(s);
    if (refused != null) {
      context.fail(new IllegalStateException("training stage: partition " + refused));
      return;
    }
    if (s.step() == completed - 1 && chunkBytes[s.partition()] != null) {
      context.reply(chunkBytes[s.partition()]); // see submit(SubmitHead, ...)
      return;
    }
    if (!arrived[s.partition()]) {
      arrived[s.partition()] = true;
      shards[s.partition()] = s.sum();
      shardBuffers = s.buffers();
      received++;
      bytesIn += size;
      phases.arrived(s.partition(), s.times(), System.nanoTime());
    }
    waiters.add(new Waiter(s.partition(), s.stageAttempt(), context));
    if (received == partitions) {
      notifyAll();
    }
  }

  /** Why the driver refuses shard {@code s} (after "partition "), or null. */
  private String refusal(StageMessages.Shard s) {
    if (reduce != StageReduce.TASKS) {
      return s.partition()
          + " sent a chunk of the sum, but the driver sums the whole updates ("
          + StageReduce.CONF
          + "="
          + reduce.paramValue()
          + ")";
    }
    if (s.step() == completed - 1 && completed > 0) {
      return null; // a late submit of the step just applied: answered with its result
    }
    if (s.step() != completed) {
      return s.partition() + " sent step " + s.step() + " while the driver is at step " + completed;
    }
    if (s.values() != weights.values().length) {
      return s.partition()
          + " sent a chunk of an update of "
          + s.values()
          + " values for step "
          + s.step()
          + ", the model has "
          + weights.values().length
          + " parameters";
    }
    if (received > 0 && s.buffers() != shardBuffers) {
      return s.partition()
          + " sent a chunk of an update of "
          + s.buffers()
          + " buffer values for step "
          + s.step()
          + ", the other partitions "
          + shardBuffers;
    }
    UpdateChunks chunks = new UpdateChunks(s.values(), s.buffers(), partitions);
    int expected = chunks.size(s.partition());
    if (s.sum().floats().length != expected) {
      return s.partition()
          + " sent "
          + s.sum().floats().length
          + " floats of the sum for step "
          + s.step()
          + ", its chunk of "
          + chunks.length()
          + " floats over "
          + partitions
          + " partitions has "
          + expected;
    }
    return null;
  }

  /** Adds the pending updates that are next in partition order into the step's total. */
  private void addInOrder() {
    long start = System.nanoTime();
    while (summed < partitions && pending[summed] != null) {
      Object next = pending[summed];
      pending[summed] = null;
      if (next instanceof Update u) {
        if (total == null) {
          total = Update.zero(u.values().length, u.buffers().length);
        }
        total.add(u);
      } else {
        StageWire.SubmitHead h = (StageWire.SubmitHead) next;
        if (total == null) {
          total = Update.zero(h.values(), h.buffers());
        }
        if (scratchValues.length != h.values() || scratchBuffers.length != h.buffers()) {
          scratchValues = new float[h.values()];
          scratchBuffers = new float[h.buffers()];
        }
        StageWire.readFloats(h.bytes(), h.valuesOffset(), scratchValues, h.values());
        StageWire.readFloats(h.bytes(), h.buffersOffset(), scratchBuffers, h.buffers());
        total.add(
            new Update(scratchValues, scratchBuffers, h.examples(), h.lossSum(), h.correct()));
      }
      summed++;
    }
    phases.summed(System.nanoTime() - start);
  }

  /**
   * The updates of step {@code step} summed in partition order once all have arrived, or null if
   * they have not within {@code waitMillis}.
   */
  synchronized Update awaitStep(int step, long waitMillis) throws InterruptedException {
    if (step != completed) {
      throw new IllegalStateException("awaiting step " + step + " at step " + completed);
    }
    long deadline = System.nanoTime() + waitMillis * 1_000_000L;
    while (received < partitions) {
      answerRegistrations();
      long left = (deadline - System.nanoTime()) / 1_000_000L;
      if (left <= 0) {
        return null;
      }
      wait(left);
    }
    if (reduce == StageReduce.TASKS && total == null) {
      long start = System.nanoTime();
      total = new UpdateChunks(weights.values().length, shardBuffers, partitions).assemble(shards);
      phases.summed(System.nanoTime() - start);
    }
    handedOver = true;
    return total;
  }

  /**
   * Replicated steps: step {@code step}'s sum and the step {@code aggregator} combines from it,
   * published to the tasks; or null if the updates have not all arrived within {@code waitMillis}.
   *
   * <p>While the training thread waits here, it lends {@code aggregator} to whichever thread hands
   * in the step's last update (the RPC dispatcher, or a task of the driver's own JVM, see {@link
   * LocalStages}): that thread combines the sum and answers the tasks at once, and the training
   * thread only applies the step to its own state afterwards. The aggregator is lent only here,
   * after the training thread has applied every earlier step, so it is never used by two threads at
   * once nor before the driver's state has caught up; the lock orders its uses. If the updates were
   * all in before the training thread came, it combines them itself.
   *
   * @throws RuntimeException the aggregator's failure, on the training thread
   */
  synchronized RoundExecutor.Combined awaitCombined(
      int step, Aggregator aggregator, long waitMillis) throws InterruptedException {
    return awaitCombined(step, aggregator, null, waitMillis);
  }

  /**
   * {@link #awaitCombined(int, Aggregator, long)}, lending {@code driver} too: where tasks of the
   * driver's JVM wait for a gradient step, the combining thread applies it to the driver's state
   * first (one optimizer step where each replica would run its own, all on the same cores) and
   * those tasks copy the driver's weights; remote tasks still get the step and apply it. Then
   * {@link RoundExecutor.Combined#applied} is true and the training thread does not apply it.
   */
  synchronized RoundExecutor.Combined awaitCombined(
      int step, Aggregator aggregator, RoundExecutor.DriverStep driver, long waitMillis)
      throws InterruptedException {
    if (step != completed && combinedStep == null) {
      throw new IllegalStateException("awaiting step " + step + " at step " + completed);
    }
    long deadline = System.nanoTime() + waitMillis * 1_000_000L;
    combiner = aggregator;
    driverStep = driver;
    while (combinedStep == null && combineFailure == null && received < partitions) {
      answerRegistrations();
      long left = (deadline - System.nanoTime()) / 1_000_000L;
      if (left <= 0) {
        return null;
      }
      wait(left);
    }
    if (combinedStep == null && combineFailure == null) {
      combineAndPublish();
    }
    combiner = null;
    driverStep = null;
    if (combineFailure != null) {
      RuntimeException e = combineFailure;
      combineFailure = null;
      throw e;
    }
    RoundExecutor.Combined out =
        new RoundExecutor.Combined(combinedTotal, combinedStep, combinedApplied);
    combinedTotal = null;
    combinedStep = null;
    combinedApplied = false;
    return out;
  }

  /** Combines the complete sum with the lent aggregator and publishes the step (lock held). */
  private void combineAndPublish() {
    Aggregator aggregator = combiner;
    RoundExecutor.DriverStep driver = driverStep;
    combiner = null;
    driverStep = null;
    handedOver = true;
    long start = System.nanoTime();
    Update sum = total;
    try {
      Step step = aggregator.combine(sum);
      // A delta (local steps) moves each replica from its own start: those apply it themselves.
      boolean applyHere =
          driver != null && step.kind() == Step.Kind.GRADIENT && anyWaiterTakesSteps();
      if (applyHere) {
        driver.apply(step);
      }
      publishStep(step, applyHere ? driver.model() : null, System.nanoTime() - start);
      combinedTotal = sum;
      combinedStep = step;
      combinedApplied = applyHere;
    } catch (RuntimeException e) {
      combineFailure = e; // the training thread throws it; the tasks' wait ends with the stage
    }
  }

  /**
   * Replicated steps: the combined step {@code step} of the sum {@link #awaitStep} handed over, for
   * the tasks to apply to their replicas as the driver applies it to its own ({@code applyNanos}:
   * the driver's time since the sum). Registrations wait for {@link #applied}.
   */
  synchronized void publishStep(Step step, long applyNanos) {
    publishStep(step, null, applyNanos);
  }

  /**
   * {@link #publishStep(Step, long)}; {@code appliedTo}: the driver's model, when the step was
   * applied to it already, which the tasks of this JVM then copy (else null).
   */
  private void publishStep(Step step, Module appliedTo, long applyNanos) {
    long start = System.nanoTime();
    completed++;
    openStep();
    lastStep = step;
    lastAppliedTo = appliedTo;
    // Tasks in this JVM take the step itself; the bytes are encoded only for remote tasks.
    byte[] reply = null;
    for (Waiter w : waiters) {
      if (!w.context().takesSteps()) {
        reply = StageWire.encodeStep(step, spareBytes); // alternating arrays, as in publish
        break;
      }
    }
    if (reply != null) {
      spareBytes = weightsBytes;
    }
    weightsBytes = reply; // null: a late remote submit encodes lastStep (replyLast)
    long encoded = System.nanoTime();
    SharedAnswer answer = reply == null ? null : new SharedAnswer(reply);
    for (Waiter w : waiters) {
      if (w.context().takesSteps()) {
        w.context().replyStep(new Published(step, appliedTo));
      } else {
        w.context().reply(answer);
        bytesOut += reply.length;
      }
    }
    waiters.clear();
    long end = System.nanoTime();
    phases.published(applyNanos, encoded - start, end - encoded, end);
  }

  /**
   * Replicated steps: the driver has applied the step it published to its own state; tasks that
   * registered meanwhile are answered with that state.
   */
  synchronized void applied() {
    answerRegistrations();
  }

  /** Replicated steps: answers the waiting registrations with the state at {@link #completed}. */
  private void answerRegistrations() {
    if (resumeAt == null || registrations.isEmpty()) {
      return;
    }
    SharedAnswer resume = new SharedAnswer(StageWire.encode(resumeAt.apply(completed)));
    for (Waiter w : registrations) {
      w.context().reply(resume);
    }
    registrations.clear();
  }

  /** The bytes of the steps' messages received and sent so far, {in, out}. */
  synchronized long[] bytesMoved() {
    return new long[] {bytesIn, bytesOut};
  }

  /** Whether the training thread has lent its aggregator ({@link #awaitCombined}; tests). */
  synchronized boolean lent() {
    return combiner != null;
  }

  /** Steps published so far. */
  synchronized int completed() {
    return completed;
  }

  /** Time the RPC dispatcher spent reading an update's header, for {@link StagePhases}. */
  void decoded(long nanos) {
    phases.decoded(nanos);
  }

  /** Which partitions' updates for the current step have arrived, for messages. */
  synchronized String missing() {
    List<Integer> out = new ArrayList<>();
    for (int i = 0; i < partitions; i++) {
      if (!arrived[i]) {
        out.add(i);
      }
    }
    return out.toString();
  }

  /** The weights after the current step: answers its waiting tasks and opens the next step. */
  synchronized void publish(RoundWeights next) {
    publish(next, 0);
  }

  /** {@link #publish(RoundWeights)}; {@code applyNanos}: the driver's step since the sum. */
  synchronized void publish(RoundWeights next, long applyNanos) {
    long start = System.nanoTime();
    completed++;
    weights = next;
    lastStep = null;
    lastAppliedTo = null;
    openStep();
    // Two reply arrays in turn, so a step allocates none: the array of step k-1 is free again at
    // step k+1. Every task of the current attempt has read it by then (a task reads its reply
    // before it submits the next step, and step k+1 needs all their submits); a remote reply is
    // serialized in reply() itself; only a task of a superseded attempt could still read it, and
    // its next submit is refused.
    long encoded;
    if (reduce == StageReduce.DRIVER) {
      byte[] reply = StageWire.encodeWeights(next, spareBytes);
      spareBytes = weightsBytes;
      weightsBytes = reply;
      encoded = System.nanoTime();
      SharedAnswer answer = new SharedAnswer(reply);
      for (Waiter w : waiters) {
        w.context().reply(answer);
        bytesOut += reply.length;
      }
    } else {
      byte[][] replies = spareChunks; // the same alternation, one array per partition
      for (int p = 0; p < partitions; p++) {
        replies[p] =
            StageWire.encodeWeightsChunk(
                next, weightChunks.start(p), weightChunks.size(p), replies[p]);
      }
      spareChunks = chunkBytes;
      chunkBytes = replies;
      encoded = System.nanoTime();
      for (Waiter w : waiters) {
        w.context().reply(replies[w.partition()]);
        bytesOut += replies[w.partition()].length;
      }
    }
    waiters.clear();
    if (!registrations.isEmpty()) {
      SharedAnswer resume =
          new SharedAnswer(StageWire.encode(new StageMessages.Resume(completed, weights)));
      for (Waiter w : registrations) {
        w.context().reply(resume);
      }
      registrations.clear();
    }
    long end = System.nanoTime();
    phases.published(applyNanos, encoded - start, end - encoded, end);
  }

  /** Fails every waiting task (the driver gave up on the stage). */
  synchronized void abort(String reason) {
    for (Waiter w : waiters) {
      w.context().fail(new IllegalStateException(reason));
    }
    waiters.clear();
    for (Waiter w : registrations) {
      w.context().fail(new IllegalStateException(reason));
    }
    registrations.clear();
  }

  private void supersede(int attempt) {
    if (attempt <= stageAttempt) {
      return;
    }
    stageAttempt = attempt;
    for (Waiter w : waiters) {
      w.context().fail(superseded(w.stageAttempt()));
    }
    waiters.clear();
    for (Waiter w : registrations) {
      w.context().fail(superseded(w.stageAttempt()));
    }
    registrations.clear();
    if (!handedOver) { // else the driver is applying this step: the retry gets its result
      openStep();
    }
  }

  private IllegalStateException superseded(int attempt) {
    return new IllegalStateException(
        "training stage attempt " + attempt + " was superseded by attempt " + stageAttempt);
  }

  private void checkPartition(int partition) {
    if (partition < 0 || partition >= partitions) {
      throw new IllegalArgumentException(
          "training stage: partition " + partition + " of " + partitions);
    }
  }
}
