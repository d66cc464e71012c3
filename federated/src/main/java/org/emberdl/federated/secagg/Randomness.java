package org.emberdl.federated.secagg;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;

/**
 * Where a client's secrets come from: its X25519 private keys, its self-mask seed, the Shamir
 * polynomials, the share-encryption nonces and the seed of its distributed noise.
 *
 * <p>Real use takes {@link #secure()}. {@link #seeded} is a deterministic stream for tests and
 * reproducible simulations only: anyone who knows the seed knows every key.
 */
@FunctionalInterface
public interface Randomness {
  /** Fills {@code out} with random bytes. */
  void nextBytes(byte[] out);

  /** A fresh {@link SecureRandom} (the platform default, seeded by the operating system). */
  static Randomness secure() {
    return secure(new SecureRandom());
  }

  /** Bytes from {@code random}. */
  static Randomness secure(SecureRandom random) {
    return random::nextBytes;
  }

  /**
   * A deterministic stream: the AES-256-CTR keystream under {@code SHA-256("ember/secagg/seeded" ||
   * seed)}. <b>Not secret</b>: for tests and reproducible simulations only. Not thread-safe.
   */
  static Randomness seeded(long seed) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      sha.update("ember/secagg/seeded".getBytes(StandardCharsets.UTF_8));
      sha.update(ByteBuffer.allocate(Long.BYTES).putLong(seed).array());
      return new Prg(sha.digest())::nextBytes;
    } catch (NoSuchAlgorithmException e) {
      throw Hkdf.unexpected(e);
    }
  }

  /**
   * The AES-256-CTR keystream of the key HKDF derives from the secret {@code key} for {@code
   * (purpose, stream...)}: as unpredictable as {@code key} to whoever does not hold it, and the
   * same bytes every time for the same arguments (so a retried task replays them). Not thread-safe.
   *
   * @param key at least 32 secret bytes, e.g. from {@link java.security.SecureRandom}
   */
  static Randomness derived(byte[] key, String purpose, int... stream) {
    if (key.length < 32) {
      throw new IllegalArgumentException(
          "a derived stream needs a key of >= 32 bytes, got " + key.length);
    }
    return new Prg(Hkdf.derive(key, "derived/" + purpose, "", stream))::nextBytes;
  }
}
