package org.emberdl.optim;

import java.util.ArrayList;
import java.util.List;
import org.emberdl.autograd.NoGrad;
import org.emberdl.nn.Gradients;
import org.emberdl.nn.Module;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;

/** Gradient clipping, as {@code torch.nn.utils.clip_grad_norm_}. */
public final class GradClip {
  /** Added to the norm before dividing, as PyTorch does, so a zero norm never divides by 0. */
  private static final double EPS = 1e-6;

  private GradClip() {}

  /**
   * Scales all gradients together so their total L2 norm is at most {@code maxNorm}:
   *
   * <pre>
   *   norm = sqrt(sum over all gradient elements of g^2)
   *   g    = g * maxNorm / (norm + 1e-6)        when that factor is below 1
   * </pre>
   *
   * Missing (null) gradients are skipped. Flat gradients are scaled with one op.
   *
   * @return the total norm before clipping (infinite or NaN if a gradient is; then the scaled
   *     gradients are NaN as well, as in PyTorch)
   */
  public static double clipGradNorm(Gradients gradients, double maxNorm) {
    return clipGradNorm(gradients, maxNorm, 2.0);
  }

  /**
   * As {@link #clipGradNorm(Gradients, double)} with the {@code normType}-norm ({@code
   * Double.POSITIVE_INFINITY} for the max-norm): the total norm is the norm of the per-parameter
   * norms, as in PyTorch.
   */
  public static double clipGradNorm(Gradients gradients, double maxNorm, double normType) {
    if (!(maxNorm >= 0)) {
      throw new IllegalArgumentException("maxNorm must be >= 0, got " + maxNorm);
    }
    if (!(normType > 0)) {
      throw new IllegalArgumentException("normType must be > 0, got " + normType);
    }
    try (NoGrad ignored = NoGrad.enter();
        MemoryScope scope = MemoryScope.open()) {
      NDArray flat = gradients.flat();
      double total;
      if (flat != null) {
        total = flat.norm(normType, new int[0], false).item();
      } else {
        List<NDArray> norms = new ArrayList<>();
        for (int i = 0; i < gradients.size(); i++) {
          NDArray g = gradients.get(i);
          if (g != null) {
            norms.add(g.norm(normType, new int[0], false).cast(DType.FLOAT64));
          }
        }
        if (norms.isEmpty()) {
          return 0.0;
        }
        total =
            NDArray.stack(0, norms.toArray(new NDArray[0]))
                .norm(normType, new int[0], false)
                .item();
      }
      double factor = maxNorm / (total + EPS);
      // NaN / inf norms give a factor of NaN or 0: scale anyway, as PyTorch, so they show up
      if (!(factor >= 1)) {
        if (flat != null) {
          flat.mulInPlace(factor);
        } else {
          for (int i = 0; i < gradients.size(); i++) {
            NDArray g = gradients.get(i);
            if (g != null) {
              g.mulInPlace(factor);
            }
          }
        }
      }
      return total;
    }
  }

  /** Clips the gradients accumulated in {@code module}'s parameters; see above. */
  public static double clipGradNorm(Module module, double maxNorm) {
    return clipGradNorm(module, maxNorm, 2.0);
  }

  /**
   * Clips the gradients accumulated in {@code module}'s parameters with the {@code normType}-norm.
   */
  public static double clipGradNorm(Module module, double maxNorm, double normType) {
    try (Gradients g = Gradients.of(module)) {
      return clipGradNorm(g, maxNorm, normType);
    }
  }
}
