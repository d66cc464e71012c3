package org.emberdl.benchmarks;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.SortedMap;
import java.util.TreeMap;
import org.emberdl.federated.secagg.FixedPointCodec;
import org.emberdl.federated.secagg.Messages.KeyDirectory;
import org.emberdl.federated.secagg.Messages.ShareBundle;
import org.emberdl.federated.secagg.Messages.UnmaskRequest;
import org.emberdl.federated.secagg.Messages.UnmaskResponse;
import org.emberdl.federated.secagg.Randomness;
import org.emberdl.federated.secagg.SecureAggregationClient;
import org.emberdl.federated.secagg.SecureAggregationParameters;
import org.emberdl.federated.secagg.SecureAggregationServer;
import org.emberdl.federated.secagg.SecureSum;

/**
 * The overhead of one secure-aggregation round (Bonawitz et al.; {@code
 * org.emberdl.federated.secagg}) for {@code n} clients summing vectors of {@code --length} floats
 * (default 235,146, the MLP 784-256-128-10's parameter count), with threshold {@code n/2 + 1}, with
 * no dropouts and with {@code --dropout} of the clients (default 10%) dropping out after sharing
 * their keys and before masking (so the server must reconstruct their mask keys).
 *
 * <p>All four phases of the protocol run in this process, every client one after the other with
 * {@link Randomness#secure()}: 0 advertise keys, 1 share keys (Shamir shares, encrypted per pair),
 * 2 mask input (one PRG mask per other client plus the self mask), 3 unmask (the server
 * reconstructs the survivors' self-mask seeds and the dropouts' mask keys and removes the masks).
 * Per phase: client time summed over the clients (what this sequential simulation costs), the mean
 * and the slowest client (what a round waits for when clients run in parallel), and the server's
 * time (receiving, routing and closing the phase). After three untimed 10-client rounds (JIT
 * warm-up), and {@code --warmup} untimed rounds per configuration, {@code --reps} timed rounds;
 * every number is the median over the timed rounds. The round's result is checked against the plain
 * sum.
 *
 * <pre>
 * --clients 10,100   --length 235146   --dropout 0.1   --reps 3   --warmup 1
 * </pre>
 *
 * Prints a table per configuration and a {@code SUMMARY} line. Command-line output goes to stdout
 * by design.
 */
public final class SecureAggregationBenchmark {
  private static final String[] PHASES = {
    "0 advertise keys", "1 share keys", "2 mask input", "3 unmask"
  };

  private SecureAggregationBenchmark() {}

  /** Runs the configurations given on the command line. */
  public static void main(String[] args) {
    Map<String, String> o = TrainingThroughput.parse(args);
    int length = Integer.parseInt(o.getOrDefault("length", "235146"));
    double dropout = Double.parseDouble(o.getOrDefault("dropout", "0.1"));
    int reps = Integer.parseInt(o.getOrDefault("reps", "3"));
    int warmup = Integer.parseInt(o.getOrDefault("warmup", "1"));
    System.out.printf(
        Locale.ROOT,
        "%s %s, %d cores, vector length %,d%n",
        System.getProperty("java.vm.name"),
        System.getProperty("java.version"),
        Runtime.getRuntime().availableProcessors(),
        length);
    // JIT warm-up (AES-CTR intrinsics, X25519, the masking loops) before any timed round
    for (int w = 0; w < 3; w++) {
      round(10, 1, length, "jit-" + w);
    }
    for (String c : o.getOrDefault("clients", "10,100").split(",")) {
      int n = Integer.parseInt(c.trim());
      for (int dropouts : new int[] {0, (int) Math.round(n * dropout)}) {
        for (int w = 0; w < warmup; w++) {
          round(n, dropouts, length, "warmup-" + w);
        }
        RoundTimes[] timed = new RoundTimes[reps];
        for (int r = 0; r < reps; r++) {
          timed[r] = round(n, dropouts, length, "rep-" + r);
        }
        report(n, dropouts, timed);
      }
    }
  }

  /** Nanoseconds of one round: per phase, each client's time and the server's. */
  private record RoundTimes(long[][] client, long[] server) {}

  private static RoundTimes round(int n, int dropouts, int length, String tag) {
    int t = n / 2 + 1;
    SecureAggregationParameters params =
        new SecureAggregationParameters(
            "bench-" + n + "-" + dropouts + "-" + tag, t, length, FixedPointCodec.forClients(1, n));
    SecureAggregationServer server = new SecureAggregationServer(params);
    List<SecureAggregationClient> clients = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      clients.add(new SecureAggregationClient(i, params, Randomness.secure()));
    }
    Random random = new Random(n);
    float[] update = new float[length];
    for (int k = 0; k < length; k++) {
      update[k] = (float) (2 * random.nextDouble() - 1);
    }
    long[][] client = {new long[n], new long[n], new long[n - dropouts], new long[n - dropouts]};
    long[] srv = new long[4];

