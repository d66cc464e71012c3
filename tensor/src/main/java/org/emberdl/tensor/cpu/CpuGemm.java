package org.emberdl.tensor.cpu;

import static org.bytedeco.openblas.global.openblas_nolapack.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasRowMajor;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasTrans;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas_nolapack;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.EmberConfig;
import org.emberdl.tensor.Layout;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.ops.UnaryOp;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Batched matrix multiply on OpenBLAS ({@code cblas_sgemm}/{@code cblas_dgemm}) straight on the
 * strided off-heap data: a transposed view is passed as a BLAS transpose flag, never copied. Only
 * views that no BLAS layout describes (e.g. a sliced column step) are copied first.
 *
 * <p>OpenBLAS runs single-threaded; Ember splits the work (batch entries, else row blocks) over its
 * own pool, so one set of threads owns the cores.
 */
final class CpuGemm {
  private static final Logger LOG = LoggerFactory.getLogger(CpuGemm.class);

  /** Loads OpenBLAS on first use (never on class-load of the CPU backend). */
  private static final class Blas {
    static {
      openblas_nolapack.blas_set_num_threads(1);
      LOG.debug("OpenBLAS loaded, set to 1 thread (Ember's pool parallelizes GEMM)");
    }

    static void init() {}
  }

  /** A FloatPointer/DoublePointer whose address we set per call: no allocation per GEMM. */
  private static final class FloatAt extends FloatPointer {
    FloatAt at(long address) {
      this.address = address;
      return this;
    }
  }

  private static final class DoubleAt extends DoublePointer {
    DoubleAt at(long address) {
      this.address = address;
      return this;
    }
  }

  private static final class Pointers {
    final FloatAt fa = new FloatAt();
    final FloatAt fb = new FloatAt();
    final FloatAt fc = new FloatAt();
    final DoubleAt da = new DoubleAt();
    final DoubleAt db = new DoubleAt();
    final DoubleAt dc = new DoubleAt();
  }

  private static final ThreadLocal<Pointers> POINTERS = ThreadLocal.withInitial(Pointers::new);

  /** How BLAS sees one strided matrix: transpose flag and leading dimension. */
  private record BlasView(int trans, int ld) {
    /** The view of a (rows x cols) matrix with these strides, or null if BLAS cannot take it. */
    static BlasView of(int rows, int cols, long rs, long cs) {
      if ((cols == 1 || cs == 1) && (rows == 1 || rs >= Math.max(1, cols))) {
        long ld = rows == 1 ? Math.max(1, cols) : rs;
        return ld <= Integer.MAX_VALUE ? new BlasView(CblasNoTrans, (int) ld) : null;
      }
      if ((rows == 1 || rs == 1) && (cols == 1 || cs >= Math.max(1, rows))) {
        long ld = cols == 1 ? Math.max(1, rows) : cs;
        return ld <= Integer.MAX_VALUE ? new BlasView(CblasTrans, (int) ld) : null;
      }
      return null;
    }
  }

  /** Stands for both operands' views when the inner dimension is empty (no BLAS call). */
  private static final BlasView NO_K = new BlasView(CblasNoTrans, 1);

  private CpuGemm() {}

  /** True when BLAS can read the last two dims of {@code a} as they are. */
  static boolean isBlasCompatible(Layout a) {
    int nd = a.ndim();
    return BlasView.of(
            a.shape()[nd - 2], a.shape()[nd - 1], a.strides()[nd - 2], a.strides()[nd - 1])
        != null;
  }

