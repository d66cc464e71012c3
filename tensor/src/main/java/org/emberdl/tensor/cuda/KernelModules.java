package org.emberdl.tensor.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.util.HashMap;
import java.util.Map;
import org.bytedeco.cuda.cudart.CUfunc_st;
import org.bytedeco.cuda.cudart.CUmod_st;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.BytePointer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads the build's compiled kernels into one device's context: per module (a {@code .cu} source)
 * the image {@link KernelTargets#forDevice} picks for the device, with {@code cuModuleLoadData},
 * and its functions with {@code cuModuleGetFunction}; both cached. Executors need only the driver.
 */
final class KernelModules {
  private static final Logger LOG = LoggerFactory.getLogger(KernelModules.class);

  private final CudaContext context;
  private final String target;
  private final Map<String, CUmod_st> modules = new HashMap<>();
  private final Map<String, CUfunc_st> functions = new HashMap<>();

  KernelModules(CudaContext context) {
    this.context = context;
    CudaDevice d = context.device();
    this.target = KernelTargets.forDevice(d.computeMajor(), d.computeMinor());
    LOG.info(
        "{}: Ember's kernels load as {} ({})",
        context.name(),
        target,
        target.startsWith("sm_")
            ? "machine code, no JIT"
            : "PTX, JIT-compiled by the driver on first use and cached by it");
  }

  /** Kernel {@code kernel} of module {@code module} (e.g. {@code elementwise}). */
  synchronized CUfunc_st function(String module, String kernel) {
    CUfunc_st f = functions.get(kernel);
    if (f != null) {
      return f;
    }
    CUmod_st mod = modules.computeIfAbsent(module, this::load);
    f = new CUfunc_st();
    Cuda.check(
        cudart.cuModuleGetFunction(f, mod, kernel),
        "cuModuleGetFunction(" + kernel + " in " + module + ", " + context.name() + ")");
    functions.put(kernel, f);
    return f;
  }

  private CUmod_st load(String module) {
    String resource = KernelTargets.RESOURCE_DIR + KernelTargets.resourceName(module, target);
    byte[] image;
    try (InputStream in = KernelModules.class.getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException(
            "Ember's CUDA kernels are missing from this build: no resource "
                + resource
                + " (the tensor module's build compiles them with NVRTC at process-classes)");
      }
      image = in.readAllBytes();
    } catch (IOException e) {
      throw new IllegalStateException("reading " + resource + ": " + e.getMessage(), e);
    }
    boolean ptx = target.startsWith("compute_");
    // the driver reads PTX as a NUL-terminated string
    try (BytePointer data = new BytePointer(image.length + (ptx ? 1 : 0))) {
      data.put(image, 0, image.length);
      if (ptx) {
        data.put(image.length, (byte) 0);
      }
      CUmod_st mod = new CUmod_st();
      context.makeCurrent();
      int rc = cudart.cuModuleLoadData(mod, data);
      if (rc == Cuda.ERROR_UNSUPPORTED_PTX_VERSION) {
        throw new IllegalStateException(
            context.name()
                + " (compute capability "
                + context.device().computeMajor()
                + "."
                + context.device().computeMinor()
                + ") runs Ember's kernels from PTX, which its driver (CUDA "
                + CudaStatus.version(Cuda.driverVersion())
                + ") cannot JIT-compile: the PTX comes from NVRTC 13.1 and needs a driver for CUDA "
                + CudaStatus.version(KernelTargets.PTX_MIN_DRIVER)
                + " or newer; update the NVIDIA driver");
      }
      Cuda.check(rc, "cuModuleLoadData(" + resource + ", " + context.name() + ")");
      return mod;
    }
  }
}
