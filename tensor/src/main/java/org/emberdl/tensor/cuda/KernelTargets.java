package org.emberdl.tensor.cuda;

import java.util.List;

/**
 * Which GPU code the build ships for every kernel source, and how a device picks from it.
 *
 * <p>Why cubins first, and one PTX: the build's NVRTC is CUDA 13.1, whose PTX (ISA 9.1) only a
 * driver for CUDA 13.1 or newer can JIT-compile; a cubin (machine code) built by it runs on any
 * driver for CUDA 13 (CUDA's minor-version compatibility), with no JIT delay at start. A cubin for
 * {@code sm_XY} runs on every device of compute capability {@code X.Z} with {@code Z >= Y}: the
 * {@code sm_80} cubin covers Ampere and Ada (A100, A10, A30, L4, L40, RTX 30/40), {@code sm_90}
 * Hopper (H100, H200). Every other generation CUDA 13 supports, Turing (T4, 7.5) and Blackwell
 * (10.x, 12.x), JIT-compiles the {@code compute_75} PTX, which needs a driver for CUDA 13.1. More
 * cubins would drop that need there, at about 3 s of NVRTC per kernel source and target in the
 * build (measured on a 2-core machine) and about 0.5 MB per source and target in the jar.
 */
public final class KernelTargets {
  private KernelTargets() {}

  /** The cubins shipped, by compute capability (major * 10 + minor), ascending. */
  public static final List<Integer> CUBIN_ARCHS = List.of(80, 90);

  /** The virtual arch of the shipped PTX (CUDA 13's oldest). */
  public static final int PTX_ARCH = 75;

  /** The CUDA version (encoded as CUDA does) a driver needs to JIT the shipped PTX. */
  public static final int PTX_MIN_DRIVER = 13010;

  /** Every target the build compiles, in NVRTC's spelling: {@code sm_75, ..., compute_75}. */
  public static List<String> all() {
    List<String> out = new java.util.ArrayList<>();
    for (int a : CUBIN_ARCHS) {
      out.add("sm_" + a);
    }
    out.add("compute_" + PTX_ARCH);
    return List.copyOf(out);
  }

  /**
   * The shipped target for a device of compute capability {@code major.minor}: the cubin of the
   * same major version with the highest minor not above the device's, else the PTX.
   */
  public static String forDevice(int major, int minor) {
    int cc = major * 10 + minor;
    String best = null;
    for (int a : CUBIN_ARCHS) {
      if (a / 10 == major && a <= cc) {
        best = "sm_" + a;
      }
    }
    return best != null ? best : "compute_" + PTX_ARCH;
  }

  /** The resource file name of {@code module}'s code for {@code target}. */
  public static String resourceName(String module, String target) {
    return module + "." + target + (target.startsWith("sm_") ? ".cubin" : ".ptx");
  }

  /** The classpath folder of the compiled kernels. */
  public static final String RESOURCE_DIR = "/org/emberdl/tensor/cuda/kernels/";
}
