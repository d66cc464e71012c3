package org.emberdl.tensor.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every kernel source compiles with NVRTC: the build ({@code process-classes}) put a cubin for
 * sm_80 and sm_90 and the compute_75 PTX of each {@code .cu} on the classpath, each holding every
 * kernel the source declares; and a source that does not compile fails with NVRTC's own log.
 * Compilation runs in child JVMs, which may load the stand-in driver (this JVM must keep probing
 * the real one).
 */
class KernelCompilerTest {
  static final Path KERNELS = Path.of("src/main/java/org/emberdl/tensor/cuda");
  private static final Path STUB = Path.of("src/build/cuda-stub/libcuda_nvrtc_stub.c");
  private static final Pattern KERNEL = Pattern.compile("EMBER_KERNEL\\((\\w+), ");
  private static final Pattern MACRO_KERNEL = Pattern.compile("EMBER_KERNEL\\((\\w+)_##sfx, ");
  private static final Pattern FAMILY = Pattern.compile("X\\((\\w+), \\w+\\)");

  static List<String> sources() throws IOException {
    try (Stream<Path> files = Files.list(KERNELS)) {
      return files
          .map(p -> p.getFileName().toString())
          .filter(f -> f.endsWith(".cu"))
          .sorted()
          .toList();
    }
  }

  /** The kernel names a source declares, the family macro's expanded. */
  static List<String> kernels(String source) {
    List<String> out = new ArrayList<>();
    Matcher m = KERNEL.matcher(source);
    while (m.find()) {
      out.add(m.group(1));
    }
    Matcher f = FAMILY.matcher(source);
    List<String> families = new ArrayList<>();
    while (f.find()) {
      families.add(f.group(1));
    }
    Matcher mk = MACRO_KERNEL.matcher(source);
    while (mk.find()) {
      for (String fam : families) {
        out.add(mk.group(1) + "_" + fam);
      }
    }
    return out;
  }

  private static byte[] resource(String name) throws IOException {
    try (InputStream in =
        KernelCompilerTest.class.getResourceAsStream(KernelTargets.RESOURCE_DIR + name)) {
      assertNotNull(in, "the build did not compile " + name + " (exec compile-cuda-kernels)");
      return in.readAllBytes();
    }
  }

  @Test
  void everySourceHasItsCubinsForSm80AndSm90AndItsPtxWithEveryKernel() throws IOException {
    List<String> sources = sources();
    assertTrue(sources.size() >= 2, "kernel sources in " + KERNELS + ": " + sources);
    for (String file : sources) {
      String module = file.substring(0, file.length() - 3);
      List<String> kernels = kernels(Files.readString(KERNELS.resolve(file)));
      assertFalse(kernels.isEmpty(), file + " declares no kernel");
      for (int arch : List.of(80, 90)) {
        byte[] cubin = resource(KernelTargets.resourceName(module, "sm_" + arch));
        ByteBuffer elf = ByteBuffer.wrap(cubin).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(0x464C457F, elf.getInt(0), module + " sm_" + arch + " is not an ELF file");
        assertEquals(190, elf.getShort(18), "e_machine EM_CUDA");
        // a cubin's e_flags carry its SM in bits 8-15 (0x50 = 80)
        assertEquals(arch, (elf.getInt(48) >> 8) & 0xFF, module + " cubin's SM");
        String text = new String(cubin, StandardCharsets.ISO_8859_1);
        for (String k : kernels) {
          assertTrue(text.contains(".text." + k + "\0"), module + " sm_" + arch + " lacks " + k);
        }
      }
      String ptx =
          new String(
              resource(KernelTargets.resourceName(module, "compute_75")), StandardCharsets.UTF_8);
      assertTrue(ptx.contains(".target sm_75"), ptx.substring(0, Math.min(400, ptx.length())));
      for (String k : kernels) {
        assertTrue(ptx.contains(".entry " + k + "("), module + " PTX lacks " + k);
      }
    }
  }

