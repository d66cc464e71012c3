package org.emberdl.autograd.functions;

import org.emberdl.autograd.Function;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.FusedOps;
import org.emberdl.tensor.NDArray;

/**
 * Layer norm as one recorded op ({@code torch.native_layer_norm}): {@code y = (x - mean) * rstd *
 * weight + bias} over the last {@code normalizedSize} elements of each sample, with {@link
 * FusedOps#layerNorm} forward and {@link FusedOps#layerNormBackward} backward. Built from
 * elementwise ops it would record nine nodes and save as many arrays; as one node it saves x and
 * two numbers per row.
 */
public final class LayerNormFunction extends Function {
  private final NDArray x;
  private final NDArray mean;
  private final NDArray rstd;
  private final NDArray weight;

  private LayerNormFunction(Tensor input, Tensor weight, Tensor bias, FusedOps.LayerNormResult r) {
    super("layerNorm", input, weight, bias);
    this.x = save(input.data());
    this.mean = save(r.mean());
    this.rstd = save(r.rstd());
    this.weight = weight == null ? null : save(weight.data());
  }

  /**
   * @param weight {@code normalizedSize} elements, or null
   * @param bias {@code normalizedSize} elements, or null
   */
  public static Tensor apply(
      Tensor input, int normalizedSize, Tensor weight, Tensor bias, double eps) {
    FusedOps.LayerNormResult r =
        FusedOps.layerNorm(
            input.data(),
            normalizedSize,
            weight == null ? null : weight.data(),
            bias == null ? null : bias.data(),
            eps);
    try (NDArray mean = r.mean();
        NDArray rstd = r.rstd()) {
      if (!isNeeded(input, weight, bias)) {
        return Tensor.of(r.output());
      }
      try {
        return new LayerNormFunction(input, weight, bias, r).output(r.output());
      } catch (RuntimeException e) {
        r.output().close();
        throw e;
      }
    }
  }

  @Override
  protected NDArray[] backward(NDArray grad) {
    FusedOps.LayerNormGrads g =
        FusedOps.layerNormBackward(grad, x, mean, rstd, weight, needsGrad(1), needsGrad(2));
    if (!needsGrad(0)) {
      g.dx().close();
      return new NDArray[] {null, g.dweight(), g.dbias()};
    }
    return new NDArray[] {g.dx(), g.dweight(), g.dbias()};
  }
}
