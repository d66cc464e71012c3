package org.emberdl.examples;

import org.emberdl.autograd.Tensor;
import org.emberdl.nn.Conv2d;
import org.emberdl.nn.Linear;
import org.emberdl.nn.Module;
import org.emberdl.tensor.Generator;

/**
 * conv32 3x3 - relu - maxpool 2 - conv64 3x3 - relu - maxpool 2 - fc128 - relu - fc10, the small
 * CNN of the Fashion-MNIST baselines (no padding: 28 -> 26 -> 13 -> 11 -> 5).
 */
public final class SmallCnn extends Module {
  private static final int[] POOL = {2};
  private static final int[] NO_PAD = {0};

  private final Conv2d conv1;
  private final Conv2d conv2;
  private final Linear fc1;
  private final Linear fc2;

  public SmallCnn(Generator gen) {
    conv1 = registerModule("conv1", new Conv2d(1, 32, 3, gen));
    conv2 = registerModule("conv2", new Conv2d(32, 64, 3, gen));
    fc1 = registerModule("fc1", new Linear(64 * 5 * 5, 128, gen));
    fc2 = registerModule("fc2", new Linear(128, 10, gen));
  }

  /** (N, 784) or (N, 28, 28) images to (N, 10) logits. */
  @Override
  public Tensor forward(Tensor x) {
    try (Tensor img = x.reshape(x.shape(0), 1, 28, 28); // (N, 1, 28, 28)
        Tensor c1 = conv1.forward(img); // (N, 32, 26, 26)
        // relu then maxpool as one op: the same values and gradients, no rectified copy
        Tensor p1 = c1.reluMaxPool2d(POOL, POOL, NO_PAD); // (N, 32, 13, 13)
        Tensor c2 = conv2.forward(p1); // (N, 64, 11, 11)
        Tensor p2 = c2.reluMaxPool2d(POOL, POOL, NO_PAD); // (N, 64, 5, 5)
        Tensor flat = p2.reshape(p2.shape(0), 64 * 5 * 5);
        Tensor h = fc1.forward(flat);
        Tensor a = h.relu()) {
      return fc2.forward(a);
    }
  }
}
