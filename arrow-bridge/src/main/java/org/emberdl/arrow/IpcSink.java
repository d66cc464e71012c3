package org.emberdl.arrow;

import java.io.IOException;
import java.nio.channels.WritableByteChannel;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowFileWriter;
import org.apache.arrow.vector.ipc.ArrowStreamWriter;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * An Arrow IPC writer that takes record batches unloaded from any root. Arrow's writers serialize
 * one root they are built on, and moving another root's buffers into it needs both under one
 * allocator root; writing the unloaded batch itself (through the writers' protected hook) has no
 * such limit and copies nothing in memory.
 */
interface IpcSink extends AutoCloseable {
  void write(ArrowRecordBatch batch) throws IOException;

  /** Writes the end of the stream (and a file's footer); idempotent. */
  void end() throws IOException;

  /** Ends if not yet ended, then closes the channel. */
  @Override
  void close();

  static IpcSink open(
      IpcFormat format, Schema schema, BufferAllocator allocator, WritableByteChannel out) {
    // The writers read only the schema from this root; it never holds buffers.
    VectorSchemaRoot schemaOnly = VectorSchemaRoot.create(schema, allocator);
    return switch (format) {
      case STREAM -> new StreamSink(schemaOnly, out);
      case FILE -> new FileSink(schemaOnly, out);
    };
  }

  /** The stream format. */
  final class StreamSink extends ArrowStreamWriter implements IpcSink {
    private final VectorSchemaRoot schemaOnly;

    StreamSink(VectorSchemaRoot schemaOnly, WritableByteChannel out) {
      super(schemaOnly, null, out);
      this.schemaOnly = schemaOnly;
    }

    @Override
    public void write(ArrowRecordBatch batch) throws IOException {
      start(); // idempotent: writes the schema message once
      writeRecordBatch(batch);
    }

    @Override
    public void close() {
      try {
        super.close();
      } finally {
        schemaOnly.close();
      }
    }
  }

  /** The file format: the stream plus a footer of record blocks. */
  final class FileSink extends ArrowFileWriter implements IpcSink {
    private final VectorSchemaRoot schemaOnly;

    FileSink(VectorSchemaRoot schemaOnly, WritableByteChannel out) {
      super(schemaOnly, null, out);
      this.schemaOnly = schemaOnly;
    }

    @Override
    public void write(ArrowRecordBatch batch) throws IOException {
      start();
      writeRecordBatch(batch);
    }

    @Override
    public void close() {
      try {
        super.close();
      } finally {
        schemaOnly.close();
      }
    }
  }
}
