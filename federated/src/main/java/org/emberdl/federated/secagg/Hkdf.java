package org.emberdl.federated.secagg;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.InvalidKeyException;
import java.security.NoSuchAlgorithmException;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * HKDF with HMAC-SHA256 (RFC 5869), and the key derivations of the protocol.
 *
 * <p>Every derivation extracts with the fixed salt {@link #SALT} ({@code "ember/secagg/v1"}) and
 * expands with an {@code info} that is the unambiguous concatenation of length-prefixed fields (a
 * 4-byte big-endian length before each variable-length field, 4-byte big-endian client ids): a
 * purpose label, the session id, and the client id(s). Different purposes, sessions or pairs
 * therefore never share a derived key.
 *
 * <table>
 *   <caption>Derived keys (all 32 bytes)</caption>
 *   <tr><th>purpose</th><th>input keying material</th><th>info</th><th>used as</th></tr>
 *   <tr><td>pairwise mask of {@code i < j}</td><td>X25519(mask keys of i, j)</td>
 *       <td>{@code lp("pairwise-mask") lp(session) i j}</td><td>AES-256-CTR key of the mask</td></tr>
 *   <tr><td>self mask of {@code i}</td><td>the 32-byte seed {@code b_i}</td>
 *       <td>{@code lp("self-mask") lp(session) i}</td><td>AES-256-CTR key of the mask</td></tr>
 *   <tr><td>share encryption {@code i -> j}</td><td>X25519(channel keys of i, j)</td>
 *       <td>{@code lp("share-encryption") lp(session) i j}</td><td>AES-256-GCM key</td></tr>
 *   <tr><td>self-mask commitment of {@code i}</td><td>{@code b_i}</td>
 *       <td>{@code lp("self-mask-commitment") lp(session) i}</td><td>sent to the server, checked
 *       against the reconstructed {@code b_i}</td></tr>
 * </table>
 *
 * where {@code lp(s)} is the length-prefixed UTF-8 encoding of {@code s}. The pairwise-mask info
 * orders the pair (smaller id first), so both ends derive the same key; the share-encryption info
 * keeps the direction, so the two messages between a pair use different keys.
 */
final class Hkdf {
  static final byte[] SALT = "ember/secagg/v1".getBytes(StandardCharsets.UTF_8);

  static final String PAIRWISE_MASK = "pairwise-mask";
  static final String SELF_MASK = "self-mask";
  static final String SHARE_ENCRYPTION = "share-encryption";
  static final String SELF_MASK_COMMITMENT = "self-mask-commitment";

  private static final int HASH_LEN = 32;

  private Hkdf() {}

  /** HKDF-Extract: {@code HMAC-SHA256(salt, ikm)}. */
  static byte[] extract(byte[] salt, byte[] ikm) {
    return hmac(salt.length == 0 ? new byte[HASH_LEN] : salt).doFinal(ikm);
  }

  /** HKDF-Expand of RFC 5869, section 2.3. */
  static byte[] expand(byte[] prk, byte[] info, int length) {
    if (length < 0 || length > 255 * HASH_LEN) {
      throw new IllegalArgumentException("HKDF output length must be in [0, 8160], got " + length);
    }
    Mac mac = hmac(prk);
    byte[] out = new byte[length];
    byte[] t = new byte[0];
    int done = 0;
    for (int block = 1; done < length; block++) {
      mac.update(t);
      mac.update(info);
      mac.update((byte) block);
      t = mac.doFinal();
      int n = Math.min(HASH_LEN, length - done);
      System.arraycopy(t, 0, out, done, n);
      done += n;
    }
    return out;
  }

  /** Extract then expand 32 bytes for one of the protocol's purposes. */
  static byte[] derive(byte[] ikm, String purpose, String sessionId, int... clients) {
    return expand(extract(SALT, ikm), info(purpose, sessionId, clients), 32);
  }

  /** The length-prefixed {@code info} of {@link #derive}. */
  static byte[] info(String purpose, String sessionId, int... clients) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    writeField(out, purpose.getBytes(StandardCharsets.UTF_8));
    writeField(out, sessionId.getBytes(StandardCharsets.UTF_8));
    for (int c : clients) {
      writeInt(out, c);
    }
    return out.toByteArray();
  }

  private static void writeField(ByteArrayOutputStream out, byte[] bytes) {
    writeInt(out, bytes.length);
    out.writeBytes(bytes);
  }

  private static void writeInt(ByteArrayOutputStream out, int v) {
    out.write(v >>> 24);
    out.write(v >>> 16);
    out.write(v >>> 8);
    out.write(v);
  }

  private static Mac hmac(byte[] key) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      return mac;
    } catch (NoSuchAlgorithmException | InvalidKeyException e) {
      throw new IllegalStateException("HmacSHA256 unavailable", e);
    }
  }

  /** Rethrows a JDK crypto failure that cannot happen with the JDK's providers. */
  static IllegalStateException unexpected(GeneralSecurityException e) {
    return new IllegalStateException("JDK cryptography failed unexpectedly", e);
  }
}
