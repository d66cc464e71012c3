package org.emberdl.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.util.ArrayList;
import java.util.List;
import org.apache.spark.rpc.RpcAddress;
import org.apache.spark.rpc.RpcCallContext;
import org.emberdl.federated.Update;
import org.junit.jupiter.api.Test;

/** The driver's bookkeeping of a training stage: steps, replies, retried attempts. */
class StepExchangeTest {
  /** Records what a task would receive. */
  private static final class Reply implements RpcCallContext {
    final List<Object> replies = new ArrayList<>();
    final List<String> failures = new ArrayList<>();

    @Override
    public void reply(Object response) {
      replies.add(response);
    }

    @Override
    public void sendFailure(Throwable e) {
      failures.add(e.getMessage());
    }

    @Override
    public RpcAddress senderAddress() {
      return null;
    }
  }

  /** A reply as a task reads it: {@link StageWire} bytes. */
  private static RoundWeights weights(Object reply) {
    return StageWire.decode((byte[]) reply, RoundWeights.class);
  }

  private static Update update(float v) {
    return new Update(new float[] {v}, new float[0], 1, v, 0);
  }

  private static final RoundWeights W0 = new RoundWeights(new float[] {0}, new float[0]);
  private static final RoundWeights W1 = new RoundWeights(new float[] {1}, new float[0]);

  @Test
  void aStepIsHandedOverInPartitionOrderAndItsWeightsAnswerEveryTask() throws Exception {
    StepExchange x = new StepExchange(2, W0);
    assertEquals(new StageMessages.Resume(0, W0), x.register(1, 0));
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
    assertEquals(new StageMessages.Resume(1, W1), x.register(0, 0));
  }

  @Test
  void aRetriedAttemptResumesAtTheDriversStepAndSupersedesTheFailedOne() throws Exception {
    StepExchange x = new StepExchange(2, W0);
    Reply old0 = new Reply();
    x.submit(new StageMessages.Submit(0, 0, 0, update(9)), old0);
    // partition 1 of attempt 0 died; attempt 1 starts over at step 0
    assertEquals(new StageMessages.Resume(0, W0), x.register(1, 1));
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
  void aRetryWhileTheDriverAppliesAStepWaitsForItsResult() throws Exception {
    StepExchange x = new StepExchange(2, W0);
    x.submit(new StageMessages.Submit(0, 0, 0, update(1)), new Reply());
    x.submit(new StageMessages.Submit(1, 0, 0, update(2)), new Reply());
    x.awaitStep(0, 10); // the driver now applies step 0
    assertEquals(new StageMessages.Resume(0, W0), x.register(0, 1));
    Reply retried = new Reply();
    x.submit(new StageMessages.Submit(0, 1, 0, update(1)), retried);
    x.publish(W1);
    assertEquals(1, retried.replies.size());
    assertArrayEquals(W1.values(), weights(retried.replies.get(0)).values());
  }

  @Test
  void aRetriedTasksLateSubmitOfTheStepJustAppliedGetsThatStepsWeights() throws Exception {
    StepExchange x = new StepExchange(2, W0);
    x.submit(new StageMessages.Submit(0, 0, 0, update(1)), new Reply());
    x.submit(new StageMessages.Submit(1, 0, 0, update(2)), new Reply());
    x.awaitStep(0, 10); // the driver now applies step 0 ...
    // ... when attempt 1's partition 0 registers: it is told to (re)compute step 0
    assertEquals(new StageMessages.Resume(0, W0), x.register(0, 1));
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
    x.register(1, 1); // attempt 1 starts over at step 0
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
}
