package org.emberdl.spark.internal.stage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.emberdl.federated.Step;
import org.emberdl.federated.Update;
import org.emberdl.spark.internal.local.RoundWeights;
import org.junit.jupiter.api.Test;

/** The training stage's binary messages: exact round trips and clear errors on bad bytes. */
class StageWireTest {
  // Values whose bits a lossy or byte-swapped codec would change: signed zero, NaN with a
  // payload, subnormal, infinities, extremes.
  private static final float[] AWKWARD = {
    0f,
    -0f,
    Float.intBitsToFloat(0x7fc0_1234),
    Float.MIN_VALUE,
    Float.MAX_VALUE,
    Float.NEGATIVE_INFINITY,
    1.0000001f,
    -3.5f
  };

  private static void assertSameBits(float[] expected, float[] actual) {
    assertEquals(expected.length, actual.length);
    for (int i = 0; i < expected.length; i++) {
      assertEquals(
          Float.floatToRawIntBits(expected[i]), Float.floatToRawIntBits(actual[i]), "float " + i);
    }
  }

  @Test
  void weightsRoundTripBitForBit() {
    RoundWeights w = new RoundWeights(AWKWARD, new float[] {7f, -0f});
    RoundWeights back = StageWire.decode(StageWire.encode(w), RoundWeights.class);
    assertSameBits(w.values(), back.values());
    assertSameBits(w.buffers(), back.buffers());
  }

  @Test
  void theLayoutIsLittleEndianHeaderThenLengthPrefixedFloats() {
    byte[] bytes = StageWire.encode(new RoundWeights(new float[] {1f}, new float[0]));
    // magic, type 4, length 1, 1.0f (0x3f800000), length 0: 5 little-endian ints = 20 bytes
    ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    assertEquals(20, bytes.length);
    assertEquals(0x454d5357, b.getInt());
    assertEquals(4, b.getInt());
    assertEquals(1, b.getInt());
    assertEquals(0x3f80_0000, b.getInt());
    assertEquals(0, b.getInt());
  }

  @Test
  void submitRoundTripsItsUpdateAndTimes() {
    Update u = new Update(AWKWARD.clone(), new float[] {2.5f}, 64, 123.456789, 17);
    StageMessages.TaskTimes t = new StageMessages.TaskTimes(3, 11, 22, 33, 44);
    StageMessages.Submit s =
        StageWire.decode(
            StageWire.encode(new StageMessages.Submit(1, 2, 5, u, t)), StageMessages.Submit.class);
    assertEquals(1, s.partition());
    assertEquals(2, s.stageAttempt());
    assertEquals(5, s.step());
    assertEquals(t, s.times());
    assertSameBits(AWKWARD, s.update().values());
    assertSameBits(new float[] {2.5f}, s.update().buffers());
    assertEquals(64, s.update().examples());
    assertEquals(123.456789, s.update().lossSum());
    assertEquals(17, s.update().correct());
  }

  @Test
  void registerAndResumeRoundTrip() {
    assertEquals(
        new StageMessages.Register(3, 1),
        StageWire.decode(
            StageWire.encode(new StageMessages.Register(3, 1)), StageMessages.Register.class));
    StageMessages.Resume r =
        StageWire.decode(
            StageWire.encode(
                new StageMessages.Resume(9, new RoundWeights(new float[] {4f}, new float[0]))),
            StageMessages.Resume.class);
    assertEquals(9, r.step());
    assertArrayEquals(new float[] {4f}, r.weights().values());
  }

  @Test
  void aResumeCarriesTheOptimizerStateBitForBit() {
    Map<String, Double> scalars = new LinkedHashMap<>();
    scalars.put("step", 12.0);
    scalars.put("lr", 1e-3);
    scalars.put("beta2", 0.999);
    Map<String, float[]> buffers = new LinkedHashMap<>();
    buffers.put("exp_avg", new float[] {-0.0f, Float.MIN_VALUE, 3.5f});
    buffers.put("exp_avg_sq", new float[] {1e-30f, 2f, Float.MAX_VALUE});
    StageMessages.Resume r =
        StageWire.decode(
            StageWire.encode(
                new StageMessages.Resume(
                    4,
                    new RoundWeights(new float[] {4f}, new float[] {1f}),
                    new StageMessages.OptimizerState(scalars, buffers))),
            StageMessages.Resume.class);
    assertEquals(4, r.step());
    assertEquals(List.copyOf(scalars.entrySet()), List.copyOf(r.optimizer().scalars().entrySet()));
    assertEquals(List.copyOf(buffers.keySet()), List.copyOf(r.optimizer().buffers().keySet()));
    for (String k : buffers.keySet()) {
      assertSameBits(buffers.get(k), r.optimizer().buffers().get(k));
    }
    assertNull(
        StageWire.decode(
                StageWire.encode(
                    new StageMessages.Resume(0, new RoundWeights(new float[0], new float[0]))),
                StageMessages.Resume.class)
            .optimizer(),
        "no state when the driver applies the steps");
  }

