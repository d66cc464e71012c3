package org.emberdl.benchmarks;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.emberdl.arrow.ArrowBatch;
import org.emberdl.arrow.ArrowBatchReader;
import org.emberdl.arrow.ArrowBatchSpec;
import org.emberdl.arrow.ArrowBatchWriter;
import org.emberdl.arrow.ArrowTensors;
import org.emberdl.arrow.IpcFormat;
import org.emberdl.arrow.NullCheck;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.memory.Allocators;
import org.emberdl.tensor.memory.HostMemory;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * The Arrow bridge: zero-copy wrapping, and Arrow IPC into arrays against a plain memory copy.
 *
 * <ul>
 *   <li>{@code wrapSkip}, {@code wrapScan} ({@code rows} = 1K, 100K, 1M of 784 float32: 3.1 MB to
 *       3.1 GB): {@code ArrowTensors.wrap} of a FixedSizeList vector, then close. With {@link
 *       NullCheck#SKIP} no buffer is read, so the time must not grow with {@code rows}; with {@link
 *       NullCheck#SCAN} (the default) the validity bitmaps are read, one bit per value (1/32 of the
 *       data's bytes), and the time grows with them.
 *   <li>{@code ipcFileToArrays} ({@code batchRows} = 1000, 10000): a Fashion-MNIST-sized IPC file
 *       (60000 rows of 784 float32 features and an int64 label: {@link #PAYLOAD_BYTES} bytes of
 *       values) read batch by batch into an {@link ArrowBatch} (features {@code [N, 784]}, labels
 *       {@code [N]}, nulls scanned). The file is in the page cache after the first read, so this is
 *       Arrow's read into fresh buffers plus Ember's checks.
 *   <li>{@code memcpy}: {@code HostMemory.copy} (one {@code Unsafe.copyMemory}, one thread) of the
 *       same {@link #PAYLOAD_BYTES} bytes between two touched off-heap buffers, the reference.
 * </ul>
 *
 * GB/s = {@link #PAYLOAD_BYTES} / time. Forked JVMs get the {@code --add-opens} Arrow needs.
 */
@BenchmarkMode(Mode.AverageTime)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(
    value = 1,
    jvmArgsAppend = {"--add-opens=java.base/java.nio=ALL-UNNAMED"})
public class ArrowBridgeBenchmark {
  static final int FEATURES = 784;
  static final int TRAIN_ROWS = 60_000;

  /** Values moved per file read: 60000 x 784 float32 plus 60000 int64. */
  static final long PAYLOAD_BYTES = (long) TRAIN_ROWS * FEATURES * 4 + (long) TRAIN_ROWS * 8;

  /** A FixedSizeList(784) float32 vector of {@code rows} rows, all valid. */
  @State(Scope.Benchmark)
  public static class Wrap {
    @Param({"1000", "100000", "1000000"})
    public int rows;

    BufferAllocator allocator;
    FixedSizeListVector vector;

    @Setup(Level.Trial)
    public void setUp() {
      allocator = new RootAllocator();
      vector = FixedSizeListVector.empty("pixels", FEATURES, allocator);
      vector.addOrGetVector(
          FieldType.notNullable(new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE)));
      vector.setInitialCapacity(rows);
      vector.allocateNew();
      Float4Vector child = (Float4Vector) vector.getDataVector();
      // allocateNew zeroes the buffers; mark every row and value valid.
      vector.getValidityBuffer().setOne(0, vector.getValidityBuffer().capacity());
      child.getValidityBuffer().setOne(0, child.getValidityBuffer().capacity());
      vector.setValueCount(rows);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
      vector.close();
      allocator.close();
    }
  }

  /** A Fashion-MNIST-sized IPC file in batches of {@code batchRows}. */
  @State(Scope.Benchmark)
  public static class Ipc {
    @Param({"1000", "10000"})
    public int batchRows;

    /** Where the reader allocates batch bodies: a plain Arrow root, or a child of Ember's. */
    @Param({"arrow", "ember"})
    public String allocatorKind;

    BufferAllocator allocator;
    Path file;
    final ArrowBatchSpec spec = ArrowBatchSpec.features("image").width(FEATURES).labels("label");

    @Setup(Level.Trial)
    public void setUp() throws IOException {
      allocator =
          allocatorKind.equals("ember")
              ? Allocators.cpu().newChildAllocator("ipc-benchmark", 0, Long.MAX_VALUE)
              : new RootAllocator();
      file = Files.createTempFile("ember-fashion-mnist-", ".arrow");
      Generator gen = new Generator(42);
      try (ArrowBatchWriter w = ArrowBatchWriter.open(file, IpcFormat.FILE, allocator)) {
        for (int start = 0; start < TRAIN_ROWS; start += batchRows) {
          int n = Math.min(batchRows, TRAIN_ROWS - start);
          try (NDArray x = NDArray.rand(gen, DType.FLOAT32, n, FEATURES);
              NDArray y = NDArray.randint(gen, 0, 10, n)) {
            Map<String, NDArray> columns = new LinkedHashMap<>();
            columns.put("image", x);
            columns.put("label", y);
            w.write(columns);
          }
        }
      }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
      Files.deleteIfExists(file);
      allocator.close();
    }
  }

  /** Two touched off-heap buffers of {@link #PAYLOAD_BYTES}. */
  @State(Scope.Benchmark)
  public static class Copy {
    NDArray src;
    NDArray dst;

    @Setup(Level.Trial)
    public void setUp() {
      src = NDArray.full(DType.INT64, 1, (int) (PAYLOAD_BYTES / 8));
      dst = NDArray.zeros(DType.INT64, (int) (PAYLOAD_BYTES / 8));
    }

    @TearDown(Level.Trial)
    public void tearDown() {
      src.close();
      dst.close();
    }
  }

  @Benchmark
  @OutputTimeUnit(TimeUnit.NANOSECONDS)
  public long wrapSkip(Wrap s) {
    try (NDArray a = ArrowTensors.wrap(s.vector, NullCheck.SKIP)) {
      return a.storage().address();
    }
  }

  @Benchmark
  @OutputTimeUnit(TimeUnit.NANOSECONDS)
  public long wrapScan(Wrap s) {
    try (NDArray a = ArrowTensors.wrap(s.vector)) {
      return a.storage().address();
    }
  }

  @Benchmark
  @OutputTimeUnit(TimeUnit.MILLISECONDS)
  public void ipcFileToArrays(Ipc s, Blackhole bh) throws IOException {
    try (ArrowBatchReader r = ArrowBatchReader.open(s.file, s.allocator)) {
      while (r.loadNextBatch()) {
        try (ArrowBatch b = r.batch(s.spec)) {
          bh.consume(b.features().storage().address());
          bh.consume(b.labels().storage().address());
        }
      }
    }
  }

  @Benchmark
  @OutputTimeUnit(TimeUnit.MILLISECONDS)
  public long memcpy(Copy s) {
    HostMemory.copy(s.src.storage().address(), s.dst.storage().address(), PAYLOAD_BYTES);
    return s.dst.storage().address();
  }
}
