package org.emberdl.federated.secagg;

import java.math.BigInteger;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import org.emberdl.federated.secagg.Messages.KeyAdvertisement;
import org.emberdl.federated.secagg.Messages.KeyDirectory;
import org.emberdl.federated.secagg.Messages.MaskedInput;
import org.emberdl.federated.secagg.Messages.SealedShares;
import org.emberdl.federated.secagg.Messages.ShareBundle;
import org.emberdl.federated.secagg.Messages.SharedKeys;
import org.emberdl.federated.secagg.Messages.UnmaskRequest;
import org.emberdl.federated.secagg.Messages.UnmaskResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server (driver) of one secure-aggregation round: it routes the clients' messages, and at the
 * end removes the masks and returns the sum of the surviving clients' updates, learning nothing
 * else (see the {@linkplain org.emberdl.federated.secagg package documentation}). Each round is
 * {@code receive...} calls for the messages that arrive, then one {@code close...} call that fixes
 * who took part; a message after its round closed is rejected, and its client counts as dropped.
 *
 * <pre>{@code
 * SecureAggregationServer server = new SecureAggregationServer(params);
 * advertisements.forEach(server::receiveKeys);
 * KeyDirectory directory = server.closeAdvertiseKeys();            // to every client
 * sharedKeys.forEach(server::receiveSharedKeys);
 * Map<Integer, ShareBundle> bundles = server.closeShareKeys();     // one to each client
 * maskedInputs.forEach(server::receiveMaskedInput);
 * UnmaskRequest request = server.closeMaskedInput();               // to every survivor
 * responses.forEach(server::receiveUnmaskResponse);
 * SecureSum sum = server.finish();
 * }</pre>
 *
 * Masked inputs are added into a running sum as they arrive (memory: one vector, not one per
 * client). Any close call throws {@link BelowThresholdException} when fewer than {@code t} clients
 * took part in its round; {@link #finish} throws it when a secret it needs has fewer than {@code t}
 * shares. Not thread-safe.
 */
public final class SecureAggregationServer {
  private static final Logger LOG = LoggerFactory.getLogger(SecureAggregationServer.class);

  private enum Phase {
    ADVERTISE_KEYS,
    SHARE_KEYS,
    MASKED_INPUT,
    UNMASKING,
    DONE
  }

  private final SecureAggregationParameters params;
  private Phase phase = Phase.ADVERTISE_KEYS;

  private final SortedMap<Integer, KeyAdvertisement> keys = new TreeMap<>();
  private final SortedMap<Integer, SharedKeys> shared = new TreeMap<>();
  private final Map<Integer, byte[]> selfMaskCommitments = new HashMap<>();

  /** U2: the clients that shared keys. */
  private SortedSet<Integer> u2;

  /** U3: the clients whose masked input is in {@link #maskedSum}. */
  private final SortedSet<Integer> u3 = new TreeSet<>();

  private final long[] maskedSum;
  private final SortedMap<Integer, UnmaskResponse> responses = new TreeMap<>();
  private final Map<List<Integer>, BigInteger[]> lagrangeCache = new HashMap<>();

  public SecureAggregationServer(SecureAggregationParameters params) {
    this.params = params;
    this.maskedSum = new long[params.vectorLength()];
  }

  /** Round 0: one client's public keys. */
  public void receiveKeys(KeyAdvertisement m) {
    accept(Phase.ADVERTISE_KEYS, m.sessionId(), m.client(), "key advertisement");
    if (m.client() < 0) {
      throw new IllegalArgumentException("client ids must be >= 0, got " + m.client());
    }
    if (keys.putIfAbsent(m.client(), m) != null) {
      throw new IllegalArgumentException("client " + m.client() + " advertised keys twice");
    }
  }

  /**
   * Closes round 0: the clients that advertised keys ({@code U1}) are the round's clients.
   *
   * @return the directory to send to every client of {@code U1}
   * @throws BelowThresholdException with fewer than {@code t} clients
   * @throws IllegalArgumentException with more clients than the codec can sum without overflow
   */
  public KeyDirectory closeAdvertiseKeys() {
    close(Phase.ADVERTISE_KEYS, keys.size(), "key advertisements");
    try {
      params.codec().checkCapacity(keys.size());
    } catch (IllegalArgumentException e) {
      phase = Phase.DONE;
      throw e;
    }
    LOG.debug("secagg {}: {} clients advertised keys", params.sessionId(), keys.size());
    return new KeyDirectory(params.sessionId(), keys);
  }

  /** Round 1: one client's sealed shares, which must cover every other client of {@code U1}. */
  public void receiveSharedKeys(SharedKeys m) {
    accept(Phase.SHARE_KEYS, m.sessionId(), m.sender(), "shared keys");
    Set<Integer> recipients = new HashSet<>();
    for (SealedShares s : m.shares()) {
      if (s.sender() != m.sender()
          || !keys.containsKey(s.recipient())
          || s.recipient() == s.sender()
          || !recipients.add(s.recipient())) {
        throw new IllegalArgumentException(
            "client "
                + m.sender()
                + " sent shares addressed from "
                + s.sender()
                + " to "
                + s.recipient());
      }
    }
    if (recipients.size() != keys.size() - 1) {
      throw new IllegalArgumentException(
          "client "
              + m.sender()
              + " sent shares for "
              + recipients.size()
              + " clients, expected "
              + (keys.size() - 1));
    }
    if (shared.putIfAbsent(m.sender(), m) != null) {
      throw new IllegalArgumentException("client " + m.sender() + " shared keys twice");
    }
  }

  /**
   * Closes round 1: the clients that shared keys ({@code U2}) mask with each other.
   *
   * @return for each client of {@code U2}, the shares the others of {@code U2} sealed for it
   * @throws BelowThresholdException with fewer than {@code t} clients
   */
  public SortedMap<Integer, ShareBundle> closeShareKeys() {
    close(Phase.SHARE_KEYS, shared.size(), "shared keys");
    u2 = Collections.unmodifiableSortedSet(new TreeSet<>(shared.keySet()));
    Map<Integer, List<SealedShares>> inbox = new HashMap<>();
    for (SharedKeys m : shared.values()) {
      for (SealedShares s : m.shares()) {
        if (u2.contains(s.recipient())) {
          inbox.computeIfAbsent(s.recipient(), r -> new ArrayList<>()).add(s);
        }
      }
    }
    SortedMap<Integer, ShareBundle> bundles = new TreeMap<>();
    for (int u : u2) {
      bundles.put(u, new ShareBundle(params.sessionId(), u, inbox.getOrDefault(u, List.of())));
    }
    for (int u : u2) {
      selfMaskCommitments.put(u, shared.get(u).selfMaskCommitment());
    }
    shared.clear();
    LOG.debug(
        "secagg {}: {} of {} clients shared keys", params.sessionId(), u2.size(), keys.size());
    return bundles;
  }

  /** Round 2: one client's masked input, added into the running sum. */
  public void receiveMaskedInput(MaskedInput m) {
    accept(Phase.MASKED_INPUT, m.sessionId(), m.client(), "masked input");
    if (!u2.contains(m.client())) {
      throw new IllegalArgumentException(
          "masked input from client " + m.client() + ", which did not share keys");
    }
    if (m.values().length != maskedSum.length) {
      throw new IllegalArgumentException(
          "masked input of client "
              + m.client()
              + " has "
              + m.values().length
              + " values, the round expects "
              + maskedSum.length);
    }
    if (!u3.add(m.client())) {
      throw new IllegalArgumentException("client " + m.client() + " sent two masked inputs");
    }
    long[] v = m.values();
    for (int k = 0; k < v.length; k++) {
      maskedSum[k] += v[k];
    }
  }

  /**
   * Closes round 2: the clients whose masked input arrived ({@code U3}) are in the sum; the others
   * of {@code U2} are dropped, and their pairwise masks will be removed with their reconstructed
   * keys.
   *
   * @return the request to send to every client of {@code U3}
   * @throws BelowThresholdException with fewer than {@code t} masked inputs
   */
  public UnmaskRequest closeMaskedInput() {
    close(Phase.MASKED_INPUT, u3.size(), "masked inputs");
    SortedSet<Integer> dropped = new TreeSet<>(u2);
    dropped.removeAll(u3);
    LOG.debug(
        "secagg {}: {} masked inputs, {} clients dropped",
        params.sessionId(),
        u3.size(),
        dropped.size());
    return new UnmaskRequest(params.sessionId(), u3, dropped);
  }

  /** Round 3: one surviving client's shares. */
  public void receiveUnmaskResponse(UnmaskResponse m) {
    accept(Phase.UNMASKING, m.sessionId(), m.client(), "unmask response");
    if (!u3.contains(m.client())) {
      throw new IllegalArgumentException(
          "unmask response from client " + m.client() + ", which sent no masked input");
    }
    if (responses.putIfAbsent(m.client(), m) != null) {
      throw new IllegalArgumentException("client " + m.client() + " answered the unmasking twice");
    }
  }

  /**
   * Closes round 3 and the session: reconstructs each survivor's self-mask seed and each dropped
   * client's mask private key from {@code t} shares, removes their masks from the sum of the masked
   * inputs, and decodes it.
   *
   * @throws BelowThresholdException when a needed secret has fewer than {@code t} shares (fewer
   *     than {@code t} survivors answered), naming the secret and the counts
   * @throws IllegalStateException when shares are inconsistent: a reconstructed key does not match
   *     the public key its client advertised, or a seed does not match its commitment
   */
  public SecureSum finish() {
    if (phase != Phase.UNMASKING) {
      throw new IllegalStateException("finish called in phase " + phase);
    }
    phase = Phase.DONE;
    int t = params.threshold();
    String sid = params.sessionId();
    String answered = responses.size() + " of " + u3.size() + " surviving clients answered";
    if (responses.size() < t) {
      throw new BelowThresholdException(
          "secagg " + sid + ": cannot unmask the sum, too few survivors answered with their shares",
          responses.size(),
          t,
          "out of " + u3.size() + " survivors");
    }
    SortedSet<Integer> dropped = new TreeSet<>(u2);
    dropped.removeAll(u3);
    long[] sum = maskedSum.clone();

    for (int u : u3) {
      Map<Integer, BigInteger> shares = sharesOf(u, false);
      byte[] seed = reconstruct(shares, "the self-mask seed of client " + u, answered);
      if (!MessageDigest.isEqual(
          SecureAggregationClient.selfMaskCommitment(seed, sid, u), selfMaskCommitments.get(u))) {
        throw new IllegalStateException(
            "the reconstructed self-mask seed of client "
                + u
                + " does not match its commitment: the shares are inconsistent");
      }
      Prg.addMask(SecureAggregationClient.selfMaskKey(seed, sid, u), sum, true);
    }
    for (int v : dropped) {
      Map<Integer, BigInteger> shares = sharesOf(v, true);
      byte[] privateKey = reconstruct(shares, "the mask private key of client " + v, answered);
      if (!X25519.sameKey(X25519.publicKey(privateKey), keys.get(v).maskPublicKey())) {
        throw new IllegalStateException(
            "the reconstructed mask private key of client "
                + v
                + " does not match the public key it advertised: the shares are inconsistent");
      }
      for (int u : u3) {
        byte[] secret = X25519.agree(privateKey, keys.get(u).maskPublicKey());
        // Client u added PRG(s_uv) if v > u and subtracted it if v < u; undo that.
        Prg.addMask(SecureAggregationClient.pairwiseMaskKey(secret, sid, u, v), sum, v > u);
      }
    }
    LOG.info(
        "secagg {}: unmasked the sum of {} clients ({} dropped, {} answered the unmasking)",
        sid,
        u3.size(),
        dropped.size(),
        responses.size());
    return new SecureSum(
        params.codec().decode(sum),
        sum,
        Collections.unmodifiableSortedSet(new TreeSet<>(u3)),
        Collections.unmodifiableSortedSet(dropped));
  }

  private Map<Integer, BigInteger> sharesOf(int owner, boolean maskKey) {
    Map<Integer, BigInteger> shares = new TreeMap<>();
    for (UnmaskResponse r : responses.values()) {
      BigInteger s = (maskKey ? r.maskKeyShares() : r.selfMaskShares()).get(owner);
      if (s != null) {
        shares.put(r.client(), s);
      }
    }
    return shares;
  }

  private byte[] reconstruct(Map<Integer, BigInteger> shares, String what, String detail) {
    if (shares.size() < params.threshold()) {
      throw new BelowThresholdException(
          "secagg " + params.sessionId() + ": cannot reconstruct " + what + " from shares",
          shares.size(),
          params.threshold(),
          detail);
    }
    return Shamir.reconstruct(shares, params.threshold(), 32, what, lagrangeCache);
  }

  private void accept(Phase expected, String sessionId, int client, String what) {
    params.checkSession(sessionId, what + " of client " + client);
    if (phase != expected) {
      throw new IllegalStateException(
          what
              + " of client "
              + client
              + " arrived in phase "
              + phase
              + ", expected "
              + expected
              + (phase.ordinal() > expected.ordinal()
                  ? ": too late, the client counts as dropped"
                  : ""));
    }
    if (expected != Phase.ADVERTISE_KEYS && !keys.containsKey(client)) {
      throw new IllegalArgumentException(what + " from unknown client " + client);
    }
  }

  private void close(Phase expected, int participants, String what) {
    if (phase != expected) {
      throw new IllegalStateException("closing " + what + " in phase " + phase);
    }
    if (participants < params.threshold()) {
      phase = Phase.DONE;
      throw new BelowThresholdException(
          "secagg " + params.sessionId() + ": too few " + what + ", the round must be abandoned",
          participants,
          params.threshold());
    }
    phase = Phase.values()[expected.ordinal() + 1];
  }
}
