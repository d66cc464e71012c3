package org.emberdl.spark.internal.stage;

import java.util.concurrent.CompletableFuture;
import org.apache.spark.rpc.RpcCallContext;

/**
 * Where the driver's answer to one task message goes: back through Spark's RPC ({@link
 * #of(RpcCallContext)}), or straight into the future a task in the driver's own JVM waits on
 * ({@link #to(CompletableFuture)}, see {@link LocalStages}).
 */
interface StageReply {
  /** The answer, as {@link StageWire} bytes. */
  void reply(byte[] bytes);

  /** The message was refused or the stage stopped; the task fails with {@code e}'s message. */
  void fail(Throwable e);

  /** Through Spark's RPC. */
  static StageReply of(RpcCallContext context) {
    return new StageReply() {
      @Override
      public void reply(byte[] bytes) {
        context.reply(bytes);
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
}
