package org.emberdl.arrow;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.VectorUnloader;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.types.pojo.Schema;
import org.emberdl.tensor.NDArray;

/**
 * Writes record batches in Arrow IPC format (stream or file), from Arrow roots or straight from
 * arrays, to move batches between processes or to write test fixtures.
 *
 * <pre>{@code
 * try (ArrowBatchWriter w = ArrowBatchWriter.open(path, IpcFormat.FILE, allocator)) {
 *   w.write(Map.of("features", x, "label", y));   // x [N, 784] float32, y [N] int64
 * }
 * }</pre>
 *
 * <p>The schema is that of the first batch; every later batch must have the same one. Buffers go
 * from memory to the channel without an intermediate copy, and arrays are exported without copying.
 * Not thread-safe.
 */
public final class ArrowBatchWriter implements AutoCloseable {
  private final WritableByteChannel channel;
  private final IpcFormat format;
  private final BufferAllocator allocator;
  private IpcSink sink;
  private Schema schema;
  private long batches;

  private ArrowBatchWriter(WritableByteChannel channel, IpcFormat format, BufferAllocator alloc) {
    this.channel = channel;
    this.format = format;
    this.allocator = alloc;
  }

  /**
   * Creates (or truncates) {@code path}.
   *
   * @param allocator for the small per-batch memory (validity bitmaps of exported arrays)
   */
  public static ArrowBatchWriter open(Path path, IpcFormat format, BufferAllocator allocator)
      throws IOException {
    FileChannel channel =
        FileChannel.open(
            path,
            StandardOpenOption.CREATE,
            StandardOpenOption.TRUNCATE_EXISTING,
            StandardOpenOption.WRITE);
    return new ArrowBatchWriter(channel, format, allocator);
  }

  /** Writes to {@code out}, which {@link #close()} closes. */
  public static ArrowBatchWriter open(
      OutputStream out, IpcFormat format, BufferAllocator allocator) {
    return new ArrowBatchWriter(Channels.newChannel(out), format, allocator);
  }

  /**
   * Writes the rows of {@code batch} as one record batch.
   *
   * @throws IllegalArgumentException when its schema differs from the first batch's
   */
  public void write(VectorSchemaRoot batch) throws IOException {
    Schema s = batch.getSchema();
    if (sink == null) {
      sink = IpcSink.open(format, s, allocator, channel);
      schema = s;
    } else if (!schema.equals(s)) {
      throw new IllegalArgumentException(
          "batch " + batches + " has schema " + s + ", but this stream's schema is " + schema);
    }
    try (ArrowRecordBatch body = new VectorUnloader(batch).getRecordBatch()) {
      sink.write(body);
    }
    batches++;
  }

  /**
   * Writes arrays as one record batch, one column per entry in the map's iteration order; see
   * {@link ArrowTensors#export(Map, BufferAllocator)} for what each array may be.
   */
  public void write(Map<String, NDArray> columns) throws IOException {
    try (VectorSchemaRoot root = ArrowTensors.export(columns, allocator)) {
      write(root);
    }
  }

  /** Record batches written so far. */
  public long batchesWritten() {
    return batches;
  }

  /**
   * Ends the stream (a file gets its footer) and closes the channel. A writer closed before its
   * first batch has no schema and leaves the output empty.
   */
  @Override
  public void close() throws IOException {
    if (sink == null) {
      channel.close();
      return;
    }
    try {
      sink.end();
    } finally {
      sink.close();
    }
  }
}
