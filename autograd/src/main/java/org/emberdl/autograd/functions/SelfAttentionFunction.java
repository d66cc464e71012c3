package org.emberdl.autograd.functions;

import java.util.Arrays;
import org.emberdl.autograd.Function;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.FusedOps;
import org.emberdl.tensor.NDArray;

/**
 * Scaled dot-product self-attention over a packed projection, as one recorded op: {@code qkv}
 * {@code (N, T, 3E)} holds the queries, keys and values side by side (the output of one
 * in-projection GEMM), and the result is the heads' {@code softmax(scale * Q K^T + mask) V} merged
 * back to {@code (N, T, E)}.
 *
 * <p>Why one op: recorded as a narrow, reshape and permute per projection, the backward gives each
 * of Q, K and V its own zero-filled {@code (N, T, 3E)} gradient (the narrow's), copies each head
 * gradient twice (the permute and reshape), and adds the three full-size gradients together. Here
 * the backward writes {@code dQ}, {@code dK} and {@code dV} once each, straight from the batched
 * GEMMs into their columns of one {@code (N, T, 3E)} array. The forward reads the heads as strided
 * views of {@code qkv} (no copies), as before; the values and the order of every operation are
 * those of the unfused ops, so results are the same bits.
 *
 * <p>No dropout on the weights: the caller uses this op only when attention dropout is inactive.
 */
public final class SelfAttentionFunction extends Function {
  private final NDArray qkv;
  private final NDArray probs;
  private final int heads;
  private final double scale;

  private SelfAttentionFunction(Tensor qkv, NDArray probs, int heads, double scale) {
    super("selfAttention", qkv);
    this.qkv = save(qkv.data());
    this.probs = save(probs);
    this.heads = heads;
    this.scale = scale;
  }

  /**
   * The attention output {@code (N, T, E)}.
   *
   * @param qkv {@code (N, T, 3E)}: queries, keys and values along the last dim
   * @param heads the number of heads; must divide E
   * @param scale multiplies the scores before the mask (attention's {@code 1 / sqrt(E / heads)})
   * @param mask an additive mask broadcastable to {@code (N, heads, T, T)}, or null
   * @throws IllegalArgumentException if qkv is not 3-D with a last dim of 3E, E divisible by heads
   */
  public static Tensor apply(Tensor qkv, int heads, double scale, NDArray mask) {
    NDArray x = qkv.data();
    if (x.ndim() != 3 || heads <= 0 || x.shape(2) % (3 * heads) != 0) {
      throw new IllegalArgumentException(
          "selfAttention needs qkv shaped (N, T, 3E) with E divisible by heads="
              + heads
              + ", got "
              + Arrays.toString(x.shape()));
    }
    NDArray probs;
    NDArray out;
    try (NDArray q = heads(x, 0, heads);
        NDArray k = heads(x, 1, heads);
        NDArray v = heads(x, 2, heads);
        NDArray kt = k.transpose(2, 3);
        NDArray scores = q.matmul(kt)) {
      probs = MaskedSoftmaxFunction.forward(scores, scale, mask);
      try (NDArray ctx = probs.matmul(v);
          NDArray merged = ctx.permute(0, 2, 1, 3)) {
        out = merged.reshape(x.shape(0), x.shape(1), x.shape(2) / 3);
      } catch (RuntimeException e) {
        probs.close();
        throw e;
      }
    }
    try (probs) {
      if (!isNeeded(qkv)) {
        return Tensor.of(out);
      }
      return new SelfAttentionFunction(qkv, probs, heads, scale).output(out);
    } catch (RuntimeException e) {
      out.close();
      throw e;
    }
  }

  /**
   * Block {@code which} (0 queries, 1 keys, 2 values) of {@code a}'s last dim ({@code (N, T, 3E)})
   * as {@code (N, heads, T, E / heads)}: a strided view of a's memory when a's last dim is dense (a
   * projection's output always is), else a copy (read-only uses only).
   */
  private static NDArray heads(NDArray a, int which, int heads) {
    int e = a.shape(2) / 3;
    try (NDArray block = a.narrow(2, which * e, e);
        NDArray split = block.reshape(a.shape(0), a.shape(1), heads, e / heads)) {
      return split.permute(0, 2, 1, 3);
    }
  }

  /** As {@link #heads}, but always a view (it fails otherwise): the backward writes through it. */
  private static NDArray headsView(NDArray a, int which, int heads) {
    int e = a.shape(2) / 3;
    try (NDArray block = a.narrow(2, which * e, e);
        NDArray split = block.view(a.shape(0), a.shape(1), heads, e / heads)) {
      return split.permute(0, 2, 1, 3);
    }
  }

  @Override
  protected NDArray[] backward(NDArray grad) {
    int n = qkv.shape(0);
    int t = qkv.shape(1);
    int e = qkv.shape(2) / 3;
    NDArray dqkv = NDArray.empty(qkv.dtype(), qkv.device(), qkv.shape());
    try (NDArray q = heads(qkv, 0, heads);
        NDArray k = heads(qkv, 1, heads);
        NDArray v = heads(qkv, 2, heads);
        NDArray g4 = grad.reshape(n, t, heads, e / heads);
        NDArray gh = g4.permute(0, 2, 1, 3);
        NDArray pt = probs.transpose(2, 3);
        NDArray dv = pt.matmul(gh);
        NDArray vt = v.transpose(2, 3);
        NDArray dp = gh.matmul(vt);
        NDArray ds = FusedOps.softmaxLastDimBackward(dp, probs, scale);
        NDArray dq = ds.matmul(k);
        NDArray dst = ds.transpose(2, 3);
        NDArray dk = dst.matmul(q);
        NDArray dqView = headsView(dqkv, 0, heads);
        NDArray dkView = headsView(dqkv, 1, heads);
        NDArray dvView = headsView(dqkv, 2, heads)) {
      // every element of dqkv is written by exactly one of the three copies
      dqView.copyFrom(dq);
      dkView.copyFrom(dk);
      dvView.copyFrom(dv);
      return new NDArray[] {dqkv};
    } catch (RuntimeException ex) {
      dqkv.close();
      throw ex;
    }
  }
}
