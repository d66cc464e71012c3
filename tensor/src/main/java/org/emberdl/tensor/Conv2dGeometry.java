package org.emberdl.tensor;

/**
 * The shape arithmetic of one 2-D convolution over a (C, H, W) image, as in {@code
 * torch.nn.functional.conv2d}: {@code out = (in + 2 * pad - dilation * (kernel - 1) - 1) / stride +
 * 1}.
 */
public record Conv2dGeometry(
    int channels,
    int height,
    int width,
    int kernelH,
    int kernelW,
    int strideH,
    int strideW,
    int padH,
    int padW,
    int dilationH,
    int dilationW) {

  // A compact constructor runs before the fields are assigned: validate the parameters
  // themselves (accessors and toString() would still read zeros here).
  public Conv2dGeometry {
    String sizes =
        String.format(
            "channels %d, input %dx%d, kernel %dx%d, stride %dx%d, padding %dx%d, dilation %dx%d",
            channels, height, width, kernelH, kernelW, strideH, strideW, padH, padW, dilationH,
            dilationW);
    if (channels <= 0 || height <= 0 || width <= 0 || kernelH <= 0 || kernelW <= 0) {
      throw new IllegalArgumentException("conv2d sizes must be positive: " + sizes);
    }
    if (strideH <= 0 || strideW <= 0 || dilationH <= 0 || dilationW <= 0) {
      throw new IllegalArgumentException("conv2d stride and dilation must be positive: " + sizes);
    }
    if (padH < 0 || padW < 0) {
      throw new IllegalArgumentException("conv2d padding must be >= 0: " + sizes);
    }
    // Compared before dividing: integer division truncates toward zero, so a kernel one larger
    // than the padded input would otherwise pass with stride > 1.
    if ((long) dilationH * (kernelH - 1) + 1 > height + 2L * padH
        || (long) dilationW * (kernelW - 1) + 1 > width + 2L * padW) {
      throw new IllegalArgumentException(
          "conv2d kernel (with dilation) is larger than the padded input: " + sizes);
    }
  }

  public int outH() {
    return (height + 2 * padH - dilationH * (kernelH - 1) - 1) / strideH + 1;
  }

  public int outW() {
    return (width + 2 * padW - dilationW * (kernelW - 1) - 1) / strideW + 1;
  }

  /** Rows of the im2col matrix: {@code channels * kernelH * kernelW}. */
  public int columnRows() {
    return channels * kernelH * kernelW;
  }

  /** Columns of the im2col matrix: {@code outH * outW}. */
  public int columnCols() {
    return outH() * outW();
  }
}
