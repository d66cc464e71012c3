package org.emberdl.tensor.cuda;

import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.cuda.global.cublas;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.emberdl.tensor.DType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * GEMM through cuBLAS ({@code cublas{S,D}gemmStridedBatched}) on the engine's stream, where the
 * machine has cuBLAS ({@link CudaLibraries}). cuBLAS is column-major: the row-major {@code C = A B}
 * is computed as the column-major {@code C^T = B^T A^T}, each operand's transpose flag and leading
 * dimension read off its strides; a layout cuBLAS cannot describe (a stride-0 expand, a column
 * step) returns false and Ember's kernel runs instead.
 */
final class CublasGemm {
  private static final Logger LOG = LoggerFactory.getLogger(CublasGemm.class);
  private static final int OP_N = 0;
  private static final int OP_T = 1;

  private final cublasContext handle;
  private final CudaContext context;

  private CublasGemm(cublasContext handle, CudaContext context) {
    this.handle = handle;
    this.context = context;
  }

  /** A handle on {@code context}'s stream, or null where cuBLAS is missing or fails to start. */
  static CublasGemm open(CudaContext context) {
    if (!CudaLibraries.status().get(0).found()) {
      return null;
    }
    try {
      context.makeCurrent();
      cublasContext h = new cublasContext();
      int rc = cublas.cublasCreate_v2(h);
      if (rc != 0) {
        LOG.warn("{}: cublasCreate failed ({}); GEMM runs Ember's kernel", context.name(), rc);
        return null;
      }
      rc = cublas.cublasSetStream_v2(h, context.stream());
      if (rc != 0) {
        LOG.warn("{}: cublasSetStream failed ({}); GEMM runs Ember's kernel", context.name(), rc);
        return null;
      }
      return new CublasGemm(h, context);
    } catch (LinkageError e) {
      LOG.warn(
          "{}: cuBLAS does not link ({}); GEMM runs Ember's kernel", context.name(), e.toString());
      return null;
    }
  }

  /** A device address as the pointer type the bindings take. */
  private static final class DeviceFloats extends FloatPointer {
    DeviceFloats(long address) {
      this.address = address;
    }
  }

  private static final class DeviceDoubles extends DoublePointer {
    DeviceDoubles(long address) {
      this.address = address;
    }
  }

  /**
   * Runs {@code C[b] = A[b] B[b]} (row-major, element strides) if cuBLAS can describe the layouts.
   *
   * @return false (and nothing ran) where it cannot
   */
  boolean gemm(
      DType t,
      int m,
      int n,
      int k,
      int batch,
      long a,
      long aBatch,
      long aRow,
      long aCol,
      long b,
      long bBatch,
      long bRow,
      long bCol,
      long c,
      long cBatch,
      long cRow,
      long cCol) {
    if (cCol != 1 || cRow < Math.max(1, n)) {
      return false;
    }
    // cuBLAS runs in the calling thread's current context, which a Spark task thread may have set
    // to another device's
    context.makeCurrent();
    // B^T (n x k, column-major): B's rows as columns when B's columns are unit-stride
    int opB;
    long ldb;
    if (bCol == 1 && bRow >= Math.max(1, n)) {
      opB = OP_N;
      ldb = bRow;
    } else if (bRow == 1 && bCol >= Math.max(1, k)) {
      opB = OP_T;
      ldb = bCol;
    } else {
      return false;
    }
    int opA;
    long lda;
    if (aCol == 1 && aRow >= Math.max(1, k)) {
      opA = OP_N;
      lda = aRow;
    } else if (aRow == 1 && aCol >= Math.max(1, m)) {
      opA = OP_T;
      lda = aCol;
    } else {
      return false;
    }
    if (lda > Integer.MAX_VALUE || ldb > Integer.MAX_VALUE || cRow > Integer.MAX_VALUE) {
      return false;
    }
    int rc;
    if (t == DType.FLOAT32) {
      try (FloatPointer one = new FloatPointer(1f);
          FloatPointer zero = new FloatPointer(0f)) {
        rc =
            cublas.cublasSgemmStridedBatched(
                handle,
                opB,
                opA,
                n,
                m,
                k,
                one,
                new DeviceFloats(b),
                (int) ldb,
                bBatch,
                new DeviceFloats(a),
                (int) lda,
                aBatch,
                zero,
                new DeviceFloats(c),
                (int) cRow,
                cBatch,
                batch);
      }
    } else {
      try (DoublePointer one = new DoublePointer(1.0);
          DoublePointer zero = new DoublePointer(0.0)) {
        rc =
            cublas.cublasDgemmStridedBatched(
                handle,
                opB,
                opA,
                n,
                m,
                k,
                one,
                new DeviceDoubles(b),
                (int) ldb,
                bBatch,
                new DeviceDoubles(a),
                (int) lda,
                aBatch,
                zero,
                new DeviceDoubles(c),
                (int) cRow,
                cBatch,
                batch);
      }
    }
    if (rc != 0) {
      throw new IllegalStateException(
          "cuBLAS gemm ("
              + t
              + ", m="
              + m
              + ", n="
              + n
              + ", k="
              + k
              + ", batch="
              + batch
              + ") returned status "
              + rc);
    }
    return true;
  }
}
