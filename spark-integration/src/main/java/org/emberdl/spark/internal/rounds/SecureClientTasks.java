package org.emberdl.spark.internal.rounds;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntPredicate;
import org.emberdl.federated.secagg.Messages.KeyAdvertisement;
import org.emberdl.federated.secagg.Messages.KeyDirectory;
import org.emberdl.federated.secagg.Messages.MaskedInput;
import org.emberdl.federated.secagg.Messages.ShareBundle;
import org.emberdl.federated.secagg.Messages.SharedKeys;
import org.emberdl.federated.secagg.Messages.UnmaskRequest;
import org.emberdl.federated.secagg.Messages.UnmaskResponse;
import org.emberdl.federated.secagg.Randomness;
import org.emberdl.federated.secagg.SecureAggregationClient;
import org.emberdl.federated.secagg.SecureAggregationParameters;
import org.emberdl.spark.internal.data.PartitionData;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The executor's side of a secure-aggregation round: the four protocol steps of every sampled
 * client on a partition, one Spark job each (see {@link SecureRound}).
 *
 * <p>A client's {@link SecureAggregationClient}, which holds its private keys from the first step
 * to the last, lives in this JVM's registry under (session, client) and never leaves the executor.
 * A client whose object is not here when a later step runs (the task was scheduled on another
 * executor, or the executor was lost and its task re-run elsewhere) has dropped out, as a phone
 * that goes offline does in Bonawitz et al.'s setting; the protocol recovers from that. A retried
 * task on the same executor replays the message the step already produced: a client never masks two
 * different inputs in one session.
 */
public final class SecureClientTasks {
  private static final Logger LOG = LoggerFactory.getLogger(SecureClientTasks.class);

  /** One client's protocol state and the messages it has sent. */
  private static final class Entry {
    final SecureAggregationClient client;
    KeyAdvertisement advertised;
    SharedKeys shared;
    MaskedInput masked;
    UnmaskResponse unmasked;

    Entry(SecureAggregationClient client) {
      this.client = client;
    }
  }

  private static final Map<String, Entry> REGISTRY = new ConcurrentHashMap<>();

  /**
   * Fault injection for tests: the clients it accepts lose their state just before masking, as if
   * their executor had been lost between the protocol's steps. Null in production.
   */
  public static volatile IntPredicate lostBeforeMasking;

  private SecureClientTasks() {}

  private static String key(String sessionId, int client) {
    return sessionId + "#" + client;
  }

  /**
   * Step 0: fresh keys for every sampled client of the partition. A fit's rounds run one after the
   * other, so when a session of {@code runKey} starts, every other session of that fit is over
   * (finished, or abandoned for a retry): this executor forgets their clients here, so their state
   * and masked vectors do not pile up round after round.
   */
  static List<KeyAdvertisement> advertise(
      String runKey, SecureAggregationParameters params, boolean[] sampled, PartitionData data) {
    String current = params.sessionId() + "#";
    REGISTRY.keySet().removeIf(k -> k.startsWith(runKey) && !k.startsWith(current));
    List<KeyAdvertisement> out = new ArrayList<>();
    for (int client : data.clients) {
      if (!sampled[client]) {
        continue;
      }
      Entry e =
          REGISTRY.computeIfAbsent(
              key(params.sessionId(), client),
              k -> new Entry(new SecureAggregationClient(client, params, Randomness.secure())));
      synchronized (e) {
        if (e.advertised == null) {
          e.advertised = e.client.advertiseKeys();
        }
        out.add(e.advertised);
      }
    }
    return out;
  }

  /** Step 1: each client that advertised here shares its secrets with the directory's clients. */
  static List<SharedKeys> share(KeyDirectory directory, PartitionData data) {
    return eachPresent(
        directory.sessionId(),
        data,
        directory.keys()::containsKey,
        (e, k) -> e.shared != null ? e.shared : (e.shared = e.client.shareKeys(directory)));
  }

  /** What step 2 does with one client: train it and return its plain update vector. */
  interface LocalUpdate {
    /**
     * The vector the round sums for the client: its update and its training metrics (example count,
     * loss and correct sums), so that these too reach the driver only as a sum.
     */
    float[] compute(int k);
  }

  /** Step 2: each client of U2 here trains, then masks its update. */
  static List<MaskedInput> mask(
      String sessionId,
      SortedMap<Integer, ShareBundle> bundles,
      PartitionData data,
      LocalUpdate local) {
    IntPredicate lost = lostBeforeMasking;
    if (lost != null) {
      for (int client : data.clients) {
        if (lost.test(client)) {
          REGISTRY.remove(key(sessionId, client));
        }
      }
    }
    return eachPresent(
        sessionId,
        data,
        bundles::containsKey,
        (e, k) -> {
          if (e.masked == null) {
            e.masked = e.client.maskInput(bundles.get(e.client.id()), local.compute(k));
          }
          return e.masked;
        });
  }

  /** Step 3: each survivor here reveals its shares. */
  static List<UnmaskResponse> unmask(UnmaskRequest request, PartitionData data) {
    return eachPresent(
        request.sessionId(),
        data,
        request.survivors()::contains,
        (e, k) -> {
          if (e.unmasked == null) {
            e.unmasked = e.client.unmask(request);
            // The masking step is over (a retried task of this step replays e.unmasked): drop
            // the masked vector now rather than at the next round.
            e.masked = null;
          }
          return e.unmasked;
        });
  }

  /** One protocol step of one client, run under its entry's lock; returns the step's message. */
  private interface ClientStep<T> {
    T apply(Entry e, int k);
  }

  /**
   * Runs {@code step} for each client {@code data.clients[k]} of the partition that the step
   * concerns ({@code wanted}) and that still has its state here, in client order. A step stores its
   * message in the entry, so a retried task replays it instead of running the protocol twice.
   */
  private static <T> List<T> eachPresent(
      String sessionId, PartitionData data, IntPredicate wanted, ClientStep<T> step) {
    List<T> out = new ArrayList<>();
    for (int k = 0; k < data.clients.length; k++) {
      Entry e = present(sessionId, data.clients[k], wanted.test(data.clients[k]));
      if (e != null) {
        synchronized (e) {
          out.add(step.apply(e, k));
        }
      }
    }
    return out;
  }

  /**
   * The client's state when the step concerns it ({@code wanted}) and it is still here; null (and a
   * log line when it was wanted) otherwise.
   */
  private static Entry present(String sessionId, int client, boolean wanted) {
    if (!wanted) {
      return null;
    }
    Entry e = REGISTRY.get(key(sessionId, client));
    if (e == null) {
      LOG.info(
          "secure aggregation {}: client {} has no state on this executor: it drops out",
          sessionId,
          client);
    }
    return e;
  }

  /** Forgets every client of the sessions whose id starts with {@code prefix} (a fit's run key). */
  public static void release(String prefix) {
    REGISTRY.keySet().removeIf(k -> k.startsWith(prefix));
  }

  /** Number of clients held (for tests). */
  public static int held() {
    return REGISTRY.size();
  }
}
