package org.emberdl.tensor.cuda;

/**
 * A CUDA library that a GPU engine uses where the machine has it (cuBLAS, cuDNN): found with its
 * version, or why not.
 *
 * @param name the library's name, e.g. {@code cuBLAS}
 * @param file the shared library looked for, e.g. {@code libcublas.so.13}
 * @param version its version, e.g. {@code 13.1.0}; empty when not found
 * @param reason why it cannot be used; empty when found
 */
public record CudaLibrary(String name, String file, String version, String reason) {
  /** Whether the library loaded and told its version. */
  public boolean found() {
    return reason.isEmpty();
  }

  /** E.g. {@code 13.1.0 (libcublas.so.13)}, or the reason. */
  public String describe() {
    return found() ? version + " (" + file + ")" : reason;
  }
}
