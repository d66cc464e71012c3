package org.emberdl.spark.internal.stage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.emberdl.federated.Aggregator;
import org.emberdl.federated.Step;
import org.emberdl.federated.Update;
import org.emberdl.federated.UpdateKind;
import org.emberdl.nn.Module;
import org.emberdl.spark.internal.local.RoundWeights;
import org.emberdl.spark.internal.plan.StageReduce;
import org.emberdl.spark.internal.train.Coordinator;
import org.emberdl.spark.internal.train.RoundExecutor;
import org.junit.jupiter.api.Test;

/** The driver's bookkeeping of a training stage: steps, replies, retried attempts. */
class StepExchangeTest {
  /** Records what a task would receive. */
  private static final class Reply implements StageReply {
    final List<Object> replies = new ArrayList<>();
    final List<String> failures = new ArrayList<>();

    @Override
    public void reply(byte[] response) {
      replies.add(response);
    }

    @Override
    public void fail(Throwable e) {
      failures.add(e.getMessage());
    }
  }

  /** A reply as a task reads it: {@link StageWire} bytes. */
  private static RoundWeights weights(Object reply) {
    return StageWire.decode((byte[]) reply, RoundWeights.class);
  }

  /** What a task registering as {@code partition} of {@code attempt} is told at once, or null. */
  private static StageMessages.Resume register(StepExchange x, int partition, int attempt) {
    Reply r = new Reply();
    x.register(partition, attempt, r);
    assertEquals(List.of(), r.failures);
    return r.replies.isEmpty() ? null : resume(r.replies.get(0));
  }

  private static StageMessages.Resume resume(Object reply) {
    return StageWire.decode((byte[]) reply, StageMessages.Resume.class);
  }

  private static void assertResume(int step, RoundWeights w, StageMessages.Resume r) {
    assertEquals(step, r.step());
    assertArrayEquals(w.values(), r.weights().values());
    assertArrayEquals(w.buffers(), r.weights().buffers());
  }

  private static Update update(float v) {
    return new Update(new float[] {v}, new float[0], 1, v, 0);
  }

  private static final RoundWeights W0 = new RoundWeights(new float[] {0}, new float[0]);
  private static final RoundWeights W1 = new RoundWeights(new float[] {1}, new float[0]);

  @Test
  void aStepIsHandedOverInPartitionOrderAndItsWeightsAnswerEveryTask() throws Exception {
    StepExchange x = new StepExchange(2, W0);
    assertResume(0, W0, register(x, 1, 0));
    Reply r1 = new Reply();
    Reply r0 = new Reply();
    x.submit(new StageMessages.Submit(1, 0, 0, update(2)), r1);
    assertNull(x.awaitStep(0, 10), "one of two updates");
    assertEquals("[0]", x.missing());
    x.submit(new StageMessages.Submit(0, 0, 0, update(1)), r0);
    Update step = x.awaitStep(0, 10);
    // (0 + 1) + 2, examples 1 + 1, loss sums 1 + 2
    assertArrayEquals(new float[] {3f}, step.values());
    assertEquals(2, step.examples());
    assertEquals(3.0, step.lossSum());
    assertEquals(2, step.partitions());
    assertEquals(List.of(), r0.replies, "no reply before the driver applied the step");
    x.publish(W1);
    // Every waiting task gets the same bytes (encoded once), which decode to the new weights.
    assertSame(r0.replies.get(0), r1.replies.get(0));
    assertArrayEquals(W1.values(), weights(r0.replies.get(0)).values());
    assertResume(1, W1, register(x, 0, 0));
  }

  @Test
  void aRetriedAttemptResumesAtTheDriversStepAndSupersedesTheFailedOne() throws Exception {
    StepExchange x = new StepExchange(2, W0);
    Reply old0 = new Reply();
    x.submit(new StageMessages.Submit(0, 0, 0, update(9)), old0);
    // partition 1 of attempt 0 died; attempt 1 starts over at step 0
    assertResume(0, W0, register(x, 1, 1));
    assertEquals(List.of("training stage attempt 0 was superseded by attempt 1"), old0.failures);
    assertEquals("[0, 1]", x.missing(), "the failed attempt's updates are dropped");
    Reply late = new Reply();
    x.submit(new StageMessages.Submit(1, 0, 0, update(9)), late);
    assertEquals(List.of("training stage attempt 0 was superseded by attempt 1"), late.failures);
    Reply wrongStep = new Reply();
    x.submit(new StageMessages.Submit(0, 1, 3, update(1)), wrongStep);
    assertEquals(
        List.of("training stage: partition 0 sent step 3 while the driver is at step 0"),
        wrongStep.failures);
  }

