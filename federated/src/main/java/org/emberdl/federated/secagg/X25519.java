package org.emberdl.federated.secagg;

import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.InvalidKeyException;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.spec.NamedParameterSpec;
import java.security.spec.XECPrivateKeySpec;
import java.security.spec.XECPublicKeySpec;
import javax.crypto.KeyAgreement;

/**
 * X25519 (RFC 7748) through the JDK's {@code XDH} provider, on raw 32-byte keys: a private key is
 * the 32 random bytes the JDK clamps into a scalar, a public key the little-endian u-coordinate.
 * Raw bytes are what Shamir-shares and protocol messages carry.
 */
final class X25519 {
  static final int KEY_BYTES = 32;

  private static final byte[] BASE_POINT = new byte[KEY_BYTES];

  static {
    BASE_POINT[0] = 9;
  }

  /** A key pair in raw form. */
  record KeyPair(byte[] privateKey, byte[] publicKey) {}

  private X25519() {}

  /** A key pair from 32 bytes of {@code randomness}. */
  static KeyPair generate(Randomness randomness) {
    byte[] privateKey = new byte[KEY_BYTES];
    randomness.nextBytes(privateKey);
    return new KeyPair(privateKey, publicKey(privateKey));
  }

  /** The public key of {@code privateKey}: X25519(k, 9). */
  static byte[] publicKey(byte[] privateKey) {
    return agree(privateKey, BASE_POINT);
  }

  /**
   * The shared secret X25519(k, u) (32 bytes).
   *
   * @throws IllegalArgumentException if a key is not 32 bytes or the peer's key is a point of small
   *     order (the all-zero output RFC 7748 section 6.1 says to reject)
   */
  static byte[] agree(byte[] privateKey, byte[] peerPublicKey) {
    checkLength(privateKey, "private key");
    checkLength(peerPublicKey, "public key");
    try {
      KeyFactory factory = KeyFactory.getInstance("XDH");
      PrivateKey sk =
          factory.generatePrivate(new XECPrivateKeySpec(NamedParameterSpec.X25519, privateKey));
      PublicKey pk =
          factory.generatePublic(
              new XECPublicKeySpec(NamedParameterSpec.X25519, decodeU(peerPublicKey)));
      KeyAgreement agreement = KeyAgreement.getInstance("XDH");
      agreement.init(sk);
      agreement.doPhase(pk, true);
      byte[] secret = agreement.generateSecret();
      if (isZero(secret)) {
        throw new IllegalArgumentException("X25519 public key has small order");
      }
      return secret;
    } catch (InvalidKeyException e) {
      throw new IllegalArgumentException("invalid X25519 key: " + e.getMessage(), e);
    } catch (GeneralSecurityException e) {
      throw Hkdf.unexpected(e);
    }
  }

  /** The u-coordinate of a little-endian encoding, the top bit masked (RFC 7748 section 5). */
  private static BigInteger decodeU(byte[] littleEndian) {
    byte[] bigEndian = new byte[KEY_BYTES];
    for (int i = 0; i < KEY_BYTES; i++) {
      bigEndian[i] = littleEndian[KEY_BYTES - 1 - i];
    }
    bigEndian[0] &= 0x7f;
    return new BigInteger(1, bigEndian);
  }

  private static boolean isZero(byte[] bytes) {
    int acc = 0;
    for (byte b : bytes) {
      acc |= b;
    }
    return acc == 0;
  }

  private static void checkLength(byte[] key, String what) {
    if (key == null || key.length != KEY_BYTES) {
      throw new IllegalArgumentException(
          "X25519 " + what + " must be 32 bytes, got " + (key == null ? "null" : key.length));
    }
  }

  /** Constant-time comparison of two public keys. */
  static boolean sameKey(byte[] a, byte[] b) {
    return MessageDigest.isEqual(a, b);
  }
}
