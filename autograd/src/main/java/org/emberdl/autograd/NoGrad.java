package org.emberdl.autograd;

/**
 * A block in which ops do not record the graph, like {@code torch.no_grad()}:
 *
 * <pre>{@code
 * try (NoGrad ignored = NoGrad.enter()) {
 *   Tensor logits = model.forward(x);   // no Functions, no saved arrays
 * }
 * }</pre>
 *
 * Blocks nest; each must be closed on the thread that entered it.
 */
public final class NoGrad implements AutoCloseable {
  private boolean closed;

  private NoGrad() {
    GradMode.disable();
  }

  public static NoGrad enter() {
    return new NoGrad();
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      GradMode.restore();
    }
  }
}
