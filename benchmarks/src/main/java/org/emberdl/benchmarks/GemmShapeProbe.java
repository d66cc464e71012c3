package org.emberdl.benchmarks;

import static org.bytedeco.openblas.global.openblas_nolapack.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasRowMajor;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasTrans;

import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas_nolapack;

/**
 * GFLOP/s of one-thread {@code cblas_sgemm} on the shapes of a Linear layer's forward ({@code (M x
 * K) @ W^T}, W {@code (N x K)} row-major), the way the call is laid out: B as the transposed weight
 * (what {@code Linear} passes), B as a pre-transposed {@code (K x N)} copy, the inner dimension
 * sliced into calls of depth at most 384 accumulating into C (what {@code CpuGemm} does above 512),
 * and the rows in blocks of 128/256/512/1024 calls. Run it under different {@code
 * OPENBLAS_CORETYPE} values to compare OpenBLAS's kernels on this CPU (Ember never sets it).
 *
 * <pre>
 * --shapes 4096x784x256,4096x256x128,4096x128x10   MxKxN list
 * --seconds X     time per variant (default 1.0)
 * </pre>
 *
 * Prints one {@code GEMM} line per shape and variant. Command-line output goes to stdout by design.
 */
public final class GemmShapeProbe {
  private GemmShapeProbe() {}

  /** A FloatPointer at an offset of another one's memory: no copy. */
  private static final class FloatAt extends FloatPointer {
    FloatAt(long address) {
      this.address = address;
    }
  }

  public static void main(String[] args) {
    Map<String, String> o = TrainingThroughput.parse(args);
    double seconds = Double.parseDouble(o.getOrDefault("seconds", "1.0"));
    openblas_nolapack.blas_set_num_threads(1);
    String core = System.getenv().getOrDefault("OPENBLAS_CORETYPE", "autodetected");
    System.out.println("# OpenBLAS (bytedeco) at 1 thread, OPENBLAS_CORETYPE=" + core);
    for (String shape :
        o.getOrDefault("shapes", "4096x784x256,4096x256x128,4096x128x10").split(",")) {
      String[] d = shape.split("x");
      probe(Integer.parseInt(d[0]), Integer.parseInt(d[1]), Integer.parseInt(d[2]), seconds);
    }
  }

  private static void probe(int m, int k, int n, double seconds) {
    SplittableRandom r = new SplittableRandom(42);
    try (FloatPointer a = new FloatPointer((long) m * k);
        FloatPointer w = new FloatPointer((long) n * k);
        FloatPointer wt = new FloatPointer((long) k * n);
        FloatPointer c = new FloatPointer((long) m * n)) {
      for (long i = 0; i < (long) m * k; i++) {
        a.put(i, (float) r.nextGaussian());
      }
      for (int i = 0; i < n; i++) {
        for (int j = 0; j < k; j++) {
          float v = (float) r.nextGaussian();
          w.put((long) i * k + j, v);
          wt.put((long) j * n + i, v);
        }
      }
      for (long i = 0; i < (long) m * n; i++) {
        c.put(i, 0f);
      }
      report(m, k, n, "W^T (trans B), one call", time(seconds, () -> call(a, w, c, m, k, n, true)));
      report(m, k, n, "W^T copy (no-trans B)", time(seconds, () -> call(a, wt, c, m, k, n, false)));
      if (k > 512) {
        report(
            m,
            k,
            n,
            "trans B, K sliced <=384",
            time(seconds, () -> sliced(a, w, c, m, k, n, true)));
        report(
            m,
            k,
            n,
            "no-trans B, K sliced <=384",
            time(seconds, () -> sliced(a, wt, c, m, k, n, false)));
      }
      for (int block : new int[] {128, 256, 512, 1024}) {
        if (block < m) {
          report(
              m,
              k,
              n,
              "trans B, row blocks of " + block,
              time(seconds, () -> blocks(a, w, c, m, k, n, block)));
        }
      }
    }
  }

  private static void call(
      FloatPointer a, FloatPointer b, FloatPointer c, int m, int k, int n, boolean transB) {
    openblas_nolapack.cblas_sgemm(
        CblasRowMajor,
        CblasNoTrans,
        transB ? CblasTrans : CblasNoTrans,
        m,
        n,
        k,
        1f,
        a,
        k,
        b,
        transB ? k : n,
        0f,
        c,
        n);
  }

  private static void sliced(
      FloatPointer a, FloatPointer b, FloatPointer c, int m, int k, int n, boolean transB) {
    int parts = (k + 383) / 384;
    for (int p = 0; p < parts; p++) {
      int k0 = k * p / parts;
      int k1 = k * (p + 1) / parts;
      openblas_nolapack.cblas_sgemm(
          CblasRowMajor,
          CblasNoTrans,
          transB ? CblasTrans : CblasNoTrans,
          m,
          n,
          k1 - k0,
          1f,
          new FloatAt(a.address() + 4L * k0),
          k,
          new FloatAt(b.address() + 4L * k0 * (transB ? 1 : n)),
          transB ? k : n,
          p == 0 ? 0f : 1f,
          c,
          n);
    }
  }

  private static void blocks(
      FloatPointer a, FloatPointer w, FloatPointer c, int m, int k, int n, int block) {
    for (int r0 = 0; r0 < m; r0 += block) {
      int rows = Math.min(block, m - r0);
      openblas_nolapack.cblas_sgemm(
          CblasRowMajor,
          CblasNoTrans,
          CblasTrans,
          rows,
          n,
          k,
          1f,
          new FloatAt(a.address() + 4L * r0 * k),
          k,
          w,
          k,
          0f,
          new FloatAt(c.address() + 4L * r0 * n),
          n);
    }
  }

  /** Seconds per call: warm-up of a quarter of the budget, then the best of 5 timed slices. */
  private static double time(double seconds, Runnable call) {
    long end = System.nanoTime() + (long) (seconds * 0.25e9);
    while (System.nanoTime() < end) {
      call.run();
    }
    double best = Double.MAX_VALUE;
    for (int s = 0; s < 5; s++) {
      long t0 = System.nanoTime();
      long stop = t0 + (long) (seconds * 0.15e9);
      int calls = 0;
      do {
        call.run();
        calls++;
      } while (System.nanoTime() < stop);
      best = Math.min(best, (System.nanoTime() - t0) / 1e9 / calls);
    }
    return best;
  }

  private static void report(int m, int k, int n, String variant, double secondsPerCall) {
    System.out.printf(
        Locale.ROOT,
        "GEMM %dx%dx%d %-28s %8.3f ms %6.1f GFLOP/s%n",
        m,
        k,
        n,
        variant,
        secondsPerCall * 1e3,
        2.0 * m * k * n / secondsPerCall / 1e9);
  }
}