  @Test
  void aStepRoundTripsWithAndWithoutBuffersIntoTheTasksArrays() {
    float[] values = {1f, -0.0f, Float.NaN};
    byte[] bytes = StageWire.encode(new Step(Step.Kind.GRADIENT, values, null));
    // header 8, kind 4, values 4 + 12, no buffers 4
    assertEquals(32, bytes.length);
    float[] reuse = new float[3];
    Step s = StageWire.decodeStep(bytes, reuse, null);
    assertSame(reuse, s.values());
    assertSameBits(values, s.values());
    assertNull(s.buffers());
    Step d =
        StageWire.decode(
            StageWire.encode(new Step(Step.Kind.DELTA, new float[] {2f}, new float[] {5f, 6f})),
            Step.class);
    assertEquals(Step.Kind.DELTA, d.kind());
    assertArrayEquals(new float[] {5f, 6f}, d.buffers());
  }

  @Test
  void aCorruptStepIsNamed() {
    byte[] bytes = StageWire.encode(new Step(Step.Kind.GRADIENT, new float[] {1f}, null));
    ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putInt(8, 9);
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> StageWire.decodeStep(bytes, null, null));
    assertEquals("corrupt training-stage Step: kind 9", e.getMessage());
    byte[] cut =
        Arrays.copyOf(StageWire.encode(new Step(Step.Kind.GRADIENT, new float[] {1f}, null)), 22);
    e = assertThrows(IllegalArgumentException.class, () -> StageWire.decodeStep(cut, null, null));
    assertTrue(
        e.getMessage().startsWith("truncated training-stage Step: its buffers length"),
        e.getMessage());
  }

  @Test
  void aSubmitReusesTheTasksBufferWhenTheSizeFits() {
    StageMessages.Submit s =
        new StageMessages.Submit(0, 0, 0, new Update(new float[] {1f, 2f}, new float[0], 1, 0, 0));
    byte[] first = StageWire.encodeSubmit(s, null);
    byte[] again =
        StageWire.encodeSubmit(
            new StageMessages.Submit(
                0, 0, 1, new Update(new float[] {3f, 4f}, new float[0], 1, 0, 0)),
            first);
    assertSame(first, again);
    assertArrayEquals(
        new float[] {3f, 4f},
        StageWire.decode(again, StageMessages.Submit.class).update().values());
    byte[] other =
        StageWire.encodeSubmit(
            new StageMessages.Submit(0, 0, 1, new Update(new float[] {3f}, new float[0], 1, 0, 0)),
            first);
    assertEquals(first.length - Float.BYTES, other.length, "another size gets its own array");
  }

  @Test
  void truncatedBytesNameTheFieldAndTheShortfall() {
    byte[] full = StageWire.encode(new RoundWeights(new float[] {1f, 2f, 3f}, new float[0]));
    byte[] cut = Arrays.copyOf(full, full.length - 8); // loses 3.0f and the buffers' length
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> StageWire.decode(cut, RoundWeights.class));
    // header 8 + length 4 = offset 12; 3 floats = 12 bytes, of which 8 remain
    assertEquals(
        "truncated training-stage RoundWeights: its values (3 floats) needs 12 bytes at offset 12,"
            + " only 8 of 20 remain",
        e.getMessage());
  }

  @Test
  void oversizedBytesSayHowManyAreLeftOver() {
    byte[] full = StageWire.encode(new StageMessages.Register(0, 0));
    byte[] longer = Arrays.copyOf(full, full.length + 3);
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> StageWire.decode(longer, StageMessages.Register.class));
    assertEquals(
        "oversized training-stage Register: 3 bytes left over after 16 of 19", e.getMessage());
  }

  @Test
  void aMessageOfAnotherTypeThanExpectedIsNamed() {
    byte[] register = StageWire.encode(new StageMessages.Register(0, 0));
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> StageWire.decode(register, RoundWeights.class));
    assertEquals("expected a training-stage RoundWeights, got a Register", e.getMessage());
  }

  @Test
  void bytesOfAnotherFormatAreRefused() {
    IllegalArgumentException magic =
        assertThrows(
            IllegalArgumentException.class,
            () -> StageWire.decode(new byte[] {1, 2, 3, 4, 0, 0, 0, 0}, Object.class));
    assertEquals(
        "not a training-stage message: magic 0x04030201, expected 0x454d5357 (a task and a driver"
            + " of different Ember versions?)",
        magic.getMessage());
    IllegalArgumentException shortOne =
        assertThrows(
            IllegalArgumentException.class, () -> StageWire.decode(new byte[3], Object.class));
    assertEquals(
        "not a training-stage message: 3 bytes, shorter than the 8-byte header",
        shortOne.getMessage());
    byte[] unknown =
        ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(0x454d5357).putInt(9).array();
    IllegalArgumentException type =
        assertThrows(IllegalArgumentException.class, () -> StageWire.decode(unknown, Object.class));
    assertEquals("not a training-stage message: unknown type 9", type.getMessage());
  }

  @Test
  void aNegativeLengthIsCorruptNotAnAllocation() {
    byte[] bytes =
        ByteBuffer.allocate(12)
            .order(ByteOrder.LITTLE_ENDIAN)
            .putInt(0x454d5357)
            .putInt(4)
            .putInt(-5)
            .array();
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> StageWire.decode(bytes, RoundWeights.class));
    assertEquals("corrupt training-stage RoundWeights: its values has length -5", e.getMessage());
  }

  @Test
  void aHugeLengthIsTruncationNotAnAllocation() {
    byte[] bytes =
        ByteBuffer.allocate(12)
            .order(ByteOrder.LITTLE_ENDIAN)
            .putInt(0x454d5357)
            .putInt(4)
            .putInt(Integer.MAX_VALUE)
            .array();
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> StageWire.decode(bytes, RoundWeights.class));
    assertEquals(
        "truncated training-stage RoundWeights: its values (2147483647 floats) needs 8589934588"
            + " bytes at offset 12, only 0 of 12 remain",
        e.getMessage());
  }

  @Test
  void anUnknownObjectCannotBeEncoded() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> StageWire.encode("hello"));
    assertEquals("not a training-stage message: java.lang.String", e.getMessage());
  }

  @Test
  void aSubmitsHeadPointsAtItsArraysInPlace() {
    Update u = new Update(new float[] {1f, 2f}, new float[] {5f}, 3, 0.5, 1);
    byte[] bytes = StageWire.encode(new StageMessages.Submit(4, 1, 7, u));
    StageWire.SubmitHead h = StageWire.submitHead(bytes);
    assertEquals(4, h.partition());
    assertEquals(7, h.step());
    assertEquals(2, h.values());
    assertEquals(1, h.buffers());
    assertSame(bytes, h.bytes(), "no copy of the message");
    float[] values = new float[2];
    StageWire.readFloats(bytes, h.valuesOffset(), values, 2);
    assertArrayEquals(new float[] {1f, 2f}, values);
    float[] buffers = new float[1];
    StageWire.readFloats(bytes, h.buffersOffset(), buffers, 1);
    assertArrayEquals(new float[] {5f}, buffers);
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> StageWire.submitHead(Arrays.copyOf(bytes, bytes.length - 1)));
    assertEquals(
        "truncated training-stage Submit: its buffers (1 floats) needs 4 bytes at offset "
            + (bytes.length - 4)
            + ", only 3 of "
            + (bytes.length - 1)
            + " remain",
        e.getMessage());
  }

  @Test
  void weightsAreReadIntoTheTasksArraysWhenTheSizesMatch() {
    RoundWeights mine = new RoundWeights(new float[2], new float[0]);
    RoundWeights read =
        StageWire.decodeWeights(
            StageWire.encode(new RoundWeights(new float[] {3f, 4f}, new float[0])), mine);
    assertSame(mine, read);
    assertArrayEquals(new float[] {3f, 4f}, mine.values());
    RoundWeights other =
        StageWire.decodeWeights(
            StageWire.encode(new RoundWeights(new float[] {5f}, new float[0])), mine);
    assertArrayEquals(new float[] {5f}, other.values());
    assertArrayEquals(new float[] {3f, 4f}, mine.values(), "another size: new arrays");
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                StageWire.decodeWeights(StageWire.encode(new StageMessages.Register(0, 0)), mine));
    assertEquals("expected a training-stage RoundWeights, got a Register", e.getMessage());
  }
}