  @Test
  void aRetryThatRegistersWhileTheDriverAppliesAStepResumesAfterIt() throws Exception {
    StepExchange x = new StepExchange(2, W0);
    Reply old0 = new Reply();
    x.submit(new StageMessages.Submit(0, 0, 0, update(1)), old0);
    x.submit(new StageMessages.Submit(1, 0, 0, update(2)), new Reply());
    x.awaitStep(0, 10); // the driver now applies step 0 ...
    // ... when attempt 1's tasks register: they are answered once step 0 is applied, both with
    // step 1 and its weights, so that every task of the attempt starts at the same step
    Reply r0 = new Reply();
    Reply r1 = new Reply();
    x.register(0, 1, r0);
    x.register(1, 1, r1);
    assertEquals(List.of(), r0.replies, "deferred while step 0 is applied");
    assertEquals(List.of("training stage attempt 0 was superseded by attempt 1"), old0.failures);
    x.publish(W1);
    assertResume(1, W1, resume(r0.replies.get(0)));
    assertResume(1, W1, resume(r1.replies.get(0)));
    // a registration after the publish is answered at once, with the same step
    assertResume(1, W1, register(x, 1, 1));
    // and the attempt's step 1 is summed from its own updates
    x.submit(new StageMessages.Submit(0, 1, 1, update(5)), new Reply());
    x.submit(new StageMessages.Submit(1, 1, 1, update(6)), new Reply());
    assertArrayEquals(new float[] {11f}, x.awaitStep(1, 10).values());
  }

  @Test
  void aDeferredRegistrationOfAnAttemptSupersededMeanwhileIsRefused() throws Exception {
    StepExchange x = new StepExchange(2, W0);
    x.submit(new StageMessages.Submit(0, 0, 0, update(1)), new Reply());
    x.submit(new StageMessages.Submit(1, 0, 0, update(2)), new Reply());
    x.awaitStep(0, 10);
    Reply first = new Reply();
    x.register(0, 1, first);
    Reply second = new Reply();
    x.register(1, 2, second);
    assertEquals(List.of("training stage attempt 1 was superseded by attempt 2"), first.failures);
    x.publish(W1);
    assertEquals(List.of(), first.replies);
    assertResume(1, W1, resume(second.replies.get(0)));
  }

  @Test
  void aLateSubmitOfTheStepJustAppliedGetsThatStepsWeights() throws Exception {
    StepExchange x = new StepExchange(2, W0);
    // attempt 1 registered before the hand-over (resumes at step 0) but partition 0's submit of
    // step 0 was overtaken: the driver applied step 0 from attempt 1's updates
    assertResume(0, W0, register(x, 1, 1));
    x.submit(new StageMessages.Submit(0, 1, 0, update(1)), new Reply());
    x.submit(new StageMessages.Submit(1, 1, 0, update(2)), new Reply());
    x.awaitStep(0, 10);
    x.publish(W1); // step 0 applied; the driver is at step 1
    Reply late = new Reply();
    x.submit(new StageMessages.Submit(0, 1, 0, update(1)), late);
    assertEquals(List.of(), late.failures, "not refused: step 0's result exists");
    assertArrayEquals(W1.values(), weights(late.replies.get(0)).values());
    assertEquals("[0, 1]", x.missing(), "the late update is not taken for step 1");
    // a step further back is still refused
    Reply older = new Reply();
    x.publish(new RoundWeights(new float[] {2}, new float[0]));
    x.submit(new StageMessages.Submit(1, 1, 0, update(1)), older);
    assertEquals(
        List.of("training stage: partition 1 sent step 0 while the driver is at step 2"),
        older.failures);
  }

