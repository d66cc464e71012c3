package org.emberdl.benchmarks;

import static org.bytedeco.openblas.global.openblas_nolapack.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasRowMajor;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas_nolapack;
import org.emberdl.tensor.Backend;
import org.emberdl.tensor.Backends;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Device;
import org.emberdl.tensor.EmberConfig;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.NDArray;
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

/**
 * Square float32 GEMM {@code C = A @ B} through Ember against a raw {@code cblas_sgemm} on the very
 * same off-heap buffers. GFLOP/s = {@code 2 n^3 / time}.
 *
 * <ul>
 *   <li>{@code emberMatmul}: {@code a.matmul(b)} as users call it, output allocated (and closed)
 *       inside the measured call; Ember splits the rows over its pool of {@link
 *       EmberConfig#threads()} = 2 with OpenBLAS at 1 thread.
 *   <li>{@code emberMatmulInto}: the same GEMM into a preallocated output through the public {@link
 *       Backend#matmul} (what {@code matmul} calls after allocating), so the difference to {@code
 *       emberMatmul} is the allocation, first touch and free of the output.
 *   <li>{@code rawSgemm1t} / {@code rawSgemm2t}: one {@code cblas_sgemm} call with OpenBLAS set to
 *       1 / 2 threads (its own threading: the fair 2-thread baseline).
 *   <li>{@code rawRowSplit}: a diagnostic, Ember's strategy without Ember: the rows split in two
 *       halves, each a 1-thread {@code cblas_sgemm} on its own thread (the caller and one pooled
 *       thread). Ember vs this is Ember's own overhead; this vs {@code rawSgemm2t} is the cost of
 *       the row split against OpenBLAS's own 2-thread partitioning.
 * </ul>
 *
 * <p>Every benchmark method and {@code n} runs in its own forked JVM ({@code @Fork(1)}), so the
 * 2-thread OpenBLAS setting never meets Ember's {@code blas_set_num_threads(1)} (done on Ember's
 * first GEMM). Each benchmark's state also sets the OpenBLAS thread count it wants before every
 * iteration, so the methods stay isolated even under {@code -f 0}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
@State(Scope.Benchmark)
public class GemmBenchmark {
  /** Ember's pool size (and the raw baseline's best thread count) on the 2-vCPU machine. */
  static final int THREADS = 2;

  @Param({"256", "512", "1024", "2048"})
  public int n;

  private NDArray a;
  private NDArray b;
  private NDArray out;
  private Backend cpu;
  private FloatPointer pa;
  private FloatPointer pb;
  private FloatPointer pc;
  private FloatPointer pa2;
  private FloatPointer pc2;
  private ExecutorService helper;

  /** A FloatPointer on an address we own (as CpuGemm does): no copy, no allocation. */
  private static final class FloatAt extends FloatPointer {
    FloatAt(long address) {
      this.address = address;
    }
  }

  @Setup(Level.Trial)
  public void setUp() {
    EmberConfig.setThreads(THREADS);
    Generator gen = new Generator(42);
    a = NDArray.rand(gen, DType.FLOAT32, n, n);
    b = NDArray.rand(gen, DType.FLOAT32, n, n);
    out = NDArray.zeros(DType.FLOAT32, n, n); // zeros: its pages are touched before measuring
    cpu = Backends.of(Device.CPU);
    pa = new FloatAt(a.storage().address());
    pb = new FloatAt(b.storage().address());
    pc = new FloatAt(out.storage().address());
    int half = n / 2;
    pa2 = new FloatAt(a.storage().address() + 4L * half * n);
    pc2 = new FloatAt(out.storage().address() + 4L * half * n);
    helper =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "bench-gemm");
              t.setDaemon(true);
              return t;
            });
    checkSameResult();
  }

  /** Ember's product and the raw call's agree (guards against benchmarking the wrong thing). */
  private void checkSameResult() {
    openblas_nolapack.blas_set_num_threads(1);
    try (NDArray c = a.matmul(b)) {
      rawSgemm();
      float[] x = c.toFloatArray();
      float[] y = out.toFloatArray();
      for (int i = 0; i < x.length; i++) {
        if (Math.abs(x[i] - y[i]) > 1e-3f * (1 + Math.abs(y[i]))) {
          throw new IllegalStateException("Ember and cblas_sgemm differ at " + i);
        }
      }
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    helper.shutdownNow();
    a.close();
    b.close();
    out.close();
  }

  /** OpenBLAS at 1 thread: what Ember sets, and the 1-thread raw baseline. */
  @State(Scope.Benchmark)
  public static class Blas1 {
    @Setup(Level.Iteration)
    public void set() {
      openblas_nolapack.blas_set_num_threads(1);
    }
  }

  /** OpenBLAS at 2 threads, set right before each iteration. */
  @State(Scope.Benchmark)
  public static class Blas2 {
    @Setup(Level.Iteration)
    public void set() {
      openblas_nolapack.blas_set_num_threads(THREADS);
      if (openblas_nolapack.blas_get_num_threads() != THREADS) {
        throw new IllegalStateException(
            "OpenBLAS runs " + openblas_nolapack.blas_get_num_threads() + " threads");
      }
    }
  }

  private void rawSgemm() {
    openblas_nolapack.cblas_sgemm(
        CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1f, pa, n, pb, n, 0f, pc, n);
  }

  private void rawRows(int m, FloatPointer a0, FloatPointer c0) {
    openblas_nolapack.cblas_sgemm(
        CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, n, 1f, a0, n, pb, n, 0f, c0, n);
  }

  @Benchmark
  public NDArray emberMatmul(Blas1 blas) {
    NDArray c = a.matmul(b);
    c.close();
    return c;
  }

  @Benchmark
  public NDArray emberMatmulInto(Blas1 blas) {
    cpu.matmul(a, b, out);
    return out;
  }

  @Benchmark
  public FloatPointer rawSgemm1t(Blas1 blas) {
    rawSgemm();
    return pc;
  }

  @Benchmark
  public FloatPointer rawSgemm2t(Blas2 blas) {
    rawSgemm();
    return pc;
  }

  @Benchmark
  public FloatPointer rawRowSplit(Blas1 blas) throws Exception {
    int half = n / 2;
    Future<?> second = helper.submit(() -> rawRows(n - half, pa2, pc2));
    rawRows(half, pa, pc);
    second.get();
    return pc;
  }
}
