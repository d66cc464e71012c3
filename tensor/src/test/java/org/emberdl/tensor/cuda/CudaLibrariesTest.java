package org.emberdl.tensor.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** cuBLAS and cuDNN: found with a version, or a reason naming the file and the linker's message. */
class CudaLibrariesTest {
  private static boolean listedByLinker(String file) {
    try {
      Process p = new ProcessBuilder("ldconfig", "-p").redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      p.waitFor();
      return out.contains(file + " ");
    } catch (IOException | InterruptedException e) {
      return false;
    }
  }

  @Test
  void cublasAndCudnnAreProbedOnceByTheFilesTheBindingsNeed() {
    List<CudaLibrary> libs = CudaLibraries.status();
    assertSame(libs, CudaLibraries.status());
    // org.bytedeco:cuda 13.1-9.19 links libcublas.so.13 (CUDA 13) and libcudnn*.so.9 (cuDNN 9)
    assertEquals(List.of("cuBLAS", "cuDNN"), libs.stream().map(CudaLibrary::name).toList());
    assertEquals(
        List.of("libcublas.so.13", "libcudnn.so.9"), libs.stream().map(CudaLibrary::file).toList());
  }

  @Test
  void aMissingLibraryNamesItsFileAndTheLinkersMessage() {
    assumeFalse(listedByLinker("libcublas.so.13"), "this machine has cuBLAS 13");
    CudaLibrary cublas = CudaLibraries.status().get(0);
    assertFalse(cublas.found());
    assertTrue(
        cublas.reason().startsWith("not found (libcublas.so.13: cannot open shared object file"),
        cublas.reason());
    assertEquals(cublas.reason(), cublas.describe());
  }

  @Test
  void aLoadedLibraryGivesItsVersionOrWhyItsBindingsFail() {
    // libc stands in for a library that loads; the version call is what the test gives
    CudaLibrary found = CudaLibraries.probe("cuBLAS", "libc.so.6", () -> "13.1.0");
    assertTrue(found.found());
    assertEquals("13.1.0 (libc.so.6)", found.describe());
    CudaLibrary unlinked =
        CudaLibraries.probe(
            "cuDNN",
            "libc.so.6",
            () -> {
              throw new UnsatisfiedLinkError("libcudnn_graph.so.9: cannot open shared object file");
            });
    assertFalse(unlinked.found());
    assertEquals(
        "libc.so.6 loads, but Ember's cuDNN bindings do not: java.lang.UnsatisfiedLinkError:"
            + " libcudnn_graph.so.9: cannot open shared object file",
        unlinked.reason());
  }
}