  /** A replicated-steps exchange whose driver state at step {@code s} has weights {s}. */
  private static StepExchange replicated(List<Integer> resumedAt) {
    return new StepExchange(
        2,
        W0,
        new StagePhases(2),
        StageReduce.DRIVER,
        step -> {
          resumedAt.add(step);
          return new StageMessages.Resume(
              step,
              new RoundWeights(new float[] {step}, new float[0]),
              new StageMessages.OptimizerState(Map.of("step", (double) step), Map.of()));
        });
  }

  private static Step step(Object reply) {
    return StageWire.decode((byte[]) reply, Step.class);
  }

  @Test
  void replicatedStepsAnswerTheTasksWithTheStepAndRegistrationsFromTheTrainingThread()
      throws Exception {
    List<Integer> resumedAt = new ArrayList<>();
    StepExchange x = replicated(resumedAt);
    // registrations wait for the training thread, which answers them in awaitStep ...
    Reply r0 = new Reply();
    Reply r1 = new Reply();
    x.register(0, 0, r0);
    x.register(1, 0, r1);
    assertEquals(List.of(), r0.replies, "answered by the training thread, not the dispatcher");
    assertNull(x.awaitStep(0, 1), "no update yet");
    assertEquals(List.of(0), resumedAt, "one state built for both registrations");
    StageMessages.Resume resumed = resume(r1.replies.get(0));
    assertEquals(0, resumed.step());
    assertEquals(Map.of("step", 0.0), resumed.optimizer().scalars());
    // ... and each task's update is answered with the combined step, not weights
    Reply s0 = new Reply();
    Reply s1 = new Reply();
    x.submit(new StageMessages.Submit(0, 0, 0, update(1)), s0);
    x.submit(new StageMessages.Submit(1, 0, 0, update(2)), s1);
    assertArrayEquals(new float[] {3f}, x.awaitStep(0, 10).values());
    Step combined = new Step(Step.Kind.GRADIENT, new float[] {1.5f}, null);
    x.publishStep(combined, 0);
    for (Reply r : List.of(s0, s1)) {
      Step got = step(r.replies.get(0));
      assertEquals(Step.Kind.GRADIENT, got.kind());
      assertArrayEquals(new float[] {1.5f}, got.values());
      assertNull(got.buffers());
    }
    // a retry registering while the driver applies step 0 resumes after it, once it is applied
    Reply retry = new Reply();
    x.register(0, 1, retry);
    assertEquals(List.of(), retry.replies);
    x.applied();
    assertEquals(1, resume(retry.replies.get(0)).step());
    assertEquals(List.of(0, 1), resumedAt);
  }

  @Test
  void aLateSubmitUnderReplicatedStepsGetsTheStepJustPublished() throws Exception {
    StepExchange x = replicated(new ArrayList<>());
    x.submit(new StageMessages.Submit(0, 0, 0, update(1)), new Reply());
    x.submit(new StageMessages.Submit(1, 0, 0, update(2)), new Reply());
    x.awaitStep(0, 10);
    x.publishStep(new Step(Step.Kind.DELTA, new float[] {7f}, new float[] {}), 0);
    x.applied();
    Reply late = new Reply();
    x.submit(new StageMessages.Submit(0, 0, 0, update(1)), late);
    assertEquals(List.of(), late.failures);
    Step got = step(late.replies.get(0));
    assertEquals(Step.Kind.DELTA, got.kind());
    assertArrayEquals(new float[] {7f}, got.values());
    assertArrayEquals(new float[0], got.buffers());
  }

  /** A task of the driver's JVM: takes the step itself, as {@link StageReply#toSteps} does. */
  private static final class LocalReply implements StageReply {
    final List<StepExchange.Published> steps = new ArrayList<>();
    final List<Object> bytes = new ArrayList<>();
    final List<String> failures = new ArrayList<>();

    @Override
    public void reply(byte[] response) {
      bytes.add(response);
    }

    @Override
    public void fail(Throwable e) {
      failures.add(e.getMessage());
    }

    @Override
    public boolean takesSteps() {
      return true;
    }

    @Override
    public void replyStep(StepExchange.Published step) {
      steps.add(step);
    }
  }

  private static StepExchange.LocalSubmit local(int partition, int step, float v) {
    return new StepExchange.LocalSubmit(
        partition, 0, step, StageMessages.TaskTimes.NONE, update(v));
  }

