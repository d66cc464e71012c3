package org.emberdl.spark.internal.train;

import org.emberdl.federated.dp.DpSgd;
import org.emberdl.federated.dp.SecretSampler;
import org.emberdl.spark.internal.plan.Aggregation;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.NDArray;

/** How each federated aggregation samples its clients per round. */
public final class Federation {
  private static final long CLIENT_SALT = 0x434c_4945_4e54_5321L;
  private static final long POISSON_SALT = 0x504f_4953_534f_4e43L;

  private Federation() {}

  /**
   * The clients (dense indices 0..K-1) that take part in global round {@code round}.
   *
   * @param secret dp-fedavg under secureNoise: the fit's secret sampler (the sample is then
   *     unpredictable from the seed); null = keyed by seed
   */
  public static boolean[] sample(
      Aggregation aggregation,
      long seed,
      long round,
      int clients,
      double fraction,
      SecretSampler secret) {
    if (aggregation != Aggregation.DP_FEDAVG) {
      return sampleClients(seed, round, clients, fraction);
    }
    if (secret == null) {
      return poissonClients(seed, round, clients, fraction);
    }
    boolean[] out = new boolean[clients];
    for (int i : secret.poissonSample(clients, fraction, round, -1)) {
      out[i] = true;
    }
    return out;
  }

  /**
   * FedAvg's client sampling: {@code max(1, round(fraction * clients))} clients drawn without
   * replacement, keyed by (seed, round).
   */
  public static boolean[] sampleClients(long seed, long round, int clients, double fraction) {
    int m = Math.max(1, (int) Math.round(fraction * clients));
    boolean[] out = new boolean[clients];
    try (NDArray perm =
        NDArray.randperm(Generator.forTask(seed ^ CLIENT_SALT, round, 0), clients)) {
      int[] order = perm.toIntArray();
      for (int i = 0; i < m; i++) {
        out[order[i]] = true;
      }
    }
    return out;
  }

  /**
   * DP-FedAvg's sampling: every client independently with probability {@code q}, keyed by (seed,
   * round), as the sampled Gaussian mechanism of the accountant assumes (the number of clients
   * varies from round to round, and may be 0).
   */
  public static boolean[] poissonClients(long seed, long round, int clients, double q) {
    boolean[] out = new boolean[clients];
    for (int i :
        DpSgd.poissonSample(clients, q, Generator.forTask(seed ^ POISSON_SALT, round, 0))) {
      out[i] = true;
    }
    return out;
  }
}
