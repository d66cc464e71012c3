package org.emberdl.nn;

import java.util.Locale;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.NDArray;

/**
 * One Transformer encoder block, as {@code torch.nn.TransformerEncoderLayer} (PyTorch 1.13):
 * self-attention and a feed-forward network ({@code linear2(dropout(activation(linear1(x))))}),
 * each inside a residual connection with dropout, normalized after the residual (post-norm, the
 * default: {@code x = norm1(x + sa(x)); x = norm2(x + ff(x))}) or before the sublayer with {@code
 * normFirst} (pre-norm: {@code x = x + sa(norm1(x)); x = x + ff(norm2(x))}).
 *
 * <p>State dict (PyTorch's keys): {@code self_attn.in_proj_weight}, {@code self_attn.in_proj_bias},
 * {@code self_attn.out_proj.weight}, {@code self_attn.out_proj.bias}, {@code linear1.weight} {@code
 * (ff, d)}, {@code linear1.bias}, {@code linear2.weight} {@code (d, ff)}, {@code linear2.bias},
 * {@code norm1.weight}, {@code norm1.bias}, {@code norm2.weight}, {@code norm2.bias}. Dropout (on
 * the attention weights, inside the feed-forward network and on both residual branches) comes from
 * the {@link Dropout} submodules {@code dropout}, {@code dropout1}, {@code dropout2} and {@code
 * self_attn.dropout}, which hold no state.
 */
public class TransformerEncoderLayer extends Module implements VariableLength {
  /** The feed-forward activation. */
  public enum Activation {
    RELU,
    GELU
  }

  /**
   * The layer's hyper-parameters, PyTorch's constructor arguments.
   *
   * @param dModel d, the model dimension
   * @param nhead attention heads (must divide d)
   * @param dimFeedforward the hidden size of the feed-forward network
   * @param dropout dropout probability everywhere (PyTorch's default 0.1)
   * @param activation relu (the default) or gelu (exact)
   * @param layerNormEps eps of both layer norms (1e-5)
   * @param batchFirst (N, T, d) instead of (T, N, d)
   * @param normFirst pre-norm instead of post-norm
   * @param dtype the parameters' dtype
   */
  public record Config(
      int dModel,
      int nhead,
      int dimFeedforward,
      double dropout,
      Activation activation,
      double layerNormEps,
      boolean batchFirst,
      boolean normFirst,
      DType dtype) {
    /**
     * PyTorch's defaults for the rest: ff 2048, dropout 0.1, relu, eps 1e-5, seq-first, float32.
     */
    public Config(int dModel, int nhead) {
      this(dModel, nhead, 2048, 0.1, Activation.RELU, 1e-5, false, false, DType.FLOAT32);
    }

    public Config withDimFeedforward(int ff) {
      return new Config(
          dModel, nhead, ff, dropout, activation, layerNormEps, batchFirst, normFirst, dtype);
    }

    public Config withDropout(double p) {
      return new Config(
          dModel, nhead, dimFeedforward, p, activation, layerNormEps, batchFirst, normFirst, dtype);
    }

    public Config withActivation(Activation a) {
      return new Config(
          dModel, nhead, dimFeedforward, dropout, a, layerNormEps, batchFirst, normFirst, dtype);
    }

    public Config withBatchFirst(boolean b) {
      return new Config(
          dModel, nhead, dimFeedforward, dropout, activation, layerNormEps, b, normFirst, dtype);
    }

    public Config withNormFirst(boolean b) {
      return new Config(
          dModel, nhead, dimFeedforward, dropout, activation, layerNormEps, batchFirst, b, dtype);
    }

    public Config withLayerNormEps(double eps) {
      return new Config(
          dModel, nhead, dimFeedforward, dropout, activation, eps, batchFirst, normFirst, dtype);
    }

    public Config withDtype(DType t) {
      return new Config(
          dModel,
          nhead,
          dimFeedforward,
          dropout,
          activation,
          layerNormEps,
          batchFirst,
          normFirst,
          t);
    }
  }

  private final Config config;
  private final MultiheadAttention selfAttn;
  private final Linear linear1;
  private final Dropout dropout;
  private final Linear linear2;
  private final LayerNorm norm1;
  private final LayerNorm norm2;
  private final Dropout dropout1;
  private final Dropout dropout2;

