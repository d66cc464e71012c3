package org.emberdl.nn;

import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.NDArray;

/**
 * A stack of {@link TransformerEncoderLayer}s, as {@code torch.nn.TransformerEncoder}: {@code
 * numLayers} copies of one layer (same configuration and the same initial weights, as PyTorch's
 * deepcopy), applied in order with the same masks, then an optional final {@link LayerNorm} (what
 * pre-norm stacks need). State-dict keys: {@code layers.0.self_attn.in_proj_weight}, ..., and
 * {@code norm.weight}, {@code norm.bias} when there is a final norm.
 */
public class TransformerEncoder extends Module implements VariableLength {
  private final TransformerEncoderLayer[] layers;
  private final LayerNorm norm;

  /**
   * @param encoderLayer the layer to copy; it becomes {@code layers.0} (the encoder owns it)
   * @param numLayers how many layers, at least 1
   * @param norm the final norm (owned by the encoder), or null for none
   * @param gen draws the copies' dropout masks (their weights are copied)
   */
  public TransformerEncoder(
      TransformerEncoderLayer encoderLayer, int numLayers, LayerNorm norm, Generator gen) {
    if (numLayers <= 0) {
      throw new IllegalArgumentException(
          "TransformerEncoder num_layers must be positive, got " + numLayers);
    }
    Sequential list = registerModule("layers", new Sequential());
    this.layers = new TransformerEncoderLayer[numLayers];
    layers[0] = encoderLayer;
    list.add(encoderLayer);
    for (int i = 1; i < numLayers; i++) {
      layers[i] = encoderLayer.copy(gen);
      list.add(layers[i]);
    }
    this.norm = norm == null ? null : registerModule("norm", norm);
  }

  /** The stack without masks. */
  @Override
  public Tensor forward(Tensor src) {
    return forward(src, null, null);
  }

  /** The stack over right-padded batch-first sequences: keys past each length are masked out. */
  @Override
  public Tensor forward(Tensor src, int[] lengths) {
    if (lengths == null) {
      return forward(src);
    }
    try (NDArray pad =
        AttentionMasks.keyPadding(
            "TransformerEncoder", layers[0].config().batchFirst(), src, lengths)) {
      return forward(src, null, pad);
    }
  }

  /**
   * As PyTorch's {@code forward(src, mask, src_key_padding_mask)}: every layer gets the same masks.
   */
  public Tensor forward(Tensor src, NDArray mask, NDArray srcKeyPaddingMask) {
    Tensor x = layers[0].forward(src, mask, srcKeyPaddingMask);
    for (int i = 1; i < layers.length; i++) {
      try (Tensor prev = x) {
        x = layers[i].forward(prev, mask, srcKeyPaddingMask);
      }
    }
    if (norm == null) {
      return x;
    }
    try (Tensor last = x) {
      return norm.forward(last);
    }
  }

  /** The layer at {@code index}. */
  public TransformerEncoderLayer layer(int index) {
    return layers[index];
  }

  public int numLayers() {
    return layers.length;
  }

  /** The final norm, or null. */
  public LayerNorm norm() {
    return norm;
  }

  @Override
  public String toString() {
    return "TransformerEncoder(num_layers="
        + layers.length
        + ", layer="
        + layers[0]
        + (norm == null ? "" : ", norm=" + norm)
        + ")";
  }
}