  /**
   * {@code out = a @ b} over the last two dims; batch dims of a and b are already expanded to
   * out's, out is contiguous, and a and b are BLAS-compatible ({@link #isBlasCompatible}).
   */
  static void matmul(NDArray a, NDArray b, NDArray out) {
    Blas.init();
    Layout la = a.layout();
    Layout lb = b.layout();
    int nd = out.layout().ndim();
    int m = out.layout().shape()[nd - 2];
    int n = out.layout().shape()[nd - 1];
    int k = la.shape()[nd - 1];
    if (m == 0 || n == 0) {
      return;
    }
    if (k == 0) {
      CpuBackend.INSTANCE.fill(out, 0);
      return;
    }
    boolean f32 = a.dtype() == DType.FLOAT32;
    int size = a.dtype().byteSize();
    long baseA = a.storage().address() + la.offset() * size;
    long baseB = b.storage().address() + lb.offset() * size;
    long baseC = out.storage().address() + out.layout().offset() * size;

    // Fold the batch into M when b is shared by every batch entry and a's rows run on evenly
    // through the batch (a Linear layer on [batch, seq, features] input): one large GEMM.
    int batchDims = nd - 2;
    long batch = 1;
    boolean bShared = true;
    for (int d = 0; d < batchDims; d++) {
      batch *= out.layout().shape()[d];
      bShared &= lb.strides()[d] == 0 || lb.shape()[d] == 1;
    }
    if (batch > 1 && bShared && rowsMerge(la, batchDims) && m * batch <= Integer.MAX_VALUE) {
      m = (int) (m * batch);
      batch = 1;
      batchDims = 0;
    }
    BlasView va = BlasView.of(m, k, la.strides()[nd - 2], la.strides()[nd - 1]);
    BlasView vb = BlasView.of(k, n, lb.strides()[nd - 2], lb.strides()[nd - 1]);
    if (va == null || vb == null) {
      throw new IllegalArgumentException("matmul operands must be BLAS-compatible views");
    }
    final int fm = m;
    final int fbd = batchDims;
    final long fbatch = batch;
    long flops = 2L * fm * n * k * fbatch;
    int threads = EmberConfig.threads();
    long minWork = 1L << 20; // below ~1 MFLOP the fork/join costs more than it saves
    if (fbatch >= threads) {
      // batch entries claimed in pieces: a thread that finishes early takes more
      Parallel.claim(
          fbatch,
          Parallel.grain(fbatch, 4),
          flops,
          minWork,
          (from, to) -> {
            for (long bi = from; bi < to; bi++) {
              long offA = 0;
              long offB = 0;
              long rem = bi;
              for (int d = fbd - 1; d >= 0; d--) {
                int s = out.layout().shape()[d];
                long i = rem % s;
                rem /= s;
                offA += i * la.strides()[d];
                offB += i * lb.strides()[d];
              }
              long offC = bi * fm * n;
              gemm(
                  f32,
                  va,
                  vb,
                  fm,
                  n,
                  k,
                  baseA + offA * size,
                  baseB + offB * size,
                  baseC + offC * size,
                  n);
            }
          });
      return;
    }
    // Few batch entries: split each product's rows across threads.
    long rowStrideA = va.trans == CblasNoTrans ? va.ld : 1;
    for (long bi = 0; bi < fbatch; bi++) {
      long offA = 0;
      long offB = 0;
      long rem = bi;
      for (int d = fbd - 1; d >= 0; d--) {
        int s = out.layout().shape()[d];
        long i = rem % s;
        rem /= s;
        offA += i * la.strides()[d];
        offB += i * lb.strides()[d];
      }
      long a0 = baseA + offA * size;
      long b0 = baseB + offB * size;
      long c0 = baseC + bi * fm * n * size;
      int blocks = (int) Math.min(threads, Math.max(1, fm / 16));
      Parallel.range(
          blocks,
          2L * fm * n * k,
          minWork,
          (from, to) -> {
            for (long t = from; t < to; t++) {
              int r0 = (int) (fm * t / blocks);
              int r1 = (int) (fm * (t + 1) / blocks);
              if (r1 > r0) {
                gemm(
                    f32,
                    va,
                    vb,
                    r1 - r0,
                    n,
                    k,
                    a0 + r0 * rowStrideA * size,
                    b0,
                    c0 + (long) r0 * n * size,
                    n);
              }
            }
          });
    }
  }

