package org.emberdl.federated.secagg;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.SortedMap;
import java.util.TreeMap;
import org.emberdl.federated.secagg.Messages.KeyDirectory;
import org.emberdl.federated.secagg.Messages.ShareBundle;
import org.emberdl.federated.secagg.Messages.UnmaskRequest;

/**
 * Not a test: a one-off measurement of the protocol's overhead per round, for 10 and 100 clients at
 * 235,146 floats (the MLP's parameter count), 10% of the clients dropping out before masking and
 * threshold {@code n/2 + 1}. All clients run one after the other in this process, with {@link
 * Randomness#secure()}; times per client are means over the clients (max in brackets). Run with
 *
 * <pre>
 * java -cp federated/target/classes:federated/target/test-classes:$(cat cp.txt) \
 *     org.emberdl.federated.secagg.SecureAggregationTiming [length]
 * </pre>
 */
public final class SecureAggregationTiming {
  private SecureAggregationTiming() {}

  public static void main(String[] args) {
    int length = args.length > 0 ? Integer.parseInt(args[0]) : 235_146;
    System.out.printf(
        Locale.ROOT,
        "%s %s, %d cores, vector length %d%n",
        System.getProperty("java.vm.name"),
        System.getProperty("java.version"),
        Runtime.getRuntime().availableProcessors(),
        length);
    // Warm-up, so that C2 has compiled the AES-CTR intrinsics and the loops.
    round(10, length, false);
    round(10, length, false);
    round(100, length, false);
    unitCosts(length);
    round(10, length, true);
    round(100, length, true);
  }

  private static void unitCosts(int length) {
    Randomness r = Randomness.secure();
    X25519.KeyPair a = X25519.generate(r);
    X25519.KeyPair b = X25519.generate(r);
    byte[] key = new byte[32];
    r.nextBytes(key);
    long[] acc = new long[length];
    DistributedGaussianNoise noise = new DistributedGaussianNoise(1, 1, 10);
    for (int warm = 0; warm < 2; warm++) {
      long t0 = System.nanoTime();
      for (int i = 0; i < 200; i++) {
        X25519.agree(a.privateKey(), b.publicKey());
      }
      long t1 = System.nanoTime();
      for (int i = 0; i < 20; i++) {
        Prg.addMask(key, acc, false);
      }
      long t2 = System.nanoTime();
      for (int i = 0; i < 5; i++) {
        noise.sample(length, r);
      }
      long t3 = System.nanoTime();
      if (warm == 1) {
        System.out.printf(
            Locale.ROOT,
            "unit costs: X25519 agreement %.3f ms, one PRG mask (%d words, %.1f MB) %.2f ms"
                + " (%.0f MB/s), Gaussian noise for the vector %.2f ms%n",
            (t1 - t0) / 200 / 1e6,
            length,
            length * 8 / 1e6,
            (t2 - t1) / 20 / 1e6,
            20.0 * length * 8 / ((t2 - t1) / 1e3),
            (t3 - t2) / 5 / 1e6);
      }
    }
  }

  private static void round(int n, int length, boolean report) {
    int t = n / 2 + 1;
    int dropouts = n / 10;
    SecureAggregationParameters params =
        new SecureAggregationParameters(
            "timing-" + n + "-" + report, t, length, FixedPointCodec.forClients(1, n));
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

    long[] advertise = new long[n];
    long[] share = new long[n];
    long[] mask = new long[n - dropouts];
    long[] unmask = new long[n - dropouts];
    long server0 = 0;

    for (int i = 0; i < n; i++) {
      long c0 = System.nanoTime();
      var m = clients.get(i).advertiseKeys();
      advertise[i] = System.nanoTime() - c0;
      long s0 = System.nanoTime();
      server.receiveKeys(m);
      server0 += System.nanoTime() - s0;
    }
    long s0 = System.nanoTime();
    KeyDirectory directory = server.closeAdvertiseKeys();
    server0 += System.nanoTime() - s0;

    long server1 = 0;
    for (int i = 0; i < n; i++) {
      long c0 = System.nanoTime();
      var m = clients.get(i).shareKeys(directory);
      share[i] = System.nanoTime() - c0;
      long s1 = System.nanoTime();
      server.receiveSharedKeys(m);
      server1 += System.nanoTime() - s1;
    }
    long s1 = System.nanoTime();
    SortedMap<Integer, ShareBundle> bundles = server.closeShareKeys();
    server1 += System.nanoTime() - s1;

    long server2 = 0;
    for (int i = dropouts; i < n; i++) {
      long c0 = System.nanoTime();
      var m = clients.get(i).maskInput(bundles.get(i), update);
      mask[i - dropouts] = System.nanoTime() - c0;
      long s2 = System.nanoTime();
      server.receiveMaskedInput(m);
      server2 += System.nanoTime() - s2;
    }
    long s2 = System.nanoTime();
    UnmaskRequest request = server.closeMaskedInput();
    server2 += System.nanoTime() - s2;

    long server3 = 0;
    SortedMap<Integer, Messages.UnmaskResponse> responses = new TreeMap<>();
    for (int i = dropouts; i < n; i++) {
      long c0 = System.nanoTime();
      responses.put(i, clients.get(i).unmask(request));
      unmask[i - dropouts] = System.nanoTime() - c0;
    }
    long s3 = System.nanoTime();
    responses.values().forEach(server::receiveUnmaskResponse);
    SecureSum sum = server.finish();
    server3 += System.nanoTime() - s3;

    double expected = (n - dropouts) * (double) update[0];
    if (Math.abs(sum.values()[0] - expected) > 1e-3) {
      throw new AssertionError("wrong sum " + sum.values()[0] + " vs " + expected);
    }
    if (!report) {
      return;
    }
    System.out.printf(
        Locale.ROOT,
        "%n%d clients, t = %d, %d dropped before masking (f = %d):%n",
        n,
        t,
        dropouts,
        params.codec().fractionalBits());
    System.out.printf(
        Locale.ROOT,
        "  client, round 0 advertise keys: %s%n"
            + "  client, round 1 share keys:     %s%n"
            + "  client, round 2 mask input:     %s%n"
            + "  client, round 3 unmask:         %s%n",
        stats(advertise),
        stats(share),
        stats(mask),
        stats(unmask));
    System.out.printf(
        Locale.ROOT,
        "  server, round 0: %.1f ms; round 1 (route shares): %.1f ms; round 2 (add %d masked"
            + " inputs): %.1f ms; round 3 (reconstruct %d seeds and %d keys, remove masks,"
            + " decode): %.1f ms%n",
        server0 / 1e6,
        server1 / 1e6,
        n - dropouts,
        server2 / 1e6,
        n - dropouts,
        dropouts,
        server3 / 1e6);
  }

  private static String stats(long[] nanos) {
    double sum = 0;
    long max = 0;
    for (long v : nanos) {
      sum += v;
      max = Math.max(max, v);
    }
    return String.format(Locale.ROOT, "%8.2f ms [%.2f]", sum / nanos.length / 1e6, max / 1e6);
  }
}
