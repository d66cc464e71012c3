package org.emberdl.federated.secagg;

import java.util.Random;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import org.emberdl.federated.secagg.Messages.KeyDirectory;
import org.emberdl.federated.secagg.Messages.MaskedInput;
import org.emberdl.federated.secagg.Messages.ShareBundle;
import org.emberdl.federated.secagg.Messages.SharedKeys;
import org.emberdl.federated.secagg.Messages.UnmaskRequest;
import org.emberdl.federated.secagg.Messages.UnmaskResponse;

/**
 * One round of the protocol in-process, round by round, with clients 0..n-1 seeded from {@code
 * seed} and optional dropouts before each round.
 */
final class Simulation {
  final SecureAggregationParameters params;
  final SecureAggregationServer server;
  final SortedMap<Integer, SecureAggregationClient> clients = new TreeMap<>();
  KeyDirectory directory;
  SortedMap<Integer, ShareBundle> bundles;
  final SortedMap<Integer, MaskedInput> masked = new TreeMap<>();
  UnmaskRequest request;
  final SortedMap<Integer, UnmaskResponse> responses = new TreeMap<>();

  Simulation(SecureAggregationParameters params, int n, long seed) {
    this.params = params;
    this.server = new SecureAggregationServer(params);
    for (int i = 0; i < n; i++) {
      clients.put(i, new SecureAggregationClient(i, params, Randomness.seeded(seed * 100_003 + i)));
    }
  }

  Simulation advertise(Set<Integer> absent) {
    clients.forEach(
        (i, c) -> {
          if (!absent.contains(i)) {
            server.receiveKeys(c.advertiseKeys());
          }
        });
    directory = server.closeAdvertiseKeys();
    return this;
  }

  Simulation shareKeys(Set<Integer> absent) {
    for (int i : directory.keys().keySet()) {
      SharedKeys m = clients.get(i).shareKeys(directory);
      if (!absent.contains(i)) {
        server.receiveSharedKeys(m);
      }
    }
    bundles = server.closeShareKeys();
    return this;
  }

  /** Masks {@code updates[i]} for each client of U2 not in {@code absent}. */
  Simulation maskInputs(float[][] updates, Set<Integer> absent) {
    for (int i : bundles.keySet()) {
      if (!absent.contains(i)) {
        MaskedInput m = clients.get(i).maskInput(bundles.get(i), updates[i]);
        masked.put(i, m);
        server.receiveMaskedInput(m);
      }
    }
    request = server.closeMaskedInput();
    return this;
  }

  Simulation unmask(Set<Integer> absent) {
    for (int i : request.survivors()) {
      if (!absent.contains(i)) {
        UnmaskResponse r = clients.get(i).unmask(request);
        responses.put(i, r);
        server.receiveUnmaskResponse(r);
      }
    }
    return this;
  }

  SecureSum finish() {
    return server.finish();
  }

  /** A full round without dropouts. */
  static SecureSum run(SecureAggregationParameters params, float[][] updates, long seed) {
    return new Simulation(params, updates.length, seed)
        .advertise(Set.of())
        .shareKeys(Set.of())
        .maskInputs(updates, Set.of())
        .unmask(Set.of())
        .finish();
  }

  /** {@code n} updates of {@code length} values uniform in [-bound, bound). */
  static float[][] randomUpdates(int n, int length, double bound, long seed) {
    Random r = new Random(seed);
    float[][] u = new float[n][length];
    for (float[] row : u) {
      for (int k = 0; k < length; k++) {
        row[k] = (float) ((2 * r.nextDouble() - 1) * bound);
      }
    }
    return u;
  }
}