  @Test
  void inProcessUpdatesAreSummedInPartitionOrderAndAnsweredWithTheStepItself() throws Exception {
    StepExchange x =
        new StepExchange(
            3,
            W0,
            new StagePhases(3),
            StageReduce.DRIVER,
            step -> new StageMessages.Resume(step, W0, null));
    // In float, (1e8 + -1e8) + 1 = 1 but (1e8 + 1) + -1e8 = 0: arrival order must not matter.
    LocalReply r2 = new LocalReply();
    LocalReply r0 = new LocalReply();
    Reply remote = new Reply();
    x.submit(local(2, 0, 1f), r2);
    x.submit(local(0, 0, 1e8f), r0);
    x.submit(new StageMessages.Submit(1, 0, 0, update(-1e8f)), remote);
    Update sum = x.awaitStep(0, 10);
    assertArrayEquals(new float[] {1f}, sum.values());
    assertEquals(3, sum.examples());
    Step combined = new Step(Step.Kind.GRADIENT, new float[] {0.25f}, null);
    x.publishStep(combined, 0);
    assertSame(combined, r0.steps.get(0).step(), "the step object itself");
    assertSame(combined, r2.steps.get(0).step());
    assertNull(r0.steps.get(0).appliedTo(), "published by publishStep: not applied by the driver");
    assertEquals(List.of(), r0.bytes);
    assertArrayEquals(new float[] {0.25f}, step(remote.replies.get(0)).values(), "remote: bytes");
    // bytes in: only the remote message; out: only the remote reply
    long[] moved = x.bytesMoved();
    assertTrue(moved[0] > 0 && moved[1] > 0, Arrays.toString(moved));
  }

  @Test
  void aLateSubmitAfterAnInProcessStepGetsThatStepAsObjectOrBytes() throws Exception {
    StepExchange x = replicated(new ArrayList<>());
    x.submit(local(0, 0, 1f), new LocalReply());
    x.submit(local(1, 0, 2f), new LocalReply());
    assertArrayEquals(new float[] {3f}, x.awaitStep(0, 10).values());
    Step published = new Step(Step.Kind.DELTA, new float[] {7f}, new float[] {2f});
    x.publishStep(published, 0);
    x.applied();
    assertArrayEquals(new long[] {0, 0}, x.bytesMoved(), "nothing encoded in-process");
    LocalReply lateLocal = new LocalReply();
    x.submit(local(0, 0, 1f), lateLocal);
    assertSame(published, lateLocal.steps.get(0).step());
    Reply lateRemote = new Reply();
    x.submit(new StageMessages.Submit(1, 0, 0, update(2)), lateRemote);
    assertEquals(List.of(), lateRemote.failures);
    Step got = step(lateRemote.replies.get(0));
    assertEquals(Step.Kind.DELTA, got.kind());
    assertArrayEquals(new float[] {7f}, got.values());
    assertArrayEquals(new float[] {2f}, got.buffers());
    // a wrong step is refused on the in-process path too, naming partition and steps
    LocalReply wrong = new LocalReply();
    x.submit(local(1, 5, 1f), wrong);
    assertEquals(
        List.of("training stage: partition 1 sent step 5 while the driver is at step 1"),
        wrong.failures);
  }

  /** The driver's state as the training loop lends it: records the steps applied. */
  private static final class RecordingDriver implements RoundExecutor.DriverStep {
    final List<Step> applied = new ArrayList<>();
    final Module model = new org.emberdl.nn.ReLU(); // no parameters: nothing to free

    @Override
    public void apply(Step step) {
      applied.add(step);
    }

    @Override
    public Module model() {
      return model;
    }
  }

  /** The mean of the sum: a gradient step. */
  private static Aggregator mean() {
    return new org.emberdl.federated.MeanGradientAggregator();
  }