  /** A layer with {@code config}, weights initialized from {@code gen} as PyTorch's. */
  public TransformerEncoderLayer(Config config, Generator gen) {
    if (config.dimFeedforward() <= 0) {
      throw new IllegalArgumentException(
          "TransformerEncoderLayer dim_feedforward must be positive, got "
              + config.dimFeedforward());
    }
    this.config = config;
    int d = config.dModel();
    DType t = config.dtype();
    // registration order is PyTorch's, so the state dict comes out in its order
    this.selfAttn =
        registerModule(
            "self_attn",
            new MultiheadAttention(
                d, config.nhead(), config.dropout(), true, config.batchFirst(), t, gen));
    this.linear1 = registerModule("linear1", new Linear(d, config.dimFeedforward(), true, t, gen));
    this.dropout = registerModule("dropout", new Dropout(config.dropout(), gen));
    this.linear2 = registerModule("linear2", new Linear(config.dimFeedforward(), d, true, t, gen));
    int[] shape = {d};
    this.norm1 =
        registerModule("norm1", new LayerNorm(shape, config.layerNormEps(), true, true, t));
    this.norm2 =
        registerModule("norm2", new LayerNorm(shape, config.layerNormEps(), true, true, t));
    this.dropout1 = registerModule("dropout1", new Dropout(config.dropout(), gen));
    this.dropout2 = registerModule("dropout2", new Dropout(config.dropout(), gen));
  }

  /** The layer without masks. */
  @Override
  public Tensor forward(Tensor src) {
    return forward(src, null, null);
  }

  /** The layer over right-padded batch-first sequences: keys past each length are masked out. */
  @Override
  public Tensor forward(Tensor src, int[] lengths) {
    if (lengths == null) {
      return forward(src);
    }
    try (NDArray pad =
        AttentionMasks.keyPadding("TransformerEncoderLayer", config.batchFirst(), src, lengths)) {
      return forward(src, null, pad);
    }
  }

  /**
   * As PyTorch's {@code forward(src, src_mask, src_key_padding_mask)}.
   *
   * @param src (T, N, d), (N, T, d) with batch_first, or (T, d)
   * @param srcMask (T, T) or (N * nhead, T, T), bool (true = not allowed) or additive; or null
   * @param srcKeyPaddingMask (N, T), true at padded positions; or null
   */
  public Tensor forward(Tensor src, NDArray srcMask, NDArray srcKeyPaddingMask) {
    if (config.normFirst()) {
      Tensor x1;
      try (Tensor n1 = norm1.forward(src);
          Tensor sa = selfAttentionBlock(n1, srcMask, srcKeyPaddingMask)) {
        x1 = src.add(sa);
      }
      try (x1;
          Tensor n2 = norm2.forward(x1);
          Tensor ff = feedForwardBlock(n2)) {
        return x1.add(ff);
      }
    }
    Tensor x1;
    try (Tensor sa = selfAttentionBlock(src, srcMask, srcKeyPaddingMask);
        Tensor r1 = src.add(sa)) {
      x1 = norm1.forward(r1);
    }
    try (x1;
        Tensor ff = feedForwardBlock(x1);
        Tensor r2 = x1.add(ff)) {
      return norm2.forward(r2);
    }
  }

  private Tensor selfAttentionBlock(Tensor x, NDArray mask, NDArray keyPaddingMask) {
    try (AttentionOutput a = selfAttn.attend(x, x, x, keyPaddingMask, mask, false, true)) {
      return dropout1.forward(a.output());
    }
  }

  private Tensor feedForwardBlock(Tensor x) {
    try (Tensor h = linear1.forward(x);
        Tensor act = config.activation() == Activation.GELU ? h.gelu() : h.relu();
        Tensor dropped = dropout.forward(act);
        Tensor y = linear2.forward(dropped)) {
      return dropout2.forward(y);
    }
  }

  /** A new layer with the same configuration and the same weights (PyTorch's deepcopy). */
  public TransformerEncoderLayer copy(Generator gen) {
    TransformerEncoderLayer c = new TransformerEncoderLayer(config, gen);
    var state = stateDict();
    try {
      c.loadStateDict(state, true);
    } finally {
      state.values().forEach(NDArray::close);
    }
    return c;
  }

  /** Sets the generator of every dropout mask in the layer. */
  public void setGenerator(Generator gen) {
    selfAttn.setGenerator(gen);
    dropout.setGenerator(gen);
    dropout1.setGenerator(gen);
    dropout2.setGenerator(gen);
  }

  public Config config() {
    return config;
  }

  public MultiheadAttention selfAttn() {
    return selfAttn;
  }

  @Override
  public String toString() {
    return String.format(
        Locale.ROOT,
        "TransformerEncoderLayer(d_model=%d, nhead=%d, dim_feedforward=%d, dropout=%s,"
            + " activation=%s, norm_first=%s, batch_first=%s)",
        config.dModel(),
        config.nhead(),
        config.dimFeedforward(),
        Repr.num(config.dropout()),
        config.activation().name().toLowerCase(Locale.ROOT),
        Repr.bool(config.normFirst()),
        Repr.bool(config.batchFirst()));
  }
}
