package org.emberdl.tensor;

/**
 * The shape arithmetic of 2-D pooling over (H, W) planes, as in {@code torch.nn.MaxPool2d} with
 * {@code ceil_mode=false} and no dilation: {@code out = (in + 2 * pad - kernel) / stride + 1}.
 */
public record Pool2dGeometry(
    int height, int width, int kernelH, int kernelW, int strideH, int strideW, int padH, int padW) {

  public Pool2dGeometry {
    if (height <= 0 || width <= 0 || kernelH <= 0 || kernelW <= 0 || strideH <= 0 || strideW <= 0) {
      throw new IllegalArgumentException("pool2d sizes and strides must be positive: " + this);
    }
    if (padH < 0 || padW < 0 || 2 * padH > kernelH || 2 * padW > kernelW) {
      throw new IllegalArgumentException(
          "pool2d padding must be >= 0 and at most half the kernel (as in PyTorch): " + this);
    }
    if (outH() <= 0 || outW() <= 0) {
      throw new IllegalArgumentException("pool2d kernel is larger than the padded input: " + this);
    }
  }

  public int outH() {
    return (height + 2 * padH - kernelH) / strideH + 1;
  }

  public int outW() {
    return (width + 2 * padW - kernelW) / strideW + 1;
  }
}
