package org.emberdl.tensor.cuda;

import java.util.List;
import java.util.function.Supplier;
import org.bytedeco.javacpp.Loader;

/**
 * Which of the CUDA libraries that Bytedeco's bindings are built for this machine has: cuBLAS and
 * cuDNN are not on Maven Central, so they come from the system (a CUDA toolkit, the cuDNN
 * packages). Probed once, as {@link CudaAvailability} probes the driver: each library is first
 * opened by itself with {@code dlopen}, and only then asked its version through the bindings, whose
 * {@link LinkageError} becomes a reason.
 */
public final class CudaLibraries {
  private CudaLibraries() {}

  private static final class Probed {
    static final List<CudaLibrary> ALL =
        List.of(
            probe(
                "cuBLAS",
                "libcublas.so." + DriverQueries.BINDINGS_RUNTIME / 1000,
                LibraryVersions::cublas),
            probe("cuDNN", "libcudnn.so.9", LibraryVersions::cudnn));
  }

  /** cuBLAS and cuDNN, as found on this machine (probed on the first call). */
  public static List<CudaLibrary> status() {
    return Probed.ALL;
  }

  /** Opens {@code file}; where it loads, asks {@code version} (which may fail to link). */
  static CudaLibrary probe(String name, String file, Supplier<String> version) {
    try {
      Loader.loadGlobal(file);
    } catch (UnsatisfiedLinkError e) {
      return new CudaLibrary(name, file, "", "not found (" + e.getMessage() + ")");
    }
    try {
      return new CudaLibrary(name, file, version.get(), "");
    } catch (LinkageError | RuntimeException e) {
      return new CudaLibrary(
          name, file, "", file + " loads, but Ember's " + name + " bindings do not: " + e);
    }
  }
}
