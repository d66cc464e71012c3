package org.emberdl.federated;

/**
 * Synchronous SGD: every partition sends the sum of its examples' gradients; the step is their mean
 * over all examples of the global batch, exactly the gradient one process would compute on the
 * whole batch with a mean-reduced loss. BatchNorm-style buffers become their example-weighted mean.
 */
public final class MeanGradientAggregator implements Aggregator {
  private static final long serialVersionUID = 1L;

  @Override
  public UpdateKind updateKind() {
    return UpdateKind.GRADIENT_SUM;
  }

  @Override
  public Step combine(Update total) {
    return new Step(
        Step.Kind.GRADIENT, Averages.perExample(total.values(), total), bufferMean(total));
  }

  static float[] bufferMean(Update total) {
    return total.buffers().length == 0 ? null : Averages.perExample(total.buffers(), total);
  }

  @Override
  public String name() {
    return "sync";
  }
}
