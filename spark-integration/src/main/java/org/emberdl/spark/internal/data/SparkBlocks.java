package org.emberdl.spark.internal.data;

import java.io.Serializable;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.function.Function;
import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;
import org.apache.spark.storage.BlockData;
import org.apache.spark.storage.BlockId;
import org.apache.spark.storage.BlockManager;
import org.apache.spark.storage.StorageLevel;
import org.apache.spark.storage.TestBlockId;
import org.apache.spark.util.io.ChunkedByteBuffer;
import org.emberdl.spark.internal.stage.BlockAllReduce;
import scala.Function1;
import scala.Option;
import scala.jdk.javaapi.CollectionConverters;
import scala.reflect.ClassTag$;

/**
 * Every use of Spark's block manager in Ember, in one place (pinned by {@code SparkBlocksTest}):
 * the blocks through which a training stage's tasks exchange chunks of each step's update ({@link
 * BlockAllReduce}). {@code BlockManager} and {@code BlockManagerMaster} are {@code private[spark]}
 * in Scala but public in bytecode; BigDL's allreduce goes through the same calls.
 *
 * <p>Blocks travel over Spark's block transfer service, so {@code spark.authenticate} and {@code
 * spark.network.crypto.enabled} protect them as they protect shuffle and broadcast blocks, and no
 * port is opened.
 *
 * <p>The block id is a {@link TestBlockId} ({@code "test_" + name}): the only {@code BlockId} whose
 * name is free-form and that Spark both parses back on the serving executor ({@code BlockId.apply},
 * which a remote fetch goes through) and otherwise leaves alone. A {@code BroadcastBlockId} would
 * be removed by the context cleaner and by {@code removeBroadcast} of a real broadcast with the
 * same id, an {@code RDDBlockId} by {@code unpersist}, and a name of our own would not parse
 * ({@code UnrecognizedBlockId}).
 */
public final class SparkBlocks {
  /** Memory first; a block too large for storage memory goes to local disk instead of failing. */
  private static final StorageLevel LEVEL = StorageLevel.MEMORY_AND_DISK_SER();

  private SparkBlocks() {}

  /** The block id named {@code "test_" + name}. */
  public static BlockId id(String name) {
    return new TestBlockId(name);
  }

  /**
   * Stores {@code bytes} (a heap buffer, kept by reference, not copied) as block {@code id} in this
   * JVM's block manager.
   *
   * @param tellMaster whether to tell the block manager master where the block is (a synchronous
   *     RPC to the driver), so that other executors find it by id
   * @throws IllegalStateException when the block manager refuses the block
   */
  public static void put(BlockId id, ByteBuffer bytes, boolean tellMaster) {
    boolean stored =
        blockManager()
            .putBytes(id, new ChunkedByteBuffer(bytes), LEVEL, tellMaster, ClassTag$.MODULE$.Any());
    if (!stored) {
      throw new IllegalStateException(
          "Spark's block manager refused block "
              + id.name()
              + " ("
              + bytes.remaining()
              + " bytes)");
    }
  }

  /**
   * {@code decode} applied to block {@code id}'s bytes, read from this JVM's block manager or else
   * fetched from the executor that holds it (a lookup through the block manager master, then a
   * fetch over the block transfer service); null when no block manager holds the block yet. A local
   * block is decoded under its read lock (released before returning).
   *
   * @param remote whether to look beyond this JVM (false in local mode, where every task shares the
   *     driver's block manager and a lookup through the master could only answer "nowhere")
   */
  public static <T> T read(BlockId id, boolean remote, Function<ByteBuffer, T> decode) {
    BlockManager bm = blockManager();
    Option<BlockData> local = bm.getLocalBytes(id);
    if (local.isDefined()) {
      BlockData data = local.get();
      try {
        return decode.apply(data.toByteBuffer());
      } finally {
        bm.releaseLockAndDispose(id, data, Option.apply(TaskContext.get()));
      }
    }
    if (!remote) {
      return null;
    }
    Option<ChunkedByteBuffer> fetched = bm.getRemoteBytes(id);
    return fetched.isDefined() ? decode.apply(fetched.get().toByteBuffer()) : null;
  }

  /** Removes block {@code id} from this JVM's block manager, telling the master if asked. */
  public static void remove(BlockId id, boolean tellMaster) {
    blockManager().removeBlock(id, tellMaster);
  }

  /**
   * The names of the blocks whose name starts with {@code "test_" + prefix} on any block manager of
   * the application, each asked directly (so blocks the master was never told of count too); on the
   * driver.
   */
  public static List<String> names(String prefix) {
    return CollectionConverters.asJava(
            blockManager().master().getMatchingBlockIds(startsWith(prefix), true))
        .stream()
        .map(BlockId::name)
        .distinct()
        .sorted()
        .toList();
  }

  /**
   * Removes the blocks that {@link #names} lists, on every block manager that told the master it
   * holds them and on the driver's own; on the driver, after a stage, for whatever a task could not
   * remove itself. Returns how many there were.
   */
  public static int removeAll(String prefix) {
    List<BlockId> ids =
        CollectionConverters.asJava(
            blockManager().master().getMatchingBlockIds(startsWith(prefix), true));
    for (BlockId b : ids) {
      blockManager().master().removeBlock(b);
      blockManager().removeBlock(b, false); // in local mode the master may not know of it
    }
    return (int) ids.stream().distinct().count();
  }

  /** A filter of block ids, sent to every executor's block manager (so serializable). */
  private static Function1<BlockId, Object> startsWith(String prefix) {
    String full = id(prefix).name();
    return (Function1<BlockId, Object> & Serializable) b -> b.name().startsWith(full);
  }

  /** Whether this JVM's block manager is the driver's (local mode runs every task there). */
  public static boolean onDriver() {
    return blockManager().blockManagerId().isDriver();
  }

  private static BlockManager blockManager() {
    return SparkEnv.get().blockManager();
  }
}