    for (int i = 0; i < n; i++) {
      long c0 = System.nanoTime();
      var m = clients.get(i).advertiseKeys();
      long c1 = System.nanoTime();
      server.receiveKeys(m);
      client[0][i] = c1 - c0;
      srv[0] += System.nanoTime() - c1;
    }
    long s0 = System.nanoTime();
    KeyDirectory directory = server.closeAdvertiseKeys();
    srv[0] += System.nanoTime() - s0;

    for (int i = 0; i < n; i++) {
      long c0 = System.nanoTime();
      var m = clients.get(i).shareKeys(directory);
      long c1 = System.nanoTime();
      server.receiveSharedKeys(m);
      client[1][i] = c1 - c0;
      srv[1] += System.nanoTime() - c1;
    }
    long s1 = System.nanoTime();
    SortedMap<Integer, ShareBundle> bundles = server.closeShareKeys();
    srv[1] += System.nanoTime() - s1;

    // the first `dropouts` clients drop out after sharing their keys
    for (int i = dropouts; i < n; i++) {
      long c0 = System.nanoTime();
      var m = clients.get(i).maskInput(bundles.get(i), update);
      long c1 = System.nanoTime();
      server.receiveMaskedInput(m);
      client[2][i - dropouts] = c1 - c0;
      srv[2] += System.nanoTime() - c1;
    }
    long s2 = System.nanoTime();
    UnmaskRequest request = server.closeMaskedInput();
    srv[2] += System.nanoTime() - s2;

    SortedMap<Integer, UnmaskResponse> responses = new TreeMap<>();
    for (int i = dropouts; i < n; i++) {
      long c0 = System.nanoTime();
      responses.put(i, clients.get(i).unmask(request));
      client[3][i - dropouts] = System.nanoTime() - c0;
    }
    long s3 = System.nanoTime();
    responses.values().forEach(server::receiveUnmaskResponse);
    SecureSum sum = server.finish();
    srv[3] += System.nanoTime() - s3;

    double expected = (n - dropouts) * (double) update[0];
    if (Math.abs(sum.values()[0] - expected) > 1e-3) {
      throw new AssertionError("wrong sum " + sum.values()[0] + " vs " + expected);
    }
    return new RoundTimes(client, srv);
  }

  private static void report(int n, int dropouts, RoundTimes[] timed) {
    int reps = timed.length;
    System.out.printf(
        Locale.ROOT,
        "%n%d clients, threshold %d, %d dropped before masking; median of %d rounds, ms:%n",
        n,
        n / 2 + 1,
        dropouts,
        reps);
    System.out.printf(
        Locale.ROOT,
        "  %-18s %12s %12s %12s %12s %14s%n",
        "phase",
        "clients sum",
        "client mean",
        "client max",
        "server",
        "sum + server");
    double[] totalSeq = new double[reps];
    double[] totalPar = new double[reps];
    double[] serverTotal = new double[reps];
    for (int ph = 0; ph < 4; ph++) {
      double[] sum = new double[reps];
      double[] mean = new double[reps];
      double[] max = new double[reps];
      double[] srv = new double[reps];
      for (int r = 0; r < reps; r++) {
        long[] c = timed[r].client()[ph];
        long s = 0;
        long m = 0;
        for (long v : c) {
          s += v;
          m = Math.max(m, v);
        }
        sum[r] = s / 1e6;
        mean[r] = s / 1e6 / c.length;
        max[r] = m / 1e6;
        srv[r] = timed[r].server()[ph] / 1e6;
        totalSeq[r] += sum[r] + srv[r];
        totalPar[r] += max[r] + srv[r];
        serverTotal[r] += srv[r];
      }
      System.out.printf(
          Locale.ROOT,
          "  %-18s %12.2f %12.2f %12.2f %12.2f %14.2f%n",
          PHASES[ph],
          TrainingThroughput.median(sum),
          TrainingThroughput.median(mean),
          TrainingThroughput.median(max),
          TrainingThroughput.median(srv),
          TrainingThroughput.median(sum) + TrainingThroughput.median(srv));
    }
    System.out.printf(
        Locale.ROOT,
        "SUMMARY secagg clients=%d dropouts=%d median ms per round: all clients + server %.1f,"
            + " server %.1f, critical path (slowest client + server per phase) %.1f%n",
        n,
        dropouts,
        TrainingThroughput.median(totalSeq),
        TrainingThroughput.median(serverTotal),
        TrainingThroughput.median(totalPar));
  }
}