  @Test
  void aSourceThatDoesNotCompileFailsTheBuildWithNvrtcsLog(@TempDir Path dir) throws Exception {
    Path src = Files.createDirectories(dir.resolve("src"));
    Files.writeString(
        src.resolve("broken.cu"),
        "extern \"C\" __global__ void ember_broken(float* x) {\n"
            + "  x[threadIdx.x] = undefined_thing;\n"
            + "}\n");
    Result r = compileInChild(src, dir.resolve("out"), dir.resolve("work"), "sm_80");
    assertEquals(1, r.exit, r.output);
    assertTrue(
        r.output.contains(
            "ember kernels: NVRTC 13.1 could not compile broken.cu for sm_80:"
                + " nvrtcCompileProgram returned NVRTC_ERROR_COMPILATION (6)"),
        r.output);
    // NVRTC's log line, naming the file, line and the undefined name
    assertTrue(
        r.output.contains("broken.cu(2): error: identifier \"undefined_thing\" is undefined"),
        r.output);
    assertFalse(Files.exists(dir.resolve("out/kernels.stamp")), "no stamp after a failure");
  }

  @Test
  void aSmallSourceCompilesToBothCubinsAndPtxAndASecondRunIsUpToDate(@TempDir Path dir)
      throws Exception {
    Path src = Files.createDirectories(dir.resolve("src"));
    Files.writeString(
        src.resolve("tiny.cu"),
        "// nvrtc-options: --fmad=false\n"
            + "extern \"C\" __global__ void ember_tiny(float* x, float a, float b) {\n"
            + "  x[threadIdx.x] = x[threadIdx.x] * a + b;\n"
            + "}\n");
    Path out = dir.resolve("out");
    Result r = compileInChild(src, out, dir.resolve("work"), "sm_80,sm_90,compute_75");
    assertEquals(0, r.exit, r.output);
    assertTrue(r.output.contains("ember kernels: 3 images compiled (NVRTC 13.1"), r.output);
    String ptx = Files.readString(out.resolve("tiny.compute_75.ptx"));
    // --fmad=false from the source's options line: a multiply and an add, no fma
    assertTrue(ptx.contains("mul.rn.f32") && ptx.contains("add.rn.f32"), ptx);
    assertFalse(ptx.contains("fma.rn.f32"), ptx);
    assertEquals(List.of("tiny"), Files.readAllLines(out.resolve("kernels.list")));
    Result again = compileInChild(src, out, dir.resolve("work"), "sm_80,sm_90,compute_75");
    assertTrue(again.output.contains("ember kernels: up to date"), again.output);
  }

  @Test
  void sourceOptionsComeFromTheTaggedLine() {
    assertEquals(
        List.of("--fmad=false", "-lineinfo"),
        KernelCompiler.sourceOptions("// x\n  // nvrtc-options: --fmad=false  -lineinfo\nint a;"));
    assertEquals(List.of(), KernelCompiler.sourceOptions("int a;"));
  }

  @Test
  void devicesPickTheCubinOfTheirMajorVersionElseThePtx() {
    assertEquals("sm_80", KernelTargets.forDevice(8, 0));
    assertEquals("sm_80", KernelTargets.forDevice(8, 6)); // A10, RTX 30
    assertEquals("sm_80", KernelTargets.forDevice(8, 9)); // L4, RTX 40
    assertEquals("sm_90", KernelTargets.forDevice(9, 0));
    assertEquals("compute_75", KernelTargets.forDevice(7, 5)); // T4
    assertEquals("compute_75", KernelTargets.forDevice(10, 0)); // B200
    assertEquals("compute_75", KernelTargets.forDevice(12, 0));
  }

  record Result(int exit, String output) {}

  static Result compileInChild(Path src, Path out, Path work, String targets) throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder pb =
        new ProcessBuilder(
            java,
            "-cp",
            String.join(File.pathSeparator, classpath()),
            KernelCompiler.class.getName(),
            "--src",
            src.toString(),
            "--out",
            out.toString(),
            "--stub",
            STUB.toString(),
            "--work",
            work.toString(),
            "--targets",
            targets);
    pb.redirectErrorStream(true);
    Process p = pb.start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), output);
    return new Result(p.exitValue(), output);
  }

  /** The test JVM's classpath entries (surefire's booter jar names them in its manifest). */
  static List<String> classpath() throws IOException {
    String cp = System.getProperty("java.class.path");
    List<String> entries = new ArrayList<>(Arrays.asList(cp.split(File.pathSeparator)));
    if (entries.size() == 1 && entries.get(0).contains("surefire")) {
      try (java.util.jar.JarFile jar = new java.util.jar.JarFile(entries.get(0))) {
        String manifest = jar.getManifest().getMainAttributes().getValue("Class-Path");
        entries.clear();
        for (String url : manifest.trim().split(" +")) {
          entries.add(Path.of(java.net.URI.create(url)).toString());
        }
      }
    }
    return entries;
  }
}
