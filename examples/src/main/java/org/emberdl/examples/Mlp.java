package org.emberdl.examples;

import org.emberdl.autograd.Tensor;
import org.emberdl.nn.Linear;
import org.emberdl.nn.Module;
import org.emberdl.tensor.Generator;

/** The 784-256-128-10 ReLU network of the Fashion-MNIST baselines. */
public final class Mlp extends Module {
  private final Linear fc1;
  private final Linear fc2;
  private final Linear fc3;

  public Mlp(Generator gen) {
    fc1 = registerModule("fc1", new Linear(784, 256, gen));
    fc2 = registerModule("fc2", new Linear(256, 128, gen));
    fc3 = registerModule("fc3", new Linear(128, 10, gen));
  }

  /** (N, 784) or (N, 28, 28) images to (N, 10) logits. */
  @Override
  public Tensor forward(Tensor x) {
    try (Tensor flat = x.reshape(x.shape(0), 784);
        Tensor h1 = fc1.forward(flat);
        Tensor a1 = h1.relu();
        Tensor h2 = fc2.forward(a1);
        Tensor a2 = h2.relu()) {
      return fc3.forward(a2);
    }
  }
}
