package org.emberdl.nn;

/** Window geometry shared by {@link MaxPool2d} and {@link AvgPool2d}. */
abstract class Pool2d extends Module {
  final int[] kernel;
  final int[] stride;
  final int[] padding;

  /** {@code stride} null or empty means the kernel size, PyTorch's default. */
  Pool2d(int[] kernel, int[] stride, int[] padding) {
    this.kernel = Repr.pair("kernel_size", kernel, false);
    this.stride =
        stride == null || stride.length == 0
            ? this.kernel.clone()
            : Repr.pair("stride", stride, false);
    this.padding = Repr.pair("padding", padding, true);
    for (int d = 0; d < 2; d++) {
      if (this.padding[d] > this.kernel[d] / 2) {
        throw new IllegalArgumentException(
            "pad should be at most half of kernel size, got padding "
                + Repr.pair(this.padding)
                + " for kernel "
                + Repr.pair(this.kernel));
      }
    }
  }

  /** {@code {kh, kw}}. */
  public int[] kernelSize() {
    return kernel.clone();
  }

  /** {@code {sh, sw}}. */
  public int[] stride() {
    return stride.clone();
  }

  /** {@code {ph, pw}}. */
  public int[] padding() {
    return padding.clone();
  }

  /** {@code 2} for a square size, {@code (2, 3)} otherwise, as PyTorch prints what it was given. */
  static String size(int[] p) {
    return p[0] == p[1] ? Integer.toString(p[0]) : Repr.pair(p);
  }

  String geometry() {
    return "kernel_size="
        + size(kernel)
        + ", stride="
        + size(stride)
        + ", padding="
        + size(padding);
  }
}
