package org.emberdl.arrow;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.ipc.ArrowStreamReader;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.memory.Allocators;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Batches written from arrays read back equal, in both formats, and through plain Arrow too. */
class IpcTest extends ArrowTestBase {
  private static final ArrowBatchSpec SPEC =
      ArrowBatchSpec.features("features").width(784).labels("label");

  @TempDir Path dir;

  @ParameterizedTest
  @EnumSource(IpcFormat.class)
  void arraysRoundTripThroughAFile(IpcFormat format) throws IOException {
    Path path = dir.resolve("batches." + format);
    Generator gen = new Generator(7);
    List<NDArray> written = new ArrayList<>();
    try {
      try (ArrowBatchWriter w = ArrowBatchWriter.open(path, format, arrow)) {
        for (int rows : new int[] {5, 3, 0, 4}) { // an empty batch in the middle
          NDArray x = NDArray.rand(gen, DType.FLOAT32, rows, 784);
          NDArray y = NDArray.randint(gen, 0, 10, rows);
          written.add(x);
          written.add(y);
          w.write(columns(x, y));
        }
        assertEquals(4, w.batchesWritten());
      }
      List<ArrowBatch> read = new ArrayList<>();
      try (ArrowBatchReader r = ArrowBatchReader.open(path, arrow)) {
        assertEquals(format, r.format());
        while (r.loadNextBatch()) {
          read.add(r.batch(SPEC)); // kept across loadNextBatch and past the reader's close
        }
      }
      assertEquals(4, read.size());
      for (int i = 0; i < read.size(); i++) {
        try (ArrowBatch b = read.get(i)) {
          assertArrayEquals(written.get(2 * i).toFloatArray(), b.features().toFloatArray());
          assertArrayEquals(written.get(2 * i + 1).toLongArray(), b.labels().toLongArray());
          assertEquals(0, b.features().storage().address() % 8, "IPC bodies are 8-byte aligned");
        }
      }
    } finally {
      written.forEach(NDArray::close);
    }
  }

  @Test
  void aStreamGoesThroughBytesBetweenProcesses() throws IOException {
    ByteArrayOutputStream pipe = new ByteArrayOutputStream();
    try (NDArray x = NDArray.of(Vectors.iota(784 * 2), 2, 784);
        NDArray y = NDArray.of(new long[] {4, 2})) {
      try (ArrowBatchWriter w = ArrowBatchWriter.open(pipe, IpcFormat.STREAM, arrow)) {
        w.write(columns(x, y));
        w.write(columns(x, y));
      }
      try (ArrowBatchReader r =
          ArrowBatchReader.open(new ByteArrayInputStream(pipe.toByteArray()), arrow)) {
        int batches = 0;
        while (r.loadNextBatch()) {
          try (ArrowBatch b = r.batch(SPEC)) {
            assertArrayEquals(x.toFloatArray(), b.features().toFloatArray());
            assertArrayEquals(new long[] {4, 2}, b.labels().toLongArray());
          }
          batches++;
        }
        assertEquals(2, batches);
      }
    }
  }

  @Test
  void exportedPredictionsReadBackThroughPlainArrow() throws IOException {
    Path path = dir.resolve("pred.arrow");
    try (NDArray p = NDArray.of(new float[] {0.1f, 0.9f, 0.7f, 0.3f}, 2, 2)) {
      try (ArrowBatchWriter w = ArrowBatchWriter.open(path, IpcFormat.FILE, arrow)) {
        w.write(Map.of("probs", p));
      }
    }
    try (ArrowFileReader r = new ArrowFileReader(Files.newByteChannel(path), arrow)) {
      assertEquals(1, r.getRecordBlocks().size());
      assertTrue(r.loadNextBatch());
      FixedSizeListVector v = (FixedSizeListVector) r.getVectorSchemaRoot().getVector("probs");
      assertEquals(List.of(0.7f, 0.3f), v.getObject(1));
    }
  }

  @Test
  void anArrowRootFromAnotherAllocatorIsWrittenAsIs() throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (FixedSizeListVector px = Vectors.fixedList(arrow, "features", 784, Vectors.iota(784));
        BigIntVector label = Vectors.int64(arrow, "label", 9);
        VectorSchemaRoot root = VectorSchemaRoot.of(px, label);
        ArrowBatchWriter w = ArrowBatchWriter.open(out, IpcFormat.STREAM, arrow)) {
      w.write(root);
      try (NDArray other = NDArray.of(new float[] {1})) {
        IllegalArgumentException e =
            assertThrows(IllegalArgumentException.class, () -> w.write(Map.of("other", other)));
        assertTrue(e.getMessage().contains("batch 1 has schema"), e.getMessage());
      }
    }
    try (ArrowStreamReader r =
        new ArrowStreamReader(new ByteArrayInputStream(out.toByteArray()), arrow)) {
      assertTrue(r.loadNextBatch());
      assertEquals(9L, ((BigIntVector) r.getVectorSchemaRoot().getVector("label")).get(0));
      assertFalse(r.loadNextBatch());
    }
  }

  @Test
  void batchesCanBeReadIntoEmbersOwnAllocator() throws IOException {
    Path path = dir.resolve("ember.arrow");
    try (NDArray x = NDArray.of(Vectors.iota(784 * 3), 3, 784);
        NDArray y = NDArray.of(new long[] {1, 2, 3})) {
      try (ArrowBatchWriter w = ArrowBatchWriter.open(path, IpcFormat.FILE, arrow)) {
        w.write(columns(x, y));
      }
      try (BufferAllocator ember =
              Allocators.cpu().newChildAllocator("ipc-test", 0, Long.MAX_VALUE);
          ArrowBatchReader r = ArrowBatchReader.open(path, ember)) {
        assertTrue(r.loadNextBatch());
        try (ArrowBatch b = r.batch(SPEC)) {
          assertEquals(0, b.features().storage().address() % 8);
          assertArrayEquals(x.toFloatArray(), b.features().toFloatArray());
          assertArrayEquals(new long[] {1, 2, 3}, b.labels().toLongArray());
        }
      }
    }
  }

  @Test
  void aWriterClosedBeforeAnyBatchLeavesAnEmptyOutput() throws IOException {
    Path path = dir.resolve("empty.arrow");
    ArrowBatchWriter.open(path, IpcFormat.FILE, arrow).close();
    assertEquals(0, Files.size(path));
  }

  private static Map<String, NDArray> columns(NDArray x, NDArray y) {
    Map<String, NDArray> m = new LinkedHashMap<>();
    m.put("features", x);
    m.put("label", y);
    return m;
  }
}
