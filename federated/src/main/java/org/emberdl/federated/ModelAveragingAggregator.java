package org.emberdl.federated;

/**
 * Local SGD / model averaging: each partition takes several local optimizer steps from the round's
 * weights and sends its model delta weighted by the examples it used; the step moves the global
 * weights by the example-weighted mean delta (FedAvg's server update with a server learning rate of
 * 1).
 */
public final class ModelAveragingAggregator implements Aggregator {
  private static final long serialVersionUID = 1L;

  @Override
  public UpdateKind updateKind() {
    return UpdateKind.WEIGHTED_DELTA;
  }

  @Override
  public Step combine(Update total) {
    return new Step(
        Step.Kind.DELTA,
        Averages.perExample(total.values(), total),
        MeanGradientAggregator.bufferMean(total));
  }

  @Override
  public String name() {
    return "model-averaging";
  }
}