  /**
   * {@code out = epilogue(x @ w^T + bias)}: x {@code (m, k)} and w {@code (n, k)} BLAS-compatible
   * with unit column stride, bias {@code (n)} contiguous or null, epilogue null or an elementwise
   * op, out {@code (m, n)} contiguous. One parallel region: each thread takes a block of rows,
   * writes the bias into it, lets the GEMM accumulate onto it (beta 1; the inner dimension sliced
   * as in {@link #gemm}) and runs the epilogue on the block while it is in cache, so a layer costs
   * one fork/join and one pass over its output instead of three of each.
   */
  static void linear(NDArray x, NDArray w, NDArray bias, UnaryOp epilogue, NDArray out) {
    Blas.init();
    Layout lx = x.layout();
    Layout lw = w.layout();
    int m = lx.shape()[0];
    int k = lx.shape()[1];
    int n = lw.shape()[0];
    if (m == 0 || n == 0) {
      return;
    }
    boolean f32 = x.dtype() == DType.FLOAT32;
    long size = x.dtype().byteSize();
    // w^T is (k, n) with strides (w's column stride, w's row stride); k = 0 needs no BLAS view
    BlasView va = k == 0 ? NO_K : BlasView.of(m, k, lx.strides()[0], lx.strides()[1]);
    BlasView vb = k == 0 ? NO_K : BlasView.of(k, n, lw.strides()[1], lw.strides()[0]);
    if (va == null || vb == null || va.trans != CblasNoTrans) {
      throw new IllegalArgumentException(
          "linear needs x with unit column stride and a BLAS-compatible weight");
    }
    long a0 = x.storage().address() + lx.offset() * size;
    long b0 = w.storage().address() + lw.offset() * size;
    long c0 = out.storage().address() + out.layout().offset() * size;
    long bias0 = bias == null ? 0 : bias.storage().address() + bias.layout().offset() * size;
    long rowBytes = n * size;
    Family fam = Family.of(out.dtype());
    int threads = EmberConfig.threads();
    int blocks = (int) Math.min(threads, Math.max(1, m / 16));
    Parallel.range(
        blocks,
        2L * m * n * Math.max(k, 1),
        1L << 20,
        (from, to) -> {
          for (long t = from; t < to; t++) {
            int r0 = (int) (m * t / blocks);
            int r1 = (int) (m * (t + 1) / blocks);
            if (r1 <= r0) {
              continue;
            }
            long c = c0 + r0 * rowBytes;
            if (bias != null) {
              for (int r = r0; r < r1; r++) {
                UnsafeAccess.UNSAFE.copyMemory(bias0, c0 + r * rowBytes, rowBytes);
              }
            } else if (k == 0) {
              UnsafeAccess.UNSAFE.setMemory(c, (r1 - r0) * rowBytes, (byte) 0);
            }
            if (k > 0) {
              gemm(
                  f32,
                  va,
                  vb,
                  r1 - r0,
                  n,
                  k,
                  a0 + (long) r0 * va.ld * size,
                  b0,
                  c,
                  n,
                  bias != null);
            }
            if (epilogue != null) {
              // nested: runs on this thread (Parallel does not fork inside a region)
              Operand rows = Operand.at(c, out.dtype(), new long[] {n, 1});
              ElementwiseLoop.run(
                  new int[] {r1 - r0, n},
                  fam,
                  rows,
                  new Operand[] {rows},
                  CpuUnaryKernels.kernel(epilogue, fam));
            }
          }
        });
  }

  /**
   * One GEMM on the calling thread, {@code C (m, n) = op(A) op(B)} on raw row-major addresses
   * ({@code transA}: A is stored (k, m) with leading dimension {@code lda}; likewise B), the inner
   * dimension sliced as in {@link #gemm}. For kernels that run GEMMs inside their own parallel
   * region.
   */
  static void gemmOnThisThread(
      boolean f32,
      boolean transA,
      int lda,
      boolean transB,
      int ldb,
      int m,
      int n,
      int k,
      long a,
      long b,
      long c,
      int ldc) {
    Blas.init();
    gemm(
        f32,
        new BlasView(transA ? CblasTrans : CblasNoTrans, lda),
        new BlasView(transB ? CblasTrans : CblasNoTrans, ldb),
        m,
        n,
        k,
        a,
        b,
        c,
        ldc);
  }