  @Test
  void inProcessTasksGetGradientStepsAppliedByTheDriverBeforeTheReply() throws Exception {
    StepExchange x = replicated(new ArrayList<>());
    RecordingDriver driver = new RecordingDriver();
    LocalReply r0 = new LocalReply();
    LocalReply r1 = new LocalReply();
    Thread training =
        new Thread(
            () -> {
              try {
                RoundExecutor.Combined c = x.awaitCombined(0, mean(), driver, 5_000);
                assertTrue(c.applied(), "the training thread must not apply it again");
              } catch (InterruptedException e) {
                throw new IllegalStateException(e);
              }
            });
    training.start();
    while (!x.lent()) {
      Thread.sleep(1);
    }
    x.submit(local(0, 0, 1f), r0);
    x.submit(local(1, 0, 3f), r1); // combined, applied and published on this thread
    assertEquals(1, driver.applied.size(), "applied once, before the reply");
    Step applied = driver.applied.get(0);
    assertArrayEquals(new float[] {2f}, applied.values(), "(1 + 3) / 2 examples");
    for (LocalReply r : List.of(r0, r1)) {
      assertSame(applied, r.steps.get(0).step());
      assertSame(driver.model, r.steps.get(0).appliedTo(), "copy the driver's weights");
    }
    training.join(5_000);
    // a late in-process submit of that step is told the same
    LocalReply late = new LocalReply();
    x.submit(local(1, 0, 3f), late);
    assertSame(driver.model, late.steps.get(0).appliedTo());
  }

  @Test
  void remoteTasksAndDeltasLeaveTheDriversStepToTheTrainingThread() throws Exception {
    // remote tasks apply the step themselves, in parallel: the driver does not delay the reply
    StepExchange remote = replicated(new ArrayList<>());
    RecordingDriver driver = new RecordingDriver();
    remote.submit(new StageMessages.Submit(0, 0, 0, update(1)), new Reply());
    remote.submit(new StageMessages.Submit(1, 0, 0, update(3)), new Reply());
    assertFalse(remote.awaitCombined(0, mean(), driver, 10).applied());
    assertEquals(List.of(), driver.applied);
    // a delta moves each replica from its own start: in-process tasks apply it themselves too
    StepExchange local = replicated(new ArrayList<>());
    LocalReply r = new LocalReply();
    local.submit(local(0, 0, 1f), r);
    local.submit(local(1, 0, 3f), new LocalReply());
    Aggregator delta =
        new Aggregator() {
          @Override
          public Step combine(Update total) {
            return new Step(Step.Kind.DELTA, total.values().clone(), null);
          }

          @Override
          public org.emberdl.federated.UpdateKind updateKind() {
            return org.emberdl.federated.UpdateKind.WEIGHTED_DELTA;
          }

          @Override
          public String name() {
            return "delta";
          }
        };
    assertFalse(local.awaitCombined(0, delta, driver, 10).applied());
    assertEquals(List.of(), driver.applied);
    assertNull(r.steps.get(0).appliedTo());
  }

  /** An aggregator recording the thread and the sums it combined: the step is the sum * 10. */
  private static final class RecordingAggregator implements Aggregator {
    final List<String> threads = new ArrayList<>();
    RuntimeException failure;

    @Override
    public Step combine(Update total) {
      threads.add(Thread.currentThread().getName());
      if (failure != null) {
        throw failure;
      }
      return new Step(Step.Kind.GRADIENT, new float[] {total.values()[0] * 10}, null);
    }

    @Override
    public UpdateKind updateKind() {
      return UpdateKind.GRADIENT_SUM;
    }

    @Override
    public String name() {
      return "recording";
    }
  }

