package org.emberdl.benchmarks;

import java.lang.reflect.Field;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.emberdl.tensor.Backend;
import org.emberdl.tensor.Backends;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Device;
import org.emberdl.tensor.EmberConfig;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.memory.HostMemory;
import org.emberdl.tensor.ops.BinaryOp;
import org.emberdl.tensor.ops.UnaryOp;
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
import sun.misc.Unsafe;

/**
 * Memory-bound elementwise kernels on 16M float32 (64 MB per array) against a plain off-heap copy
 * of the same bytes, with {@link EmberConfig#threads()} = {@code threads}. Bandwidth counts bytes
 * read + written per call: add 3 x 64 MB, relu 2 x 64 MB, copy 2 x 64 MB.
 *
 * <ul>
 *   <li>{@code add}, {@code relu}: {@code a.add(b)} / {@code x.relu()} as users call them, the
 *       output allocated (and closed) inside the measured call.
 *   <li>{@code addInto}, {@code reluInto}: the same kernels into a preallocated, already touched
 *       output through the public {@link Backend} ({@code binary}/{@code unary}), which is what the
 *       NDArray methods call after allocating: the gap to {@code add}/{@code relu} is the cost of a
 *       fresh 64 MB output.
 *   <li>{@code addInPlace} ({@code acc.addInPlace(b)}), {@code reluInPlace} ({@code out = x} on the
 *       same array: there is no public {@code reluInPlace}).
 *   <li>{@code copy}: {@code HostMemory.copy} (one {@code Unsafe.copyMemory}) of 64 MB, split into
 *       {@code threads} contiguous parts run on as many threads, as Ember splits its kernels.
 *   <li>{@code allocTouch}: {@code NDArray.empty} of 64 MB, one write per 4 KiB page, close: the
 *       first-touch (page fault) cost an allocating op pays on top of its kernel.
 * </ul>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
@State(Scope.Benchmark)
public class ElementwiseBenchmark {
  /** 16M float32 = 64 MB per array. */
  static final int N = 1 << 24;

  static final long BYTES = 4L * N;

  private static final Unsafe UNSAFE = unsafe();

  @Param({"2", "1"})
  public int threads;

  private NDArray a;
  private NDArray b;
  private NDArray x;
  private NDArray acc;
  private NDArray inPlace;
  private NDArray out;
  private Backend cpu;
  private ExecutorService copyPool;

  private static Unsafe unsafe() {
    try {
      Field f = Unsafe.class.getDeclaredField("theUnsafe");
      f.setAccessible(true);
      return (Unsafe) f.get(null);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  @Setup(Level.Trial)
  public void setUp() {
    EmberConfig.setThreads(threads);
    Generator gen = new Generator(7);
    a = NDArray.rand(gen, DType.FLOAT32, N);
    b = NDArray.rand(gen, DType.FLOAT32, N);
    x = NDArray.randn(gen, DType.FLOAT32, N); // half negative: relu does real work
    acc = a.copy();
    inPlace = x.copy();
    out = NDArray.zeros(DType.FLOAT32, N); // zeros: its pages are touched before measuring
    cpu = Backends.of(Device.CPU);
    copyPool =
        Executors.newFixedThreadPool(
            Math.max(1, threads - 1),
            r -> {
              Thread t = new Thread(r, "bench-copy");
              t.setDaemon(true);
              return t;
            });
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    copyPool.shutdownNow();
    a.close();
    b.close();
    x.close();
    acc.close();
    inPlace.close();
    out.close();
  }

  @Benchmark
  public NDArray add() {
    NDArray c = a.add(b);
    c.close();
    return c;
  }

  @Benchmark
  public NDArray addInto() {
    cpu.binary(BinaryOp.ADD, a, b, out);
    return out;
  }

  @Benchmark
  public NDArray addInPlace() {
    return acc.addInPlace(b);
  }

  @Benchmark
  public NDArray relu() {
    NDArray c = x.relu();
    c.close();
    return c;
  }

  @Benchmark
  public NDArray reluInto() {
    cpu.unary(UnaryOp.RELU, x, out);
    return out;
  }

  @Benchmark
  public NDArray reluInPlace() {
    cpu.unary(UnaryOp.RELU, inPlace, inPlace);
    return inPlace;
  }

  @Benchmark
  public NDArray copy() throws Exception {
    long from = a.storage().address();
    long to = out.storage().address();
    if (threads == 1) {
      HostMemory.copy(from, to, BYTES);
      return out;
    }
    Future<?>[] parts = new Future<?>[threads - 1];
    for (int t = 1; t < threads; t++) {
      long start = BYTES * t / threads;
      long end = BYTES * (t + 1) / threads;
      parts[t - 1] = copyPool.submit(() -> HostMemory.copy(from + start, to + start, end - start));
    }
    HostMemory.copy(from, to, BYTES / threads);
    for (Future<?> p : parts) {
      p.get();
    }
    return out;
  }

  @Benchmark
  public long allocTouch() {
    try (NDArray c = NDArray.empty(DType.FLOAT32, N)) {
      long base = c.storage().address();
      for (long off = 0; off < BYTES; off += 4096) {
        UNSAFE.putByte(base + off, (byte) 1);
      }
      return base;
    }
  }
}
