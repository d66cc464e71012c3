package org.emberdl.spark.internal.stage;

import java.util.concurrent.CompletableFuture;
import org.apache.spark.rpc.RpcCallContext;
import org.emberdl.spark.internal.data.SparkInternals;

/**
 * Where the driver's answer to one task message goes: back through Spark's RPC ({@link
 * #of(RpcCallContext)}), or straight into the future a task in the driver's own JVM waits on
 * ({@link #to(CompletableFuture)}, {@link #toSteps(CompletableFuture)}, see {@link LocalStages}).
 */
interface StageReply {
  /** The answer, as {@link StageWire} bytes. */
  void reply(byte[] bytes);

  /** {@code answer}, which other receivers get too. */
  default void reply(SharedAnswer answer) {
    reply(answer.bytes());
  }

  /** The message was refused or the stage stopped; the task fails with {@code e}'s message. */
  void fail(Throwable e);

  /**
   * Whether this receiver takes a replicated step as the object itself ({@link #replyStep}): a task
   * in the driver's JVM, which only reads it. Others get its {@link StageWire} bytes.
   */
  default boolean takesSteps() {
    return false;
  }

  /** A replicated step, shared with the driver and the other tasks: read, never written. */
  default void replyStep(StepExchange.Published step) {
    throw new UnsupportedOperationException("this receiver takes bytes");
  }

  /** Through Spark's RPC. */
  static StageReply of(RpcCallContext context) {
    return new StageReply() {
      @Override
      public void reply(byte[] bytes) {
        context.reply(bytes);
      }

      /** To a remote task, Spark's serialized form made once for all of them. */
      @Override
      public void reply(SharedAnswer answer) {
        if (SparkInternals.remote(context)) {
          SparkInternals.replySerialized(context, answer.serialized());
        } else {
          context.reply(answer.bytes());
        }
      }

      @Override
      public void fail(Throwable e) {
        context.sendFailure(e);
      }
    };
  }

  /** Into {@code future}, on the replying thread. */
  static StageReply to(CompletableFuture<byte[]> future) {
    return new StageReply() {
      @Override
      public void reply(byte[] bytes) {
        future.complete(bytes);
      }

      @Override
      public void fail(Throwable e) {
        future.completeExceptionally(e);
      }
    };
  }

  /**
   * Into {@code future}, on the replying thread, for a task in the driver's JVM that waits for a
   * replicated step: the step object itself, no bytes in between (any reply in bytes, e.g. to a
   * late submit, is read back into a step).
   */
  static StageReply toSteps(CompletableFuture<StepExchange.Published> future) {
    return new StageReply() {
      @Override
      public void reply(byte[] bytes) {
        try {
          future.complete(
              new StepExchange.Published(StageWire.decodeStep(bytes, null, null), null));
        } catch (RuntimeException e) {
          future.completeExceptionally(e);
        }
      }

      @Override
      public void fail(Throwable e) {
        future.completeExceptionally(e);
      }

      @Override
      public boolean takesSteps() {
        return true;
      }

      @Override
      public void replyStep(StepExchange.Published step) {
        future.complete(step);
      }
    };
  }
}
