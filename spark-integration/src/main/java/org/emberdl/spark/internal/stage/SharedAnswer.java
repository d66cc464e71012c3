package org.emberdl.spark.internal.stage;

import java.nio.ByteBuffer;
import org.emberdl.spark.internal.data.SparkInternals;

/**
 * One answer for several tasks (a step, the weights, a resume point), serialized for Spark's RPC at
 * most once whatever the number of remote tasks it goes to ({@link
 * StageReply#reply(SharedAnswer)}).
 */
final class SharedAnswer {
  private final byte[] bytes;
  private ByteBuffer serialized;

  SharedAnswer(byte[] bytes) {
    this.bytes = bytes;
  }

  /** The answer's {@link StageWire} bytes. */
  byte[] bytes() {
    return bytes;
  }

  /** Spark's serialized form of {@link #bytes}, made on the first call. */
  synchronized ByteBuffer serialized() {
    if (serialized == null) {
      serialized = SparkInternals.serializeAnswer(bytes);
    }
    return serialized;
  }
}
