package org.emberdl.tensor.cuda;

import static org.bytedeco.cuda.global.nvrtc.NVRTC_SUCCESS;
import static org.bytedeco.cuda.global.nvrtc.nvrtcCompileProgram;
import static org.bytedeco.cuda.global.nvrtc.nvrtcCreateProgram;
import static org.bytedeco.cuda.global.nvrtc.nvrtcDestroyProgram;
import static org.bytedeco.cuda.global.nvrtc.nvrtcGetCUBIN;
import static org.bytedeco.cuda.global.nvrtc.nvrtcGetCUBINSize;
import static org.bytedeco.cuda.global.nvrtc.nvrtcGetErrorString;
import static org.bytedeco.cuda.global.nvrtc.nvrtcGetPTX;
import static org.bytedeco.cuda.global.nvrtc.nvrtcGetPTXSize;
import static org.bytedeco.cuda.global.nvrtc.nvrtcGetProgramLog;
import static org.bytedeco.cuda.global.nvrtc.nvrtcGetProgramLogSize;
import static org.bytedeco.cuda.global.nvrtc.nvrtcVersion;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.bytedeco.cuda.nvrtc._nvrtcProgram;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.javacpp.SizeTPointer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Compiles Ember's CUDA kernel sources ({@code *.cu} beside this class, headers {@code *.cuh}) with
 * NVRTC into the cubins and PTX of {@link KernelTargets}. The build runs {@link #main} at {@code
 * process-classes} (exec-maven-plugin, with {@code org.bytedeco:cuda-redist}'s NVRTC on a
 * test-scope classpath), writing into {@code target/classes}; executors then load that code with
 * the driver alone and need no NVRTC. Needs no GPU: where the NVIDIA driver is missing, a stand-in
 * {@code libcuda.so.1} (every call returns CUDA_ERROR_STUB_LIBRARY) is built with gcc and loaded
 * first, as Bytedeco's NVRTC bindings link the driver.
 *
 * <p>A source may name extra NVRTC options on a line {@code // nvrtc-options: ...} (the Philox and
 * Adam kernels turn off fused multiply-add there, to give the CPU backend's bits).
 */
public final class KernelCompiler {
  private static final Logger LOG = LoggerFactory.getLogger(KernelCompiler.class);

  /** Options for every source: C++17; no fast math (IEEE division and square root). */
  static final List<String> COMMON_OPTIONS =
      List.of("-std=c++17", "--device-as-default-execution-space");

  private static final String OPTIONS_TAG = "// nvrtc-options:";

  private KernelCompiler() {}

  /** A kernel source that NVRTC rejected; the message carries NVRTC's log. */
  public static final class CompileException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    CompileException(String message) {
      super(message);
    }
  }

  /** NVRTC's version as {@code major.minor}. */
  public static String nvrtcVersionString() {
    int[] major = new int[1];
    int[] minor = new int[1];
    nvrtcVersion(major, minor);
    return major[0] + "." + minor[0];
  }

  /**
   * Compiles {@code source} (named {@code name} in NVRTC's messages) for {@code target} ({@code
   * sm_XY} gives a cubin, {@code compute_XY} PTX), with {@code headers} (file name to text)
   * includable by name.
   *
   * @throws CompileException naming the source, target, NVRTC's error and its whole log
   */
  public static byte[] compile(
      String name, String source, Map<String, String> headers, String target) {
    List<String> options = new ArrayList<>(COMMON_OPTIONS);
    options.add("--gpu-architecture=" + target);
    options.addAll(sourceOptions(source));
    _nvrtcProgram prog = new _nvrtcProgram();
    List<String> headerNames = new ArrayList<>(headers.keySet());
    List<String> headerTexts = new ArrayList<>();
    for (String h : headerNames) {
      headerTexts.add(headers.get(h));
    }
    try (BytePointer src = new BytePointer(source);
        BytePointer srcName = new BytePointer(name);
        PointerPointer<BytePointer> hText =
            new PointerPointer<>(headerTexts.toArray(new String[0]));
        PointerPointer<BytePointer> hNames =
            new PointerPointer<>(headerNames.toArray(new String[0]));
        PointerPointer<BytePointer> opts = new PointerPointer<>(options.toArray(new String[0]))) {
      check(
          nvrtcCreateProgram(prog, src, srcName, headerNames.size(), hText, hNames),
          "nvrtcCreateProgram",
          name,
          target,
          "");
      try {
        int rc = nvrtcCompileProgram(prog, options.size(), opts);
        check(rc, "nvrtcCompileProgram", name, target, log(prog));
        boolean cubin = target.startsWith("sm_");
        try (SizeTPointer size = new SizeTPointer(1)) {
          check(
              cubin ? nvrtcGetCUBINSize(prog, size) : nvrtcGetPTXSize(prog, size),
              "nvrtcGetCodeSize",
              name,
              target,
              "");
          byte[] out = new byte[(int) size.get()];
          check(
              cubin ? nvrtcGetCUBIN(prog, out) : nvrtcGetPTX(prog, out),
              "nvrtcGetCode",
              name,
              target,
              "");
          // PTX comes NUL-terminated; the driver wants the terminator, a resource file does not.
          if (!cubin && out.length > 0 && out[out.length - 1] == 0) {
            out = java.util.Arrays.copyOf(out, out.length - 1);
          }
          return out;
        }
      } finally {
        nvrtcDestroyProgram(prog);
      }
    }
  }

  /** The options a source names on its {@code // nvrtc-options:} line, if any. */
  static List<String> sourceOptions(String source) {
    for (String line : source.lines().toList()) {
      String t = line.trim();
      if (t.startsWith(OPTIONS_TAG)) {
        String rest = t.substring(OPTIONS_TAG.length()).trim();
        return rest.isEmpty() ? List.of() : List.of(rest.split("\\s+"));
      }
    }
    return List.of();
  }

  private static String log(_nvrtcProgram prog) {
    try (SizeTPointer size = new SizeTPointer(1)) {
      if (nvrtcGetProgramLogSize(prog, size) != NVRTC_SUCCESS || size.get() <= 1) {
        return "";
      }
      byte[] text = new byte[(int) size.get()];
      nvrtcGetProgramLog(prog, text);
      return new String(text, 0, text.length - 1, StandardCharsets.UTF_8).strip();
    }
  }

  private static void check(int rc, String call, String name, String target, String log) {
    if (rc != NVRTC_SUCCESS) {
      throw new CompileException(
          "NVRTC "
              + nvrtcVersionString()
              + " could not compile "
              + name
              + " for "
              + target
              + ": "
              + call
              + " returned "
              + nvrtcGetErrorString(rc).getString()
              + " ("
              + rc
              + ")"
              + (log.isEmpty() ? "" : "\n" + log));
    }
  }

  /**
   * Makes {@code libcuda.so.1} resolvable in this process: the real driver where it loads, else the
   * stand-in compiled with gcc from {@code stubSource} into {@code workDir}. Only for processes
   * that compile kernels (the build, tests in child JVMs): the stand-in must never face a probe.
   */
  public static void ensureDriverOrStub(Path stubSource, Path workDir) {
    try {
      Loader.loadGlobal(CudaAvailability.DRIVER_LIBRARY);
      return;
    } catch (UnsatisfiedLinkError e) {
      // no driver: build the stand-in below
    }
    try {
      Files.createDirectories(workDir);
      Path lib = workDir.resolve(CudaAvailability.DRIVER_LIBRARY);
      Process gcc =
          new ProcessBuilder(
                  "gcc",
                  "-shared",
                  "-fPIC",
                  "-Wl,-soname," + CudaAvailability.DRIVER_LIBRARY,
                  "-o",
                  lib.toString(),
                  stubSource.toString())
              .redirectErrorStream(true)
              .start();
      String out = new String(gcc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (gcc.waitFor() != 0) {
        throw new IllegalStateException(
            "gcc could not build the stand-in driver from " + stubSource + ":\n" + out);
      }
      System.load(lib.toAbsolutePath().toString());
    } catch (IOException e) {
      throw new UncheckedIOException(
          "no NVIDIA driver here, and building the stand-in "
              + CudaAvailability.DRIVER_LIBRARY
              + " for NVRTC needs gcc: "
              + e.getMessage(),
          e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /**
   * Compiles every {@code *.cu} in {@code srcDir} for {@code targets} into {@code outDir} (files
   * named by {@link KernelTargets#resourceName}); skips the work when a stamp file shows the same
   * sources, targets and NVRTC. Returns the number of images written (0 when up to date).
   */
  public static int compileAll(Path srcDir, Path outDir, List<String> targets, int threads)
      throws IOException {
    Map<String, String> headers = new LinkedHashMap<>();
    Map<String, String> sources = new LinkedHashMap<>();
    try (Stream<Path> files = Files.list(srcDir)) {
      for (Path p : files.sorted().toList()) {
        String f = p.getFileName().toString();
        if (f.endsWith(".cuh")) {
          headers.put(f, Files.readString(p));
        } else if (f.endsWith(".cu")) {
          sources.put(f, Files.readString(p));
        }
      }
    }
    String stamp = stamp(headers, sources, targets);
    Path stampFile = outDir.resolve("kernels.stamp");
    if (Files.exists(stampFile) && Files.readString(stampFile).equals(stamp)) {
      return 0;
    }
    Files.createDirectories(outDir);
    ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, threads));
    try {
      List<Future<?>> jobs = new ArrayList<>();
      for (Map.Entry<String, String> s : sources.entrySet()) {
        String module = s.getKey().substring(0, s.getKey().length() - 3);
        for (String target : targets) {
          jobs.add(
              pool.submit(
                  () -> {
                    byte[] image = compile(s.getKey(), s.getValue(), headers, target);
                    Files.write(outDir.resolve(KernelTargets.resourceName(module, target)), image);
                    return null;
                  }));
        }
      }
      for (Future<?> f : jobs) {
        try {
          f.get();
        } catch (ExecutionException e) {
          if (e.getCause() instanceof RuntimeException r) {
            throw r;
          }
          throw new IOException(e.getCause());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IOException(e);
        }
      }
      Files.writeString(outDir.resolve("kernels.list"), String.join("\n", moduleNames(sources)));
      Files.writeString(stampFile, stamp);
      return jobs.size();
    } finally {
      pool.shutdownNow();
    }
  }

  private static List<String> moduleNames(Map<String, String> sources) {
    return sources.keySet().stream().map(f -> f.substring(0, f.length() - 3)).toList();
  }

  private static String stamp(
      Map<String, String> headers, Map<String, String> sources, List<String> targets) {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      for (Map<String, String> m : List.of(headers, sources)) {
        for (Map.Entry<String, String> e : m.entrySet()) {
          md.update(e.getKey().getBytes(StandardCharsets.UTF_8));
          md.update((byte) 0);
          md.update(e.getValue().getBytes(StandardCharsets.UTF_8));
          md.update((byte) 0);
        }
      }
      md.update(String.join(",", targets).getBytes(StandardCharsets.UTF_8));
      md.update(String.join(" ", COMMON_OPTIONS).getBytes(StandardCharsets.UTF_8));
      return "nvrtc " + nvrtcVersionString() + " " + HexFormat.of().formatHex(md.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * The build's entry point: {@code --src DIR --out DIR --stub FILE.c --work DIR [--targets
   * t1,t2,...]}. Logs one line per run and exits 1 with NVRTC's log when a source does not compile.
   */
  public static void main(String[] args) throws IOException {
    Map<String, String> a = new LinkedHashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      a.put(args[i], args[i + 1]);
    }
    List<String> targets =
        a.containsKey("--targets") ? List.of(a.get("--targets").split(",")) : KernelTargets.all();
    long t0 = System.nanoTime();
    try {
      ensureDriverOrStub(Path.of(a.get("--stub")), Path.of(a.get("--work")));
      int n =
          compileAll(
              Path.of(a.get("--src")),
              Path.of(a.get("--out")),
              targets,
              Runtime.getRuntime().availableProcessors());
      LOG.info(
          "ember kernels: {} (NVRTC {}, {}) in {} ms",
          n == 0 ? "up to date" : n + " images compiled",
          nvrtcVersionString(),
          String.join(",", targets),
          (System.nanoTime() - t0) / 1_000_000);
    } catch (CompileException e) {
      LOG.error("ember kernels: {}", e.getMessage());
      System.exit(1);
    }
  }
}
