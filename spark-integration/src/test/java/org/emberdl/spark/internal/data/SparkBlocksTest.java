package org.emberdl.spark.internal.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.List;
import org.apache.spark.storage.BlockId;
import org.apache.spark.storage.TestBlockId;
import org.emberdl.spark.SparkTestSession;
import org.junit.jupiter.api.Test;

/** Pins the block manager calls of {@link SparkBlocks}, so an upgrade that changes them fails. */
class SparkBlocksTest {
  static {
    SparkTestSession.get();
  }

  @Test
  void aBlockIdIsFreeFormAndParsesBackFromItsName() {
    // A remote fetch sends the name; the serving executor parses it with BlockId.apply.
    BlockId id = SparkBlocks.id("ember-allreduce-k-st3.1-s2-rs-p0-c1");
    assertEquals("test_ember-allreduce-k-st3.1-s2-rs-p0-c1", id.name());
    BlockId parsed = org.apache.spark.storage.BlockId$.MODULE$.apply(id.name());
    assertInstanceOf(TestBlockId.class, parsed);
    assertEquals(id, parsed);
  }

  @Test
  void putReadListAndRemove() {
    BlockId id = SparkBlocks.id("ember-pin-a");
    SparkBlocks.put(id, ByteBuffer.wrap(new byte[] {1, 2, 3}), true);
    assertTrue(SparkBlocks.onDriver());
    assertEquals(List.of("test_ember-pin-a"), SparkBlocks.names("ember-pin-"));
    byte[] back = SparkBlocks.read(id, true, SparkBlocksTest::bytes);
    assertArrayEquals(new byte[] {1, 2, 3}, back);
    SparkBlocks.remove(id, true);
    assertEquals(List.of(), SparkBlocks.names("ember-pin-"));
    assertNull(SparkBlocks.read(id, true, SparkBlocksTest::bytes));
    assertNull(SparkBlocks.read(id, false, SparkBlocksTest::bytes));
  }

  @Test
  void removeAllRemovesWhatMatchesAndNothingElse() {
    SparkBlocks.put(SparkBlocks.id("ember-pin-b-1"), ByteBuffer.wrap(new byte[] {1}), true);
    SparkBlocks.put(SparkBlocks.id("ember-pin-b-2"), ByteBuffer.wrap(new byte[] {2}), true);
    SparkBlocks.put(SparkBlocks.id("ember-pin-c-1"), ByteBuffer.wrap(new byte[] {3}), true);
    // a block the master was not told of (local mode) is still listed and removed
    SparkBlocks.put(SparkBlocks.id("ember-pin-b-3"), ByteBuffer.wrap(new byte[] {4}), false);
    assertEquals(
        List.of("test_ember-pin-b-1", "test_ember-pin-b-2", "test_ember-pin-b-3"),
        SparkBlocks.names("ember-pin-b-"));
    assertEquals(3, SparkBlocks.removeAll("ember-pin-b-"));
    assertEquals(List.of(), SparkBlocks.names("ember-pin-b-"));
    assertEquals(List.of("test_ember-pin-c-1"), SparkBlocks.names("ember-pin-c-"));
    SparkBlocks.remove(SparkBlocks.id("ember-pin-c-1"), true);
  }

  private static byte[] bytes(ByteBuffer b) {
    byte[] out = new byte[b.remaining()];
    b.duplicate().get(out);
    return out;
  }
}
