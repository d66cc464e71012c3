package org.emberdl.spark.internal.stage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import org.emberdl.spark.internal.local.RoundWeights;
import org.junit.jupiter.api.Test;

/**
 * The messages of {@code spark.ember.stageReduce=tasks}: a task's chunk of the sum ({@link
 * StageMessages.Shard}) and the driver's chunk of the weights ({@link StageMessages.WeightsChunk});
 * exact round trips, exact sizes, and clear errors.
 */
class StageWireChunksTest {
  private static final float[] AWKWARD = {-0f, Float.intBitsToFloat(0x7fc0_1234), Float.MIN_VALUE};

  private static StageMessages.Shard shard(float[] floats) {
    return new StageMessages.Shard(
        1,
        2,
        7,
        5,
        1,
        new UpdateChunks.Summed(floats, 40, 0.1 + 0.2, 31),
        new StageMessages.TaskTimes(3, 4, 5, 6, 7));
  }

  @Test
  void aShardRoundTripsBitForBitInItsExactSize() {
    byte[] bytes = StageWire.encode(shard(AWKWARD.clone()));
    // header 8, 6 ints 24 (partition, attempt, step, values, buffers, the floats' length),
    // times 40, examples + loss + correct 24, floats 12
    assertEquals(8 + 24 + 40 + 24 + 12, bytes.length);
    assertEquals(StageWire.SHARD, StageWire.type(bytes));
    StageMessages.Shard s = StageWire.decode(bytes, StageMessages.Shard.class);
    assertEquals(1, s.partition());
    assertEquals(2, s.stageAttempt());
    assertEquals(7, s.step());
    assertEquals(5, s.values());
    assertEquals(1, s.buffers());
    assertEquals(new StageMessages.TaskTimes(3, 4, 5, 6, 7), s.times());
    assertEquals(40, s.sum().examples());
    assertEquals(0.1 + 0.2, s.sum().lossSum());
    assertEquals(31, s.sum().correct());
    for (int i = 0; i < AWKWARD.length; i++) {
      assertEquals(
          Float.floatToRawIntBits(AWKWARD[i]), Float.floatToRawIntBits(s.sum().floats()[i]));
    }
    byte[] reuse = new byte[bytes.length];
    assertSame(reuse, StageWire.encodeShard(shard(AWKWARD.clone()), reuse));
    assertArrayEquals(bytes, reuse);
  }

  @Test
  void aTruncatedShardNamesTheFieldAndTheShortfall() {
    byte[] full = StageWire.encode(shard(new float[] {1, 2, 3}));
    byte[] cut = Arrays.copyOf(full, full.length - 4);
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> StageWire.decode(cut, StageMessages.Shard.class));
    // the floats start at 8 + 24 + 40 + 24 = 96; 3 floats need 12 bytes, 8 remain
    assertEquals(
        "truncated training-stage Shard: its floats (3 floats) needs 12 bytes at offset 96, only 8"
            + " of 104 remain",
        e.getMessage());
  }

  @Test
  void aWeightsChunkStraddlingValuesAndBuffersCarriesExactlyThoseFloats() {
    RoundWeights w = new RoundWeights(new float[] {1, 2, 3}, new float[] {4, 5});
    byte[] bytes = StageWire.encodeWeightsChunk(w, 2, 2, null);
    assertEquals(8 + 8 + 8, bytes.length); // header, from and length, 2 floats
    assertArrayEquals(new float[] {3, 4}, StageWire.decodeWeightsChunk(bytes, 2, new float[2]));
    StageMessages.WeightsChunk c = StageWire.decode(bytes, StageMessages.WeightsChunk.class);
    assertEquals(2, c.from());
    assertArrayEquals(new float[] {3, 4}, c.floats());
    byte[] reuse = new byte[bytes.length];
    assertSame(reuse, StageWire.encodeWeightsChunk(w, 2, 2, reuse));
    assertArrayEquals(bytes, StageWire.encode(c));
  }

  @Test
  void aWeightsChunkForAnotherPlaceOrSizeIsRefusedNamingBoth() {
    byte[] bytes =
        StageWire.encodeWeightsChunk(
            new RoundWeights(new float[] {1, 2, 3}, new float[0]), 1, 2, null);
    IllegalArgumentException start =
        assertThrows(
            IllegalArgumentException.class,
            () -> StageWire.decodeWeightsChunk(bytes, 0, new float[2]));
    assertEquals(
        "training stage: the driver sent the weights' floats [1, 3) where this task's chunk is"
            + " [0, 2)",
        start.getMessage());
    IllegalArgumentException size =
        assertThrows(
            IllegalArgumentException.class,
            () -> StageWire.decodeWeightsChunk(bytes, 1, new float[1]));
    assertEquals(
        "training stage: the driver sent the weights' floats [1, 3) where this task's chunk is"
            + " [1, 2)",
        size.getMessage());
    IllegalArgumentException whole =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                StageWire.decodeWeightsChunk(
                    StageWire.encode(new RoundWeights(new float[2], new float[0])),
                    0,
                    new float[2]));
    assertEquals("expected a training-stage WeightsChunk, got a RoundWeights", whole.getMessage());
  }
}
