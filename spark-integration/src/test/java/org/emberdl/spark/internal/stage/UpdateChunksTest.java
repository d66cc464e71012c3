package org.emberdl.spark.internal.stage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.emberdl.federated.Update;
import org.emberdl.spark.internal.train.Coordinator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class UpdateChunksTest {
  /** 1001 values + 6 buffers = 1007 floats, which 2, 3 and 5 do not divide. */
  static final int VALUES = 1001;

  static final int BUFFERS = 6;

  @Test
  void chunksCoverTheVectorWithTheRemainderOnTheFirstChunks() {
    UpdateChunks c = new UpdateChunks(7, 3, 3); // 10 floats: 4, 3, 3
    assertEquals(List.of(0, 4, 7, 10), List.of(c.start(0), c.start(1), c.start(2), c.start(3)));
    assertEquals(List.of(4, 3, 3), List.of(c.size(0), c.size(1), c.size(2)));
    UpdateChunks small = new UpdateChunks(2, 0, 5); // fewer floats than partitions
    assertEquals(List.of(1, 1, 0, 0, 0), sizes(small));
  }

  @Test
  void aChunkStraddlingValuesAndBuffersTakesBoth() {
    Update u = new Update(new float[] {1, 2, 3, 4, 5, 6, 7}, new float[] {8, 9, 10}, 1, 0, 0);
    UpdateChunks c = new UpdateChunks(7, 3, 3);
    assertArrayEquals(new float[] {5, 6, 7}, c.flat(u, c.start(1), c.size(1)));
    assertArrayEquals(new float[] {8, 9, 10}, c.flat(u, c.start(2), c.size(2)));
    // chunk 0 lies in the values, chunk 1 straddles, chunk 2 lies in the buffers
    float[][] expected = {
      {1, 2, 3, 4, 0, 0, 0, 0, 0, 0},
      {0, 0, 0, 0, 5, 6, 7, 0, 0, 0},
      {0, 0, 0, 0, 0, 0, 0, 8, 9, 10}
    };
    for (int j = 0; j < 3; j++) {
      UpdateChunks.Chunk back = UpdateChunks.decode(c.encode(u, j), c.size(j), "block x");
      assertEquals(1, back.examples());
      float[] values = new float[7];
      float[] buffers = new float[3];
      c.place(back.floats(), j, values, buffers);
      assertArrayEquals(Arrays.copyOf(expected[j], 7), values);
      assertArrayEquals(Arrays.copyOfRange(expected[j], 7, 10), buffers);
    }
  }

  /**
   * The chunked sum (each chunk cut out of every partition's update, sent as bytes, summed in
   * partition order, put back together) equals Coordinator.sum of the whole updates bit for bit.
   */
  @ParameterizedTest
  @ValueSource(ints = {1, 2, 3, 5})
  void chunkedSumIsBitIdenticalToTheDriversSum(int partitions) {
    for (int seed = 0; seed < 5; seed++) {
      List<Update> updates = randomUpdates(partitions, seed);
      Update expected = Coordinator.sum(copies(updates));
      Update got = chunkedSum(updates, partitions, false);
      assertBits(expected.values(), got.values());
      assertBits(expected.buffers(), got.buffers());
      assertEquals(expected.examples(), got.examples());
      assertEquals(
          Double.doubleToRawLongBits(expected.lossSum()),
          Double.doubleToRawLongBits(got.lossSum()));
      assertEquals(expected.correct(), got.correct());
    }
  }

  /**
   * The driver's side of reduce-scatter: the shards each partition formed, placed by assemble, give
   * Coordinator.sum bit for bit; and chunk() cuts the new weights for each task as place() puts
   * them back.
   */
  @ParameterizedTest
  @ValueSource(ints = {1, 2, 3, 5})
  void assembledShardsAreTheDriversSumAndWeightChunksRoundTrip(int partitions) {
    List<Update> updates = randomUpdates(partitions, 11);
    Update expected = Coordinator.sum(copies(updates));
    UpdateChunks c = new UpdateChunks(VALUES, BUFFERS, partitions);
    UpdateChunks.Summed[] shards = new UpdateChunks.Summed[partitions];
    for (int j = 0; j < partitions; j++) {
      UpdateChunks.Chunk[] parts = new UpdateChunks.Chunk[partitions];
      for (int p = 0; p < partitions; p++) {
        parts[p] = UpdateChunks.decode(c.encode(updates.get(p), j), c.size(j), "chunk " + j);
      }
      shards[j] = UpdateChunks.sum(parts);
    }
    Update got = c.assemble(shards);
    assertBits(expected.values(), got.values());
    assertBits(expected.buffers(), got.buffers());
    assertEquals(
        Double.doubleToRawLongBits(expected.lossSum()), Double.doubleToRawLongBits(got.lossSum()));

    float[] values = new float[VALUES];
    float[] buffers = new float[BUFFERS];
    for (int j = 0; j < partitions; j++) {
      float[] chunk = c.chunk(got.values(), got.buffers(), j);
      c.place(FloatBuffer.wrap(chunk), j, values, buffers);
    }
    assertBits(got.values(), values);
    assertBits(got.buffers(), buffers);
  }

  @Test
  void assembleRefusesAMissingShardOrShardsThatDisagree() {
    UpdateChunks c = new UpdateChunks(3, 0, 2); // chunks of 2 and 1 floats
    UpdateChunks.Summed a = new UpdateChunks.Summed(new float[] {1, 2}, 5, 0.5, 1);
    IllegalArgumentException missing =
        assertThrows(
            IllegalArgumentException.class, () -> c.assemble(new UpdateChunks.Summed[] {a, null}));
    assertEquals(
        "partition 1's shard of the sum is missing where 1 were expected", missing.getMessage());
    UpdateChunks.Summed b = new UpdateChunks.Summed(new float[] {3}, 6, 0.5, 1);
    IllegalArgumentException differ =
        assertThrows(
            IllegalArgumentException.class, () -> c.assemble(new UpdateChunks.Summed[] {a, b}));
    assertTrue(
        differ.getMessage().startsWith("partition 1's shard of the sum has other totals"),
        differ.getMessage());
  }

  /** The equality above is not a property of any order: summing from the last partition differs. */
  @ParameterizedTest
  @ValueSource(ints = {3, 5})
  void anotherOrderChangesTheBits(int partitions) {
    List<Update> updates = randomUpdates(partitions, 7);
    Update expected = Coordinator.sum(copies(updates));
    Update reversed = chunkedSum(updates, partitions, true);
    assertFalse(
        Arrays.equals(bits(expected.values()), bits(reversed.values())),
        "summing in reverse order should change some last bits on this data");
  }

  @Test
  void aBlockOfTheWrongSizeIsRefusedNamingIt() {
    Update u = new Update(new float[] {1, 2, 3, 4}, new float[0], 1, 0, 0);
    ByteBuffer block = new UpdateChunks(4, 0, 2).encode(u, 0);
    IllegalStateException e =
        assertThrows(
            IllegalStateException.class,
            () -> UpdateChunks.decode(block, 3, "partition 1's block for chunk 0 of step 4"));
    assertEquals(
        "partition 1's block for chunk 0 of step 4 holds 2 floats in 8 bytes where 3 were"
            + " expected; the tasks disagree on the update's size",
        e.getMessage());
  }

  // ---------------------------------------------------------------------------------------------

  /**
   * What BlockAllReduce computes, without Spark: every chunk through bytes, summed by its owner.
   */
  static Update chunkedSum(List<Update> updates, int partitions, boolean reverse) {
    UpdateChunks c = new UpdateChunks(VALUES, BUFFERS, partitions);
    float[] values = new float[VALUES];
    float[] buffers = new float[BUFFERS];
    UpdateChunks.Summed scalars = null;
    for (int j = 0; j < partitions; j++) {
      UpdateChunks.Chunk[] parts = new UpdateChunks.Chunk[partitions];
      for (int p = 0; p < partitions; p++) {
        int slot = reverse ? partitions - 1 - p : p;
        // as a task does: its own chunk as a view of its update, the others' through bytes
        parts[slot] =
            p == j
                ? UpdateChunks.Chunk.own(c, updates.get(p), j)
                : UpdateChunks.decode(c.encode(updates.get(p), j), c.size(j), "chunk " + j);
      }
      UpdateChunks.Summed sum = UpdateChunks.sum(parts);
      ByteBuffer bytes = UpdateChunks.encodeFloats(sum.floats()); // the all-gather's block
      c.place(UpdateChunks.decodeFloats(bytes, c.size(j), "sum " + j), j, values, buffers);
      scalars = sum;
    }
    return new Update(values, buffers, scalars.examples(), scalars.lossSum(), scalars.correct());
  }

  /**
   * Updates whose floats span many binades (so that the order of additions shows in the last bits),
   * with some -0.0 and exact zeros, and random scalars.
   */
  static List<Update> randomUpdates(int partitions, long seed) {
    Random r = new Random(seed);
    List<Update> out = new ArrayList<>();
    for (int p = 0; p < partitions; p++) {
      out.add(
          new Update(
              randomFloats(r, VALUES),
              randomFloats(r, BUFFERS),
              r.nextInt(1000),
              r.nextDouble() * Math.pow(10, r.nextInt(7) - 3),
              r.nextInt(1000)));
    }
    return out;
  }

  static float[] randomFloats(Random r, int n) {
    float[] out = new float[n];
    for (int i = 0; i < n; i++) {
      int kind = r.nextInt(20);
      out[i] =
          kind == 0
              ? -0.0f
              : kind == 1 ? 0.0f : (float) (r.nextGaussian() * Math.pow(10, r.nextInt(9) - 4));
    }
    return out;
  }

  private static List<Update> copies(List<Update> updates) {
    List<Update> out = new ArrayList<>();
    for (Update u : updates) {
      out.add(
          new Update(
              u.values().clone(), u.buffers().clone(), u.examples(), u.lossSum(), u.correct()));
    }
    return out;
  }

  static void assertBits(float[] expected, float[] got) {
    assertEquals(expected.length, got.length);
    for (int i = 0; i < expected.length; i++) {
      if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(got[i])) {
        throw new AssertionError(
            "element " + i + ": expected " + expected[i] + " but was " + got[i] + " (bits differ)");
      }
    }
    assertTrue(Arrays.equals(bits(expected), bits(got)));
  }

  static int[] bits(float[] f) {
    int[] out = new int[f.length];
    for (int i = 0; i < f.length; i++) {
      out[i] = Float.floatToRawIntBits(f[i]);
    }
    return out;
  }

  private static List<Integer> sizes(UpdateChunks c) {
    List<Integer> out = new ArrayList<>();
    for (int j = 0; j < c.partitions(); j++) {
      out.add(c.size(j));
    }
    return out;
  }
}
