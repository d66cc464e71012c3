package org.emberdl.benchmarks;

import java.lang.reflect.Field;
import java.util.concurrent.TimeUnit;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.EmberConfig;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.random.Philox;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Random fills of 235,146 float32 values, the parameter count of the 784-256-128-10 MLP: the
 * Gaussian noise DP-SGD adds to the summed gradient every step. Scores are nanoseconds per value
 * ({@code @OperationsPerInvocation}).
 *
 * <ul>
 *   <li>{@code normalFloat}, {@code uniformFloat}: {@link Philox#normal} / {@link Philox#uniform}
 *       into a {@code float[]} on the calling thread, one call for the whole fill (uniform is the
 *       floor: the Philox words alone, plus a multiply-add).
 *   <li>{@code ndarrayNormal}, {@code ndarrayRand}: {@code NDArray.normal} / {@code NDArray.rand}
 *       as DP-SGD calls them (output allocated and closed in the call), split over {@code threads}
 *       {@link EmberConfig} threads in 2048-value tiles.
 * </ul>
 *
 * <p>{@code vectorNormal} sets {@code -Demberdl.vectorNormal} before anything is drawn: {@code
 * false} keeps the scalar Box-Muller code, {@code true} lets the Vector API kernel take over as
 * soon as its background warm-up has checked it (about a second of CPU time, within the warm-up
 * iterations here; both give identical values). The fork needs {@code
 * --add-modules=jdk.incubator.vector}, which the README's {@code OPENS} flags include.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
@State(Scope.Benchmark)
public class RandomBenchmark {
  /** Parameters of the Fashion-MNIST MLP 784-256-128-10. */
  static final int N = 235_146;

  @Param({"true", "false"})
  public String vectorNormal;

  @Param({"1", "2"})
  public int threads;

  private final Philox philox = new Philox(42, 7);
  private final float[] out = new float[N];
  private Generator gen;
  private long offset;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    System.setProperty("emberdl.vectorNormal", vectorNormal);
    EmberConfig.setThreads(threads);
    gen = new Generator(7);
    if (Boolean.parseBoolean(vectorNormal)) {
      awaitVectorNormal();
    }
  }

  /**
   * Draws until the Vector API kernel is on (its switch is package-private, hence reflection), so
   * no measurement mixes the two paths; fails rather than report scalar numbers as vector ones.
   */
  private void awaitVectorNormal() throws Exception {
    Field enabled =
        Class.forName("org.emberdl.tensor.random.VectorNormalSwitch").getDeclaredField("enabled");
    enabled.setAccessible(true);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!enabled.getBoolean(null)) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(
            "the Vector API normal kernel did not switch on: is the fork run with"
                + " --add-modules=jdk.incubator.vector and C2?");
      }
      normalFloat();
    }
  }

  @Benchmark
  @OperationsPerInvocation(N)
  public float[] normalFloat() {
    // A fresh offset each call, as a training loop draws fresh noise.
    philox.normal(offset, out, 0, N, 0f, 1f);
    offset += N;
    return out;
  }

  @Benchmark
  @OperationsPerInvocation(N)
  public float[] uniformFloat() {
    philox.uniform(offset, out, 0, N, 0f, 1f);
    offset += N;
    return out;
  }

  @Benchmark
  @OperationsPerInvocation(N)
  public NDArray ndarrayNormal() {
    NDArray z = NDArray.normal(gen, DType.FLOAT32, 0, 1.1, N);
    z.close();
    return z;
  }

  @Benchmark
  @OperationsPerInvocation(N)
  public NDArray ndarrayRand() {
    NDArray u = NDArray.rand(gen, DType.FLOAT32, N);
    u.close();
    return u;
  }
}
