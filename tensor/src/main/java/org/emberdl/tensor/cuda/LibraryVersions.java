package org.emberdl.tensor.cuda;

import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.cuda.global.cudnn;

/**
 * The version calls of {@link CudaLibraries}, apart so that each binding class loads only when its
 * library was found (and may then fail with a {@link LinkageError}, which the caller catches).
 */
final class LibraryVersions {
  private LibraryVersions() {}

  /** cuBLAS's version, e.g. {@code 13.1.0}; no GPU needed. */
  static String cublas() {
    int[] v = new int[1];
    StringBuilder out = new StringBuilder();
    for (int property :
        new int[] {cudart.MAJOR_VERSION, cudart.MINOR_VERSION, cudart.PATCH_LEVEL}) {
      int rc = cublas.cublasGetProperty(property, v);
      if (rc != 0) {
        throw new IllegalStateException("cublasGetProperty returned " + rc);
      }
      out.append(out.length() == 0 ? "" : ".").append(v[0]);
    }
    return out.toString();
  }

  /** cuDNN's version, e.g. {@code 9.19.0} (cuDNN 9 encodes major * 10000 + minor * 100 + patch). */
  static String cudnn() {
    long v = cudnn.cudnnGetVersion();
    return v / 10000 + "." + v % 10000 / 100 + "." + v % 100;
  }
}
