package org.emberdl.federated;

/**
 * Federated averaging on the server (driver): each client (a partition, or a group of rows sharing
 * a client id) trains locally from the round's weights and sends its model delta weighted by its
 * example count; the server averages the deltas (FedAvg, McMahan et al. 2017, "Communication-
 * Efficient Learning of Deep Networks from Decentralized Data") and applies the average through a
 * {@link ServerOptimizer}:
 *
 * <ul>
 *   <li>{@link #fedAvg(double)}: {@code w += eta * mean_delta} (eta = 1 is plain FedAvg);
 *   <li>{@link #fedAvgM(double, double)}: server momentum (Hsu et al. 2019), {@code v = beta * v +
 *       mean_delta; w += eta * v};
 *   <li>{@link #fedAdam(double, double, double, double)}: {@code m = b1 m + (1 - b1) d; v = b2 v +
 *       (1 - b2) d^2; w += eta * m / (sqrt(v) + tau)} with {@code d = mean_delta} (no bias
 *       correction, as in Reddi et al.'s Algorithm 2).
 * </ul>
 *
 * <p>The server state (momentum, moments) lives in this object on the driver; it is serializable so
 * a checkpoint can hold it. Not thread-safe: one coordinator combines rounds one at a time.
 */
public final class FederatedAveraging implements Aggregator {
  private static final long serialVersionUID = 1L;

  private final ServerOptimizer server;

  /** FedAvg whose server applies {@code server}'s step to the example-weighted mean delta. */
  public FederatedAveraging(ServerOptimizer server) {
    this.server = server;
  }

  /** FedAvg with server learning rate {@code eta} (1 = McMahan et al.'s averaging). */
  public static FederatedAveraging fedAvg(double eta) {
    return new FederatedAveraging(ServerOptimizer.sgd(eta));
  }

  /** FedAvgM: server momentum {@code beta} on the averaged delta. */
  public static FederatedAveraging fedAvgM(double eta, double beta) {
    return new FederatedAveraging(ServerOptimizer.momentum(eta, beta));
  }

  /** FedAdam (Reddi et al. 2021; their defaults: beta1 0.9, beta2 0.99, tau 1e-3). */
  public static FederatedAveraging fedAdam(double eta, double beta1, double beta2, double tau) {
    return new FederatedAveraging(ServerOptimizer.adam(eta, beta1, beta2, tau));
  }

  @Override
  public UpdateKind updateKind() {
    return UpdateKind.WEIGHTED_DELTA;
  }

  /**
   * The server's step on the example-weighted mean delta. A round whose sampled clients hold no
   * training rows (e.g. all of them held out for validation) leaves the weights and the server's
   * state as they are.
   */
  @Override
  public Step combine(Update total) {
    if (total.examples() == 0) {
      return new Step(Step.Kind.DELTA, new float[total.values().length], null);
    }
    float[] d = Averages.perExample(total.values(), total);
    return new Step(Step.Kind.DELTA, server.step(d), MeanGradientAggregator.bufferMean(total));
  }

  @Override
  public String name() {
    return switch (server.kind()) {
      case "momentum" -> "fedavgm";
      case "adam" -> "fedadam";
      default -> "fedavg";
    };
  }
}
