package org.emberdl.spark.internal.stage;

import org.apache.spark.rpc.RpcCallContext;
import org.apache.spark.rpc.RpcEnv;
import org.apache.spark.rpc.ThreadSafeRpcEndpoint;
import scala.Function1;
import scala.PartialFunction;
import scala.runtime.AbstractPartialFunction;
import scala.runtime.BoxedUnit;

/**
 * The driver's RPC endpoint of a training stage: hands the tasks' messages to the {@link
 * StepExchange}. Spark's Scala trait, implemented from Java: {@code receiveAndReply} returns a
 * partial function defined on the messages a task sends, as {@link StageWire} bytes.
 */
public final class StageEndpoint implements ThreadSafeRpcEndpoint {
  private final RpcEnv rpcEnv;
  private final StepExchange exchange;

  public StageEndpoint(RpcEnv rpcEnv, StepExchange exchange) {
    this.rpcEnv = rpcEnv;
    this.exchange = exchange;
  }

  @Override
  public RpcEnv rpcEnv() {
    return rpcEnv;
  }

  @Override
  public PartialFunction<Object, BoxedUnit> receiveAndReply(RpcCallContext context) {
    return new AbstractPartialFunction<>() {
      @Override
      public boolean isDefinedAt(Object message) {
        return message instanceof byte[];
      }

      @Override
      public <A1, B1> B1 applyOrElse(A1 message, Function1<A1, B1> otherwise) {
        if (!(message instanceof byte[] bytes)) {
          return otherwise.apply(message);
        }
        handle(exchange, bytes, StageReply.of(context));
        @SuppressWarnings("unchecked")
        B1 unit = (B1) BoxedUnit.UNIT;
        return unit;
      }
    };
  }

  /**
   * Hands a task's message to {@code exchange}, which answers it through {@code reply} now or
   * later; a message that cannot be read is refused through {@code reply}.
   */
  static void handle(StepExchange exchange, byte[] bytes, StageReply reply) {
    try {
      long start = System.nanoTime();
      int type = StageWire.type(bytes);
      if (type == StageWire.SUBMIT) {
        StageWire.SubmitHead s = StageWire.submitHead(bytes);
        exchange.decoded(System.nanoTime() - start);
        exchange.submit(s, reply);
      } else if (type == StageWire.SHARD) {
        StageMessages.Shard s = StageWire.decode(bytes, StageMessages.Shard.class);
        exchange.decoded(System.nanoTime() - start);
        exchange.submit(s, bytes.length, reply);
      } else if (type == StageWire.REGISTER) {
        StageMessages.Register r = StageWire.decode(bytes, StageMessages.Register.class);
        exchange.register(r.partition(), r.stageAttempt(), reply);
      } else {
        throw new IllegalArgumentException(
            "a task sent a training-stage message of type " + type + " to the driver");
      }
    } catch (RuntimeException e) {
      reply.fail(e);
    }
  }
}
