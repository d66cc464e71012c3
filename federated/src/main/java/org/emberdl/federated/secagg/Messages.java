package org.emberdl.federated.secagg;

import java.io.Serializable;
import java.math.BigInteger;
import java.util.Collections;
import java.util.List;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The protocol's messages, in round order. All are plain serializable values, so a driver can carry
 * them in broadcasts and task results. Every message names its session; both ends reject a message
 * of another session. Arrays are not copied: a message owns the arrays it is built with.
 *
 * <pre>
 *   round 0  client -> server  KeyAdvertisement      server -> clients  KeyDirectory   (U1)
 *   round 1  client -> server  SharedKeys            server -> client   ShareBundle    (U2)
 *   round 2  client -> server  MaskedInput           server -> clients  UnmaskRequest  (U3)
 *   round 3  client -> server  UnmaskResponse        server: SecureSum                 (U4)
 * </pre>
 */
public final class Messages {
  private Messages() {}

  /**
   * Round 0, client to server: the client's two fresh X25519 public keys (raw 32-byte little-endian
   * u-coordinates): one for encrypting shares to it, one for agreeing masks.
   */
  public record KeyAdvertisement(
      String sessionId, int client, byte[] channelPublicKey, byte[] maskPublicKey)
      implements Serializable {
    public KeyAdvertisement {
      requireKey(channelPublicKey, "channelPublicKey");
      requireKey(maskPublicKey, "maskPublicKey");
    }
  }

  /**
   * Round 0 result, server to every client in it: the advertised keys of the round's clients {@code
   * U1}, by client id.
   */
  public record KeyDirectory(String sessionId, SortedMap<Integer, KeyAdvertisement> keys)
      implements Serializable {
    public KeyDirectory {
      keys = Collections.unmodifiableSortedMap(new TreeMap<>(keys));
    }
  }

  /**
   * One client's shares of its mask private key and self-mask seed for one other client, AES-GCM
   * encrypted under a key only the two of them can derive: {@code nonce} (12 bytes) and {@code
   * ciphertext} (with its 16-byte tag). The plaintext repeats sender and recipient.
   */
  public record SealedShares(int sender, int recipient, byte[] nonce, byte[] ciphertext)
      implements Serializable {}

  /**
   * Round 1, client to server: sealed shares for every other client of the directory, and a
   * commitment {@code HKDF(b_i; "self-mask-commitment", session, i)} to the self-mask seed, which
   * lets the server check the seed it reconstructs (32 bytes; hiding, as {@code b_i} is 256
   * uniformly random bits).
   */
  public record SharedKeys(
      String sessionId, int sender, List<SealedShares> shares, byte[] selfMaskCommitment)
      implements Serializable {
    public SharedKeys {
      shares = List.copyOf(shares);
      if (selfMaskCommitment == null || selfMaskCommitment.length != 32) {
        throw new IllegalArgumentException("selfMaskCommitment must be 32 bytes");
      }
    }
  }

  /**
   * Round 1 result, server to each client of {@code U2} (those that sent {@link SharedKeys}): the
   * shares addressed to it by the other clients of {@code U2}. Their senders are who it masks with.
   */
  public record ShareBundle(String sessionId, int recipient, List<SealedShares> shares)
      implements Serializable {
    public ShareBundle {
      shares = List.copyOf(shares);
    }
  }

  /** Round 2, client to server: the masked, encoded update, one ring element per coordinate. */
  public record MaskedInput(String sessionId, int client, long[] values) implements Serializable {}

  /**
   * Round 2 result, server to every client of {@code U3}: who sent a masked input ({@code
   * survivors}, U3) and who of {@code U2} did not ({@code dropped}).
   */
  public record UnmaskRequest(
      String sessionId, SortedSet<Integer> survivors, SortedSet<Integer> dropped)
      implements Serializable {
    public UnmaskRequest {
      survivors = Collections.unmodifiableSortedSet(new TreeSet<>(survivors));
      dropped = Collections.unmodifiableSortedSet(new TreeSet<>(dropped));
    }
  }

  /**
   * Round 3, client to server: its shares of the mask private keys of the dropped clients and of
   * the self-mask seeds of the survivors, never both for one client.
   */
  public record UnmaskResponse(
      String sessionId,
      int client,
      SortedMap<Integer, BigInteger> maskKeyShares,
      SortedMap<Integer, BigInteger> selfMaskShares)
      implements Serializable {
    public UnmaskResponse {
      maskKeyShares = Collections.unmodifiableSortedMap(new TreeMap<>(maskKeyShares));
      selfMaskShares = Collections.unmodifiableSortedMap(new TreeMap<>(selfMaskShares));
    }
  }

  private static void requireKey(byte[] key, String what) {
    if (key == null || key.length != X25519.KEY_BYTES) {
      throw new IllegalArgumentException(what + " must be 32 bytes");
    }
  }
}
