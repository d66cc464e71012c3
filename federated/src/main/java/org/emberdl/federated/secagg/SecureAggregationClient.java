package org.emberdl.federated.secagg;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
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
 * One client (executor partition) of one secure-aggregation round: the client side of the
 * semi-honest protocol of Bonawitz et al. (CCS 2017), see the {@linkplain
 * org.emberdl.federated.secagg package documentation}. Call the four round methods in order, each
 * at most once:
 *
 * <pre>{@code
 * SecureAggregationClient c = new SecureAggregationClient(id, params, Randomness.secure());
 * KeyAdvertisement m0 = c.advertiseKeys();                 // round 0
 * SharedKeys m1 = c.shareKeys(directory);                  // round 1
 * MaskedInput m2 = c.maskInput(bundle, update);            // round 2
 * UnmaskResponse m3 = c.unmask(request);                   // round 3
 * }</pre>
 *
 * The object holds the round's secrets between calls (it must live from round 0 to round 3 on the
 * same machine; a client that loses it has dropped out) and erases its private keys after {@link
 * #unmask}. A call that throws returns nothing and may be retried (e.g. with a clipped update); a
 * call that returned cannot be repeated. Not thread-safe.
 */
public final class SecureAggregationClient {
  private static final Logger LOG = LoggerFactory.getLogger(SecureAggregationClient.class);

  private static final int NONCE_BYTES = 12;
  private static final int TAG_BITS = 128;
  private static final int PLAINTEXT_BYTES = 8 + 2 * Shamir.ELEMENT_BYTES;

  private enum Phase {
    NEW,
    ADVERTISED,
    SHARED,
    MASKED,
    DONE
  }

  private final int id;
  private final SecureAggregationParameters params;
  private final Randomness randomness;
  private Phase phase = Phase.NEW;

  private X25519.KeyPair channelKeys;
  private X25519.KeyPair maskKeys;
  private byte[] selfMaskSeed;
  private SortedMap<Integer, KeyAdvertisement> directory;
  private final Map<Integer, byte[]> channelSecrets = new HashMap<>();

  /** My shares of other clients' (and my own) mask private keys, by owner. */
  private final Map<Integer, BigInteger> maskKeySharesOf = new HashMap<>();

  /** My shares of other clients' (and my own) self-mask seeds, by owner. */
  private final Map<Integer, BigInteger> selfMaskSharesOf = new HashMap<>();

  /** U2 as this client saw it: itself and the senders of its bundle. */
  private SortedSet<Integer> maskedWith;

  /**
   * @param id this client's id, {@code >= 0}, unique in the round (e.g. the partition index)
   * @param params the round's parameters
   * @param randomness where the keys and seeds come from: {@link Randomness#secure()} for real use
   */
  public SecureAggregationClient(
      int id, SecureAggregationParameters params, Randomness randomness) {
    if (id < 0) {
      throw new IllegalArgumentException("client id must be >= 0, got " + id);
    }
    this.id = id;
    this.params = params;
    this.randomness = randomness;
  }

  public int id() {
    return id;
  }

  /** Round 0: generates this round's two X25519 key pairs and advertises the public keys. */
  public KeyAdvertisement advertiseKeys() {
    advance(Phase.NEW, Phase.ADVERTISED, "advertiseKeys");
    channelKeys = X25519.generate(randomness);
    maskKeys = X25519.generate(randomness);
    return new KeyAdvertisement(
        params.sessionId(), id, channelKeys.publicKey().clone(), maskKeys.publicKey().clone());
  }

  /**
   * Round 1: draws the self-mask seed, Shamir-shares it and the mask private key among the
   * directory's clients ({@code t} of them recover either), and seals each other client's pair of
   * shares for it alone.
   *
   * @throws IllegalArgumentException if the directory belongs to another session, lacks this client
   *     or shows it other keys, repeats a public key, or has more clients than the codec can sum
   * @throws BelowThresholdException if the directory has fewer than {@code t} clients
   */
  public SharedKeys shareKeys(KeyDirectory keyDirectory) {
    requirePhase(Phase.ADVERTISED, "shareKeys");
    params.checkSession(keyDirectory.sessionId(), "key directory");
    SortedMap<Integer, KeyAdvertisement> keys = keyDirectory.keys();
    KeyAdvertisement mine = keys.get(id);
    if (mine == null
        || !X25519.sameKey(mine.channelPublicKey(), channelKeys.publicKey())
        || !X25519.sameKey(mine.maskPublicKey(), maskKeys.publicKey())) {
      throw new IllegalArgumentException(
          "key directory does not list client " + id + " with the keys it advertised");
    }
    checkDirectory(keys);
    if (keys.size() < params.threshold()) {
      throw new BelowThresholdException(
          "client " + id + ": the key directory has too few clients",
          keys.size(),
          params.threshold());
    }
    params.codec().checkCapacity(keys.size());
    directory = keys;

    selfMaskSeed = new byte[32];
    randomness.nextBytes(selfMaskSeed);
    SortedMap<Integer, BigInteger> keyShares =
        Shamir.split(maskKeys.privateKey(), params.threshold(), keys.keySet(), randomness);
    SortedMap<Integer, BigInteger> seedShares =
        Shamir.split(selfMaskSeed, params.threshold(), keys.keySet(), randomness);
    maskKeySharesOf.put(id, keyShares.get(id));
    selfMaskSharesOf.put(id, seedShares.get(id));

    List<SealedShares> sealed =
        keys.keySet().stream()
            .filter(v -> v != id)
            .map(v -> seal(v, keyShares.get(v), seedShares.get(v)))
            .toList();
    SharedKeys message =
        new SharedKeys(
            params.sessionId(),
            id,
            sealed,
            selfMaskCommitment(selfMaskSeed, params.sessionId(), id));
    advance(Phase.ADVERTISED, Phase.SHARED, "shareKeys");
    LOG.debug("client {} shared its keys with {} clients", id, sealed.size());
    return message;
  }

  /**
   * Round 2: opens the shares addressed to this client, then encodes {@code update} (plus this
   * client's share of the distributed noise, when the parameters ask for it) into the ring and adds
   * the masks: its self mask {@code PRG(b_i)}, plus {@code PRG(s_ij)} for every other client {@code
   * j > i} of the bundle and minus it for every {@code j < i}.
   *
   * @param update the plain update, {@code vectorLength} values in the codec's range (not modified)
   * @throws IllegalArgumentException on a value out of range (naming it and the range), a share
   *     that fails authentication, or a bundle for another client or session
   * @throws BelowThresholdException if fewer than {@code t} clients (itself included) shared keys
   */
  public MaskedInput maskInput(ShareBundle bundle, float[] update) {
    requirePhase(Phase.SHARED, "maskInput");
    params.checkSession(bundle.sessionId(), "share bundle");
    if (bundle.recipient() != id) {
      throw new IllegalArgumentException(
          "share bundle for client " + bundle.recipient() + " delivered to client " + id);
    }
    if (update.length != params.vectorLength()) {
      throw new IllegalArgumentException(
          "update has " + update.length + " values, the round expects " + params.vectorLength());
    }
    SortedSet<Integer> peers = new TreeSet<>();
    for (SealedShares s : bundle.shares()) {
      if (s.recipient() != id || s.sender() == id || !directory.containsKey(s.sender())) {
        throw new IllegalArgumentException(
            "client " + id + " got shares from " + s.sender() + " for " + s.recipient());
      }
      if (!peers.add(s.sender())) {
        throw new IllegalArgumentException(
            "client " + id + " got two sets of shares from client " + s.sender());
      }
      open(s);
    }
    SortedSet<Integer> u2 = new TreeSet<>(peers);
    u2.add(id);
    if (u2.size() < params.threshold()) {
      throw new BelowThresholdException(
          "client " + id + ": too few clients shared keys", u2.size(), params.threshold());
    }
    maskedWith = u2;

    long[] y = new long[update.length];
    DistributedGaussianNoise noise = params.noise();
    // noise on the first noisedLength coordinates only; the rest are summed exactly
    params
        .codec()
        .encode(
            update,
            noise == null
                ? null
                : Arrays.copyOf(noise.sample(params.noisedLength(), randomness), update.length),
            y);
    Prg.addMask(selfMaskKey(selfMaskSeed, params.sessionId(), id), y, false);
    for (int v : peers) {
      byte[] secret = X25519.agree(maskKeys.privateKey(), directory.get(v).maskPublicKey());
      Prg.addMask(pairwiseMaskKey(secret, params.sessionId(), id, v), y, v < id);
    }
    // Only now, with nothing returned before: a second masked input would reveal the difference.
    advance(Phase.SHARED, Phase.MASKED, "maskInput");
    LOG.debug("client {} masked its input with {} peers", id, peers.size());
    return new MaskedInput(params.sessionId(), id, y);
  }

  /**
   * Round 3: reveals its shares of the dropped clients' mask private keys and of the survivors'
   * self-mask seeds, then erases its secrets.
   *
   * @throws IllegalArgumentException if the request's survivors and dropped clients overlap, do not
   *     make up the clients this client masked with, or leave this client out of the survivors
   * @throws BelowThresholdException if fewer than {@code t} clients survived
   */
  public UnmaskResponse unmask(UnmaskRequest request) {
    requirePhase(Phase.MASKED, "unmask");
    params.checkSession(request.sessionId(), "unmask request");
    SortedSet<Integer> survivors = request.survivors();
    SortedSet<Integer> dropped = request.dropped();
    Set<Integer> union = new HashSet<>(survivors);
    union.addAll(dropped);
    if (union.size() != survivors.size() + dropped.size() || !union.equals(maskedWith)) {
      throw new IllegalArgumentException(
          "unmask request does not split the clients client "
              + id
              + " masked with "
              + maskedWith
              + " into survivors "
              + survivors
              + " and dropped "
              + dropped);
    }
    if (!survivors.contains(id)) {
      throw new IllegalArgumentException("client " + id + " is not among the survivors");
    }
    if (survivors.size() < params.threshold()) {
      throw new BelowThresholdException(
          "client " + id + ": too few survivors to unmask", survivors.size(), params.threshold());
    }
    phase = Phase.DONE;
    SortedMap<Integer, BigInteger> keyShares = new TreeMap<>();
    for (int v : dropped) {
      keyShares.put(v, maskKeySharesOf.get(v));
    }
    SortedMap<Integer, BigInteger> seedShares = new TreeMap<>();
    for (int u : survivors) {
      seedShares.put(u, selfMaskSharesOf.get(u));
    }
    erase();
    return new UnmaskResponse(params.sessionId(), id, keyShares, seedShares);
  }

  /** The AES-CTR key of the self mask of {@code client}. */
  static byte[] selfMaskKey(byte[] seed, String sessionId, int client) {
    return Hkdf.derive(seed, Hkdf.SELF_MASK, sessionId, client);
  }

  /** The commitment to the self-mask seed of {@code client}. */
  static byte[] selfMaskCommitment(byte[] seed, String sessionId, int client) {
    return Hkdf.derive(seed, Hkdf.SELF_MASK_COMMITMENT, sessionId, client);
  }

  /** The AES-CTR key of the pairwise mask of {@code a} and {@code b} (either order). */
  static byte[] pairwiseMaskKey(byte[] sharedSecret, String sessionId, int a, int b) {
    return Hkdf.derive(sharedSecret, Hkdf.PAIRWISE_MASK, sessionId, Math.min(a, b), Math.max(a, b));
  }

  private static void checkDirectory(SortedMap<Integer, KeyAdvertisement> keys) {
    Set<ByteBuffer> seen = new HashSet<>();
    for (Map.Entry<Integer, KeyAdvertisement> e : keys.entrySet()) {
      KeyAdvertisement k = e.getValue();
      if (k.client() != e.getKey()) {
        throw new IllegalArgumentException(
            "key directory lists client " + k.client() + "'s keys under " + e.getKey());
      }
      if (!seen.add(ByteBuffer.wrap(k.channelPublicKey()))
          || !seen.add(ByteBuffer.wrap(k.maskPublicKey()))) {
        throw new IllegalArgumentException(
            "key directory repeats a public key (client " + k.client() + ")");
      }
    }
  }

  private SealedShares seal(int recipient, BigInteger keyShare, BigInteger seedShare) {
    ByteBuffer plain = ByteBuffer.allocate(PLAINTEXT_BYTES);
    plain.putInt(id).putInt(recipient);
    plain.put(Shamir.encodeElement(keyShare)).put(Shamir.encodeElement(seedShare));
    byte[] nonce = new byte[NONCE_BYTES];
    randomness.nextBytes(nonce);
    try {
      Cipher gcm = Cipher.getInstance("AES/GCM/NoPadding");
      gcm.init(Cipher.ENCRYPT_MODE, shareKey(id, recipient), new GCMParameterSpec(TAG_BITS, nonce));
      return new SealedShares(id, recipient, nonce, gcm.doFinal(plain.array()));
    } catch (GeneralSecurityException e) {
      throw Hkdf.unexpected(e);
    }
  }

  private void open(SealedShares s) {
    byte[] plain;
    try {
      Cipher gcm = Cipher.getInstance("AES/GCM/NoPadding");
      gcm.init(
          Cipher.DECRYPT_MODE, shareKey(s.sender(), id), new GCMParameterSpec(TAG_BITS, s.nonce()));
      plain = gcm.doFinal(s.ciphertext());
    } catch (AEADBadTagException e) {
      throw new IllegalArgumentException(
          "shares from client " + s.sender() + " to client " + id + " failed authentication", e);
    } catch (GeneralSecurityException e) {
      throw Hkdf.unexpected(e);
    }
    ByteBuffer b = ByteBuffer.wrap(plain);
    if (plain.length != PLAINTEXT_BYTES || b.getInt() != s.sender() || b.getInt() != id) {
      throw new IllegalArgumentException(
          "shares from client " + s.sender() + " to client " + id + " are malformed");
    }
    maskKeySharesOf.put(s.sender(), Shamir.decodeElement(plain, 8));
    selfMaskSharesOf.put(s.sender(), Shamir.decodeElement(plain, 8 + Shamir.ELEMENT_BYTES));
  }

  /** The AES-GCM key for shares sent from {@code sender} to {@code recipient}. */
  private SecretKeySpec shareKey(int sender, int recipient) {
    int peer = sender == id ? recipient : sender;
    byte[] secret =
        channelSecrets.computeIfAbsent(
            peer, v -> X25519.agree(channelKeys.privateKey(), directory.get(v).channelPublicKey()));
    return new SecretKeySpec(
        Hkdf.derive(secret, Hkdf.SHARE_ENCRYPTION, params.sessionId(), sender, recipient), "AES");
  }

  private void advance(Phase from, Phase to, String call) {
    requirePhase(from, call);
    phase = to;
  }

  private void requirePhase(Phase expected, String call) {
    if (phase != expected) {
      throw new IllegalStateException(
          "client " + id + ": " + call + " called in phase " + phase + ", expected " + expected);
    }
  }

  private void erase() {
    Arrays.fill(maskKeys.privateKey(), (byte) 0);
    Arrays.fill(channelKeys.privateKey(), (byte) 0);
    Arrays.fill(selfMaskSeed, (byte) 0);
    channelSecrets.values().forEach(s -> Arrays.fill(s, (byte) 0));
    channelSecrets.clear();
    maskKeySharesOf.clear();
    selfMaskSharesOf.clear();
  }
}