  @Test
  void theThreadBringingTheLastUpdateCombinesAndAnswersWhileTheTrainingThreadWaits()
      throws Exception {
    StepExchange x = replicated(new ArrayList<>());
    RecordingAggregator aggregator = new RecordingAggregator();
    Reply s0 = new Reply();
    Reply s1 = new Reply();
    x.submit(new StageMessages.Submit(1, 0, 0, update(2)), s1);
    // the training thread waits for step 0, lending its aggregator
    CompletableFuture<RoundExecutor.Combined> waiting =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                RoundExecutor.Combined c;
                do {
                  c = x.awaitCombined(0, aggregator, 50);
                } while (c == null);
                return c;
              } catch (InterruptedException e) {
                throw new IllegalStateException(e);
              }
            });
    // the last update arrives on this ("dispatcher") thread once the training thread waits
    while (!x.lent()) {
      Thread.sleep(1);
    }
    Thread.currentThread().setName("last-arrival");
    x.submit(new StageMessages.Submit(0, 0, 0, update(1)), s0);
    // answered before the training thread has even woken: combined here, (1 + 2) * 10
    for (Reply r : List.of(s0, s1)) {
      assertArrayEquals(new float[] {30f}, step(r.replies.get(0)).values());
    }
    assertEquals(List.of("last-arrival"), aggregator.threads);
    RoundExecutor.Combined c = waiting.get(10, TimeUnit.SECONDS);
    assertArrayEquals(new float[] {3f}, c.total().values());
    assertEquals(2, c.total().examples());
    assertArrayEquals(new float[] {30f}, c.step().values());
    assertEquals(1, x.completed());
    assertFalse(x.lent(), "the aggregator is not lent while the driver applies the step");
  }

  @Test
  void updatesThatAllArrivedBeforeTheTrainingThreadAreCombinedByIt() throws Exception {
    StepExchange x = replicated(new ArrayList<>());
    RecordingAggregator aggregator = new RecordingAggregator();
    Reply s0 = new Reply();
    x.submit(new StageMessages.Submit(0, 0, 0, update(1)), s0);
    x.submit(new StageMessages.Submit(1, 0, 0, update(2)), new Reply());
    assertEquals(List.of(), s0.replies, "no aggregator lent: nothing combined yet");
    Thread.currentThread().setName("training");
    RoundExecutor.Combined c = x.awaitCombined(0, aggregator, 10);
    assertEquals(List.of("training"), aggregator.threads);
    assertArrayEquals(new float[] {30f}, c.step().values());
    assertArrayEquals(new float[] {30f}, step(s0.replies.get(0)).values());
  }

  @Test
  void anAggregatorThatFailsOnTheLastArrivalsThreadFailsTheTrainingThreadNotTheTask()
      throws Exception {
    StepExchange x = replicated(new ArrayList<>());
    RecordingAggregator aggregator = new RecordingAggregator();
    aggregator.failure = new IllegalStateException("the sum is not finite");
    Reply s0 = new Reply();
    x.submit(new StageMessages.Submit(0, 0, 0, update(1)), s0);
    assertNull(x.awaitCombined(0, aggregator, 1), "lent, one update missing");
    x.submit(new StageMessages.Submit(1, 0, 0, update(2)), new Reply());
    assertEquals(List.of(), s0.failures, "the submit itself is fine");
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> x.awaitCombined(0, aggregator, 10));
    assertEquals("the sum is not finite", e.getMessage());
    assertEquals(0, x.completed(), "nothing published");
    x.abort("the driver stopped the training stage of epoch 1");
    assertEquals(List.of("the driver stopped the training stage of epoch 1"), s0.failures);
  }

  @Test
  void anUpdateOfTheWrongSizeIsRefusedNamingThePartition() {
    StepExchange x = new StepExchange(2, W0);
    Reply r = new Reply();
    x.submit(new StageMessages.Submit(1, 0, 0, new Update(new float[3], new float[0], 1, 0, 0)), r);
    assertEquals(
        List.of(
            "training stage: partition 1 sent an update of 3 values for step 0, the model has 1"
                + " parameters"),
        r.failures);
    assertEquals("[0, 1]", x.missing());
  }

  private static Update update(float... v) {
    return new Update(v, new float[0], 1, v[0], 0);
  }

  @Test
  void updatesArrivingOutOfOrderAreSummedInPartitionOrderBitForBitAsTheRoundsPath()
      throws Exception {
    // In partition order (0 + 1e8) + -1e8 + 1 = 1; in arrival order 2, 1, 0 it would be
    // ((0 + 1) + -1e8) + 1e8 = 0, since 1 - 1e8 rounds to -1e8 in float. Signed zeros:
    // (0 + -0) + -0 + -0 = +0 (the rounds path starts from Update.zero too).
    float[][] parts = {{1e8f, -0f}, {-1e8f, -0f}, {1f, -0f}};
    StepExchange x = new StepExchange(3, new RoundWeights(new float[2], new float[0]));
    for (int p : new int[] {2, 1, 0}) {
      x.submit(new StageMessages.Submit(p, 0, 0, update(parts[p].clone())), new Reply());
    }
    Update staged = x.awaitStep(0, 10);
    Update rounds =
        Coordinator.sum(
            List.of(update(parts[0].clone()), update(parts[1].clone()), update(parts[2].clone())));
    assertEquals(1f, staged.values()[0]);
    assertEquals(0, Float.floatToRawIntBits(staged.values()[1]), "+0, not -0");
    assertEquals(Float.floatToRawIntBits(rounds.values()[0]), Float.floatToRawIntBits(1f));
    assertEquals(Float.floatToRawIntBits(rounds.values()[1]), Float.floatToRawIntBits(0f));
    // loss sums (1e8 + -1e8) + 1 in double
    assertEquals(rounds.lossSum(), staged.lossSum());
    assertEquals(3, staged.examples());
    assertEquals(3, staged.partitions());
  }

  @Test
  void aRetryBeforeTheHandOverDropsTheFailedAttemptsPartialSum() throws Exception {
    StepExchange x = new StepExchange(2, W0);
    x.submit(new StageMessages.Submit(0, 0, 0, update(100)), new Reply()); // summed in already
    register(x, 1, 1); // attempt 1 starts over at step 0
    x.submit(new StageMessages.Submit(1, 1, 0, update(2)), new Reply());
    x.submit(new StageMessages.Submit(0, 1, 0, update(1)), new Reply());
    Update step = x.awaitStep(0, 10);
    assertArrayEquals(new float[] {3f}, step.values(), "attempt 1's updates only");
    assertEquals(2, step.partitions());
  }

  @Test
  void replyArraysAlternateSoThatAStepAllocatesNone() throws Exception {
    StepExchange x = new StepExchange(1, W0);
    Object[] replies = new Object[3];
    for (int step = 0; step < 3; step++) {
      Reply r = new Reply();
      x.submit(new StageMessages.Submit(0, 0, step, update(1)), r);
      x.awaitStep(step, 10);
      x.publish(new RoundWeights(new float[] {10 + step}, new float[0]));
      replies[step] = r.replies.get(0);
      assertArrayEquals(new float[] {10 + step}, weights(replies[step]).values());
    }
    assertSame(replies[0], replies[2], "step 2's reply reuses step 0's array");
    org.junit.jupiter.api.Assertions.assertNotSame(replies[1], replies[2]);
  }

  // ---- spark.ember.stageReduce=tasks --------------------------------------------------------

  /** Partition {@code j}'s reduce-scatter result over {@code updates}, as its task forms it. */
  private static StageMessages.Shard shard(int j, int step, List<Update> updates) {
    Update first = updates.get(0);
    UpdateChunks chunks =
        new UpdateChunks(first.values().length, first.buffers().length, updates.size());
    UpdateChunks.Chunk[] parts = new UpdateChunks.Chunk[updates.size()];
    for (int p = 0; p < parts.length; p++) {
      parts[p] = UpdateChunks.Chunk.own(chunks, updates.get(p), j);
    }
    return new StageMessages.Shard(
        j,
        0,
        step,
        first.values().length,
        first.buffers().length,
        UpdateChunks.sum(parts),
        StageMessages.TaskTimes.NONE);
  }

  private static StepExchange tasks(int partitions, RoundWeights w) {
    return new StepExchange(partitions, w, new StagePhases(partitions), StageReduce.TASKS);
  }

  @Test
  void chunksOfTheSumAssembleToTheRoundsPathsSumAndEachTaskGetsItsChunkOfTheWeights()
      throws Exception {
    // 5 values over 3 partitions: chunks [0,2) [2,4) [4,5); element 0 sums (0 + 1e8) + -1e8 + 1
    // = 1 in partition order (0 in arrival order 2, 1, 0), element 1 gives +0 from -0s
    List<Update> updates =
        List.of(
            new Update(new float[] {1e8f, -0f, 1, 2, 3}, new float[0], 2, 0.5, 1),
            new Update(new float[] {-1e8f, -0f, 4, 5, 6}, new float[0], 3, 0.25, 2),
            new Update(new float[] {1f, -0f, 7, 8, 9}, new float[0], 4, 0.125, 0));
    RoundWeights w0 = new RoundWeights(new float[5], new float[0]);
    StepExchange x = tasks(3, w0);
    Reply[] replies = {new Reply(), new Reply(), new Reply()};
    for (int j : new int[] {2, 1, 0}) {
      StageMessages.Shard s = shard(j, 0, updates);
      x.submit(s, StageWire.encode(s).length, replies[j]);
      assertEquals(List.of(), replies[j].failures);
    }
    Update staged = x.awaitStep(0, 10);
    Update rounds =
        Coordinator.sum(
            List.of(
                new Update(new float[] {1e8f, -0f, 1, 2, 3}, new float[0], 2, 0.5, 1),
                new Update(new float[] {-1e8f, -0f, 4, 5, 6}, new float[0], 3, 0.25, 2),
                new Update(new float[] {1f, -0f, 7, 8, 9}, new float[0], 4, 0.125, 0)));
    assertArrayEquals(new float[] {1f, 0f, 12f, 15f, 18f}, staged.values());
    for (int i = 0; i < 5; i++) {
      assertEquals(
          Float.floatToRawIntBits(rounds.values()[i]), Float.floatToRawIntBits(staged.values()[i]));
    }
    assertEquals(9, staged.examples());
    assertEquals(0.875, staged.lossSum());
    assertEquals(3, staged.correct());
    x.publish(new RoundWeights(new float[] {10, 11, 12, 13, 14}, new float[0]));
    assertArrayEquals(
        new float[] {10, 11},
        StageWire.decodeWeightsChunk((byte[]) replies[0].replies.get(0), 0, new float[2]));
    assertArrayEquals(
        new float[] {12, 13},
        StageWire.decodeWeightsChunk((byte[]) replies[1].replies.get(0), 2, new float[2]));
    assertArrayEquals(
        new float[] {14},
        StageWire.decodeWeightsChunk((byte[]) replies[2].replies.get(0), 4, new float[1]));
    // 3 Shards of 96 + 4 * (2, 2, 1) bytes in; 3 WeightsChunks of 16 + 4 * (2, 2, 1) bytes out
    assertArrayEquals(new long[] {3 * 96 + 20, 3 * 16 + 20}, x.bytesMoved());
  }

  @Test
  void aShardOfTheWrongSizeOrForTheOtherModeIsRefusedNamingThePartitionAndTheConf() {
    List<Update> updates =
        List.of(
            new Update(new float[] {1, 2, 3}, new float[0], 1, 0, 0),
            new Update(new float[] {4, 5, 6}, new float[0], 1, 0, 0));
    StepExchange x = tasks(2, new RoundWeights(new float[3], new float[0]));
    StageMessages.Shard s1 = shard(1, 0, updates);
    Reply wrongSize = new Reply();
    x.submit(
        new StageMessages.Shard(
            1, 0, 0, 3, 0, shard(0, 0, updates).sum(), StageMessages.TaskTimes.NONE),
        100,
        wrongSize);
    assertEquals(
        List.of(
            "training stage: partition 1 sent 2 floats of the sum for step 0, its chunk of 3"
                + " floats over 2 partitions has 1"),
        wrongSize.failures);
    Reply whole = new Reply();
    x.submit(new StageMessages.Submit(0, 0, 0, updates.get(0)), whole);
    assertEquals(
        List.of(
            "training stage: partition 0 sent its whole update, but the driver expects chunks of"
                + " the sum (spark.ember.stageReduce=tasks)"),
        whole.failures);
    Reply chunk = new Reply();
    new StepExchange(2, new RoundWeights(new float[3], new float[0])).submit(s1, 100, chunk);
    assertEquals(
        List.of(
            "training stage: partition 1 sent a chunk of the sum, but the driver sums the whole"
                + " updates (spark.ember.stageReduce=driver)"),
        chunk.failures);
    // before any step was applied there is no "step just applied" to answer a step -1 with
    Reply before = new Reply();
    x.submit(
        new StageMessages.Shard(0, 0, -1, 3, 0, s1.sum(), StageMessages.TaskTimes.NONE),
        100,
        before);
    assertEquals(
        List.of("training stage: partition 0 sent step -1 while the driver is at step 0"),
        before.failures);
    assertEquals("[0, 1]", x.missing());
  }
}
