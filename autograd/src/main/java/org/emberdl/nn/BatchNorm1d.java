package org.emberdl.nn;

import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;

/**
 * Batch normalization of {@code (N, C)} or {@code (N, C, L)}, statistics over N (and L), as {@code
 * torch.nn.BatchNorm1d}; see {@link BatchNorm} for the semantics and state. Output shape = input
 * shape.
 */
public class BatchNorm1d extends BatchNorm {
  /** eps 1e-5, momentum 0.1, affine, tracking running statistics, float32 (PyTorch's defaults). */
  public BatchNorm1d(int numFeatures) {
    this(numFeatures, 1e-5, 0.1, true, true);
  }

  /** Float32; {@code momentum} null means a cumulative average. */
  public BatchNorm1d(
      int numFeatures, double eps, Double momentum, boolean affine, boolean trackRunningStats) {
    this(numFeatures, eps, momentum, affine, trackRunningStats, DType.FLOAT32);
  }

  /** Parameters and running statistics in {@code dtype}. */
  public BatchNorm1d(
      int numFeatures,
      double eps,
      Double momentum,
      boolean affine,
      boolean trackRunningStats,
      DType dtype) {
    super(numFeatures, eps, momentum, affine, trackRunningStats, dtype);
  }

  @Override
  protected void checkInput(Tensor input) {
    if (input.ndim() != 2 && input.ndim() != 3) {
      throw new IllegalArgumentException(
          "expected 2D or 3D input (got " + input.ndim() + "D input)");
    }
  }
}