  /** True when a's batch dims and row dim form one evenly strided run of rows. */
  private static boolean rowsMerge(Layout a, int batchDims) {
    int nd = a.ndim();
    long expected = a.strides()[nd - 2] * a.shape()[nd - 2];
    for (int d = batchDims - 1; d >= 0; d--) {
      if (a.shape()[d] != 1 && a.strides()[d] != expected) {
        return false;
      }
      expected = a.strides()[d] == 0 ? expected : a.strides()[d] * a.shape()[d];
    }
    // a NoTrans row-major A is needed for the merged rows to be addressable with one ld
    return a.strides()[nd - 1] == 1 || a.shape()[nd - 1] == 1;
  }

  /**
   * Depth of one BLAS call when {@link #gemm} splits a long inner dimension. OpenBLAS 0.3.31 (the
   * bytedeco build, AMD EPYC, one thread) runs a product with a long k and small m and n, such as a
   * Linear layer's weight gradient {@code (192 x 2176) @ (2176 x 64)}, at less than half the speed
   * of the same product as a sequence of calls of depth 256-384 accumulating into C (measured: 4.3
   * ms as one call, 1.6 ms as six calls of depth 363; depth 544 gave 2.1 ms).
   */
  static final int K_CHUNK = 384;

  /** Inner dimensions above this are split into calls of depth at most {@link #K_CHUNK}. */
  static final int K_SPLIT_ABOVE = 512;

  /**
   * {@code C = op(A) op(B)} as one BLAS call, or as {@code ceil(k / K_CHUNK)} calls over equal
   * slices of the inner dimension, the first with beta 0 and the rest adding into C. The slicing
   * depends on the shapes only (never on the thread count), so results are reproducible.
   */
  private static void gemm(
      boolean f32, BlasView va, BlasView vb, int m, int n, int k, long a, long b, long c, int ldc) {
    gemm(f32, va, vb, m, n, k, a, b, c, ldc, false);
  }

  /** As above; with {@code addToC} every call (the first slice too) adds onto what C holds. */
  private static void gemm(
      boolean f32,
      BlasView va,
      BlasView vb,
      int m,
      int n,
      int k,
      long a,
      long b,
      long c,
      int ldc,
      boolean addToC) {
    if (k <= K_SPLIT_ABOVE) {
      blas(f32, va, vb, m, n, k, a, b, c, ldc, addToC);
      return;
    }
    int parts = (k + K_CHUNK - 1) / K_CHUNK;
    long size = f32 ? Float.BYTES : Double.BYTES;
    // one step along k: a column of a row-major A (a row of a transposed one), a row of B
    long stepA = (va.trans == CblasNoTrans ? 1 : va.ld) * size;
    long stepB = (vb.trans == CblasNoTrans ? vb.ld : 1) * size;
    for (int p = 0; p < parts; p++) {
      int k0 = (int) ((long) k * p / parts);
      int k1 = (int) ((long) k * (p + 1) / parts);
      blas(f32, va, vb, m, n, k1 - k0, a + k0 * stepA, b + k0 * stepB, c, ldc, addToC || p > 0);
    }
  }

  /** One BLAS call; {@code accumulate}: beta 1 (add onto C), else beta 0. */
  private static void blas(
      boolean f32,
      BlasView va,
      BlasView vb,
      int m,
      int n,
      int k,
      long a,
      long b,
      long c,
      int ldc,
      boolean accumulate) {
    Pointers p = POINTERS.get();
    if (f32) {
      openblas_nolapack.cblas_sgemm(
          CblasRowMajor,
          va.trans,
          vb.trans,
          m,
          n,
          k,
          1f,
          p.fa.at(a),
          va.ld,
          p.fb.at(b),
          vb.ld,
          accumulate ? 1f : 0f,
          p.fc.at(c),
          ldc);
    } else {
      openblas_nolapack.cblas_dgemm(
          CblasRowMajor,
          va.trans,
          vb.trans,
          m,
          n,
          k,
          1.0,
          p.da.at(a),
          va.ld,
          p.db.at(b),
          vb.ld,
          accumulate ? 1.0 : 0.0,
          p.dc.at(c),
          ldc);
    }
  }
}
