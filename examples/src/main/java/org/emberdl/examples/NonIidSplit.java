package org.emberdl.examples;

import java.util.Arrays;
import java.util.Random;

/**
 * Non-IID splits of a labelled dataset into federated clients.
 *
 * <p>{@link #shards}: the pathological split of McMahan et al. 2017 ("Communication-Efficient
 * Learning of Deep Networks from Decentralized Data", section 3): sort the examples by label, cut
 * them into {@code clients * shardsPerClient} equal shards and give every client {@code
 * shardsPerClient} shards at random. With Fashion-MNIST's 6,000 images a class, 10 clients and 2
 * shards each, a shard holds one class, so a client sees at most two classes, and one class only
 * when it draws both shards of a class.
 *
 * <p>{@link #dirichlet}: the label-skew split of Hsu, Qi and Brown 2019 and NIID-Bench (Li et al.
 * 2021, "Federated Learning on Non-IID Data Silos: An Experimental Study"): each class is divided
 * among the clients in proportions drawn from a symmetric Dirichlet(alpha); alpha = 0.5 is
 * NIID-Bench's usual setting (clients have most of their data in a few classes, sizes vary).
 */
final class NonIidSplit {
  /** NIID-Bench redraws until every client has at least this many examples. */
  static final int MIN_CLIENT_SIZE = 10;

  private NonIidSplit() {}

  /**
   * A split to apply: {@code shards} (two per client) or {@code dirichlet} (with {@code alpha}),
   * into {@code clients} clients, seeded with 42.
   */
  record Spec(String kind, int clients, double alpha) {
    Spec {
      if (!kind.equals("shards") && !kind.equals("dirichlet")) {
        throw new IllegalArgumentException("split must be shards or dirichlet, got " + kind);
      }
    }

    int[] assign(long[] labels) {
      return kind.equals("shards")
          ? shards(labels, clients, 2, 42)
          : dirichlet(labels, clients, alpha, 42);
    }

    @Override
    public String toString() {
      return kind.equals("shards")
          ? clients + " clients of two label-sorted shards"
          : clients + " clients, Dirichlet(" + alpha + ") label skew";
    }
  }

  /**
   * The client (0..clients-1) of every example.
   *
   * @param labels the examples' labels
   * @param seed seeds the shards' assignment
   */
  static int[] shards(long[] labels, int clients, int shardsPerClient, long seed) {
    if (clients < 1 || shardsPerClient < 1) {
      throw new IllegalArgumentException(
          "need clients >= 1 and shardsPerClient >= 1, got " + clients + ", " + shardsPerClient);
    }
    int n = labels.length;
    int shards = clients * shardsPerClient;
    if (n < shards) {
      throw new IllegalArgumentException(
          n + " examples cannot make " + shards + " shards for " + clients + " clients");
    }
    // rows by label, ties by index: label in the high bits, the index in the low 32
    long[] keys = new long[n];
    for (int i = 0; i < n; i++) {
      keys[i] = (labels[i] << 32) | i;
    }
    Arrays.sort(keys);
    int[] owner = new int[shards];
    for (int s = 0; s < shards; s++) {
      owner[s] = s / shardsPerClient;
    }
    Random random = new Random(seed);
    for (int s = shards - 1; s > 0; s--) {
      int j = random.nextInt(s + 1);
      int t = owner[s];
      owner[s] = owner[j];
      owner[j] = t;
    }
    int[] client = new int[n];
    for (int r = 0; r < n; r++) {
      int shard = (int) ((long) r * shards / n);
      client[(int) keys[r]] = owner[shard];
    }
    return client;
  }

  /**
   * The client of every example under the Dirichlet(alpha) label skew (see the class comment).
   *
   * @throws IllegalArgumentException if no draw in 1000 gives every client {@value
   *     #MIN_CLIENT_SIZE} examples
   */
  static int[] dirichlet(long[] labels, int clients, double alpha, long seed) {
    if (clients < 1 || !(alpha > 0)) {
      throw new IllegalArgumentException(
          "need clients >= 1 and alpha > 0, got " + clients + ", " + alpha);
    }
    int n = labels.length;
    long[] keys = new long[n];
    for (int i = 0; i < n; i++) {
      keys[i] = (labels[i] << 32) | i;
    }
    Arrays.sort(keys); // by class; the rows of a class in index order
    Random random = new Random(seed);
    int[] client = new int[n];
    for (int attempt = 0; attempt < 1000; attempt++) {
      int[] sizes = new int[clients];
      int start = 0;
      while (start < n) {
        long label = keys[start] >> 32;
        int end = start;
        while (end < n && keys[end] >> 32 == label) {
          end++;
        }
        int[] order = permutation(end - start, random);
        double[] p = dirichletSample(clients, alpha, random);
        double cumulative = 0;
        int from = 0;
        for (int k = 0; k < clients; k++) {
          cumulative += p[k];
          int to = k == clients - 1 ? end - start : (int) Math.round(cumulative * (end - start));
          for (int r = from; r < to; r++) {
            client[(int) keys[start + order[r]]] = k;
          }
          sizes[k] += Math.max(0, to - from);
          from = Math.max(from, to);
        }
        start = end;
      }
      if (Arrays.stream(sizes).min().orElse(0) >= Math.min(MIN_CLIENT_SIZE, n / clients)) {
        return client;
      }
    }
    throw new IllegalArgumentException(
        "no Dirichlet("
            + alpha
            + ") split of "
            + n
            + " examples gives "
            + clients
            + " clients "
            + MIN_CLIENT_SIZE
            + " examples each; use fewer clients or a larger alpha");
  }

  private static int[] permutation(int n, Random random) {
    int[] p = new int[n];
    for (int i = 0; i < n; i++) {
      p[i] = i;
    }
    for (int i = n - 1; i > 0; i--) {
      int j = random.nextInt(i + 1);
      int t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }

  /** A symmetric Dirichlet draw: normalised Gamma(alpha) variates. */
  private static double[] dirichletSample(int k, double alpha, Random random) {
    double[] g = new double[k];
    double sum = 0;
    for (int i = 0; i < k; i++) {
      g[i] = gamma(alpha, random);
      sum += g[i];
    }
    for (int i = 0; i < k; i++) {
      g[i] /= sum;
    }
    return g;
  }

  /**
   * Gamma(alpha, 1) by Marsaglia and Tsang (2000); for alpha < 1 through Gamma(alpha + 1) *
   * U^(1/alpha).
   */
  static double gamma(double alpha, Random random) {
    if (alpha < 1) {
      return gamma(alpha + 1, random) * Math.pow(random.nextDouble(), 1 / alpha);
    }
    double d = alpha - 1.0 / 3;
    double c = 1 / Math.sqrt(9 * d);
    while (true) {
      double x = random.nextGaussian();
      double v = 1 + c * x;
      if (v <= 0) {
        continue;
      }
      v = v * v * v;
      double u = random.nextDouble();
      if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) {
        return d * v;
      }
    }
  }
}
