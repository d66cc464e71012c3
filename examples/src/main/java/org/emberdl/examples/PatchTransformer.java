package org.emberdl.examples;

import org.emberdl.autograd.Tensor;
import org.emberdl.nn.Module;
import org.emberdl.nn.NetworkSpec;
import org.emberdl.nn.Sequential;
import org.emberdl.tensor.Generator;

/**
 * A small vision transformer for 28 x 28 images, built from the {@link #SPEC} network spec (the
 * same string an {@code EmberClassifier} takes as its {@code network} with {@code inputShape} (1,
 * 28, 28)): 7 x 7 patches (16 tokens of 49 pixels) projected to 64 features, a CLS token and
 * learned positions, 2 pre-norm GELU encoder layers of 4 heads with feed-forward size 128, the CLS
 * token's features into 10 logits. State-dict keys are the spec's under {@code net.}.
 */
public final class PatchTransformer extends Module {
  /** The network, for (1, 28, 28) inputs. */
  public static final String SPEC =
      "patches(7), linear(64), clsToken, posEmbedding(std=0.02), transformer(64, 4, 128, layers=2,"
          + " dropout=0, prenorm, gelu), clsPool, linear(10)";

  private final Sequential net;

  public PatchTransformer(Generator gen) {
    net = registerModule("net", NetworkSpec.build(SPEC, new int[] {1, 28, 28}, gen));
  }

  /** (N, 784) or (N, 28, 28) images to (N, 10) logits. */
  @Override
  public Tensor forward(Tensor x) {
    try (Tensor img = x.reshape(x.shape(0), 1, 28, 28)) {
      return net.forward(img);
    }
  }
}
