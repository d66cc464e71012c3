package org.emberdl.tensor;

/**
 * The shape arithmetic of 2-D pooling over (H, W) planes, as in {@code torch.nn.MaxPool2d} with
 * {@code ceil_mode=false} and no dilation: {@code out = (in + 2 * pad - kernel) / stride + 1}.
 */
public record Pool2dGeometry(
    int height, int width, int kernelH, int kernelW, int strideH, int strideW, int padH, int padW) {

  // A compact constructor runs before the fields are assigned: validate the parameters
  // themselves (accessors and toString() would still read zeros here).
  public Pool2dGeometry {
    String sizes =
        String.format(
            "input %dx%d, kernel %dx%d, stride %dx%d, padding %dx%d",
            height, width, kernelH, kernelW, strideH, strideW, padH, padW);
    if (height <= 0 || width <= 0 || kernelH <= 0 || kernelW <= 0 || strideH <= 0 || strideW <= 0) {
      throw new IllegalArgumentException("pool2d sizes and strides must be positive: " + sizes);
    }
    if (padH < 0 || padW < 0 || 2 * padH > kernelH || 2 * padW > kernelW) {
      throw new IllegalArgumentException(
          "pool2d padding must be >= 0 and at most half the kernel (as in PyTorch): " + sizes);
    }
    // Compared before dividing: integer division truncates toward zero, so a kernel one larger
    // than the padded input would otherwise pass with stride > 1.
    if (kernelH > height + 2L * padH || kernelW > width + 2L * padW) {
      throw new IllegalArgumentException("pool2d kernel is larger than the padded input: " + sizes);
    }
  }

  public int outH() {
    return (height + 2 * padH - kernelH) / strideH + 1;
  }

  public int outW() {
    return (width + 2 * padW - kernelW) / strideW + 1;
  }
}
