package org.emberdl.federated;

/**
 * Federated averaging on the server (driver): each client (a partition, or a group of rows sharing
 * a client id) trains locally from the round's weights and sends its model delta weighted by its
 * example count; the server averages the deltas (FedAvg, McMahan et al. 2017, "Communication-
 * Efficient Learning of Deep Networks from Decentralized Data") and applies the average through a
 * server optimizer, after Reddi et al. 2021 ("Adaptive Federated Optimization"), which treats the
 * negative average delta as a pseudo-gradient:
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

  private enum Server {
    SGD,
    MOMENTUM,
    ADAM
  }

  private final Server server;
  private final double eta;
  private final double beta1;
  private final double beta2;
  private final double tau;
  private float[] first;
  private float[] second;

  private FederatedAveraging(Server server, double eta, double beta1, double beta2, double tau) {
    if (!(eta > 0) || !Double.isFinite(eta)) {
      throw new IllegalArgumentException("server learning rate must be > 0, got " + eta);
    }
    if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
      throw new IllegalArgumentException(
          "server betas must be in [0, 1), got " + beta1 + " and " + beta2);
    }
    if (!(tau > 0) && server == Server.ADAM) {
      throw new IllegalArgumentException("FedAdam's tau must be > 0, got " + tau);
    }
    this.server = server;
    this.eta = eta;
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.tau = tau;
  }

  /** FedAvg with server learning rate {@code eta} (1 = McMahan et al.'s averaging). */
  public static FederatedAveraging fedAvg(double eta) {
    return new FederatedAveraging(Server.SGD, eta, 0, 0, 1);
  }

  /** FedAvgM: server momentum {@code beta} on the averaged delta. */
  public static FederatedAveraging fedAvgM(double eta, double beta) {
    return new FederatedAveraging(Server.MOMENTUM, eta, beta, 0, 1);
  }

  /** FedAdam (Reddi et al. 2021; their defaults: beta1 0.9, beta2 0.99, tau 1e-3). */
  public static FederatedAveraging fedAdam(double eta, double beta1, double beta2, double tau) {
    return new FederatedAveraging(Server.ADAM, eta, beta1, beta2, tau);
  }

  @Override
  public UpdateKind updateKind() {
    return UpdateKind.WEIGHTED_DELTA;
  }

  @Override
  public Step combine(Update total) {
    float[] d = Averages.perExample(total.values(), total);
    float[] out = new float[d.length];
    switch (server) {
      case SGD -> {
        for (int i = 0; i < d.length; i++) {
          out[i] = (float) (eta * d[i]);
        }
      }
      case MOMENTUM -> {
        float[] v = state(d.length, true);
        for (int i = 0; i < d.length; i++) {
          v[i] = (float) (beta1 * v[i] + d[i]);
          out[i] = (float) (eta * v[i]);
        }
      }
      case ADAM -> {
        float[] m = state(d.length, true);
        float[] v = state(d.length, false);
        for (int i = 0; i < d.length; i++) {
          m[i] = (float) (beta1 * m[i] + (1 - beta1) * d[i]);
          v[i] = (float) (beta2 * v[i] + (1 - beta2) * (double) d[i] * d[i]);
          out[i] = (float) (eta * m[i] / (Math.sqrt(v[i]) + tau));
        }
      }
      default -> throw new AssertionError(server);
    }
    return new Step(Step.Kind.DELTA, out, MeanGradientAggregator.bufferMean(total));
  }

  private float[] state(int n, boolean firstMoment) {
    float[] s = firstMoment ? first : second;
    if (s == null) {
      s = new float[n];
      if (firstMoment) {
        first = s;
      } else {
        second = s;
      }
    } else if (s.length != n) {
      throw new IllegalArgumentException(
          "update of " + n + " values for a server state of " + s.length);
    }
    return s;
  }

  @Override
  public String name() {
    return switch (server) {
      case SGD -> "fedavg";
      case MOMENTUM -> "fedavgm";
      case ADAM -> "fedadam";
    };
  }
}
