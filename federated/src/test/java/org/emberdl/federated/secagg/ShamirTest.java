package org.emberdl.federated.secagg;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class ShamirTest {
  @Test
  void fieldIsTheMersennePrime521() {
    assertEquals(521, Shamir.PRIME.bitLength());
    assertEquals(BigInteger.TWO.pow(521).subtract(BigInteger.ONE), Shamir.PRIME);
    assertTrue(Shamir.PRIME.isProbablePrime(64));
  }

  @Test
  void sharesOfAHandExample() {
    // Secret 5, threshold 2, and a "random" coefficient 3 (66 bytes, last one 3): f(x) = 5 + 3x.
    // Holders 0, 1, 2 sit at x = 1, 2, 3 and get 8, 11, 14.
    Randomness three =
        out -> {
          java.util.Arrays.fill(out, (byte) 0);
          out[out.length - 1] = 3;
        };
    SortedMap<Integer, BigInteger> shares =
        Shamir.split(new byte[] {5}, 2, List.of(0, 1, 2), three);
    assertEquals(
        Map.of(0, BigInteger.valueOf(8), 1, BigInteger.valueOf(11), 2, BigInteger.valueOf(14)),
        shares);
    // Holders 1 and 2: 11 * 3/(3-2) + 14 * 2/(2-3) = 33 - 28 = 5.
    assertArrayEquals(
        new byte[] {5}, Shamir.reconstruct(Map.of(1, shares.get(1), 2, shares.get(2)), 2, 1, "x"));
  }

  @Test
  void anyTOfNSharesReconstructAndFewerFailLoudly() {
    byte[] secret = new byte[32];
    Randomness.seeded(7).nextBytes(secret);
    int n = 6;
    int t = 3;
    List<Integer> holders = List.of(0, 1, 2, 3, 4, 5);
    SortedMap<Integer, BigInteger> shares = Shamir.split(secret, t, holders, Randomness.seeded(8));
    int subsets = 0;
    for (int mask = 0; mask < (1 << n); mask++) {
      Map<Integer, BigInteger> subset = subset(shares, mask);
      if (subset.size() == t) {
        assertArrayEquals(secret, Shamir.reconstruct(subset, t, 32, "s"), "subset " + mask);
        subsets++;
      } else if (subset.size() == t - 1) {
        // t - 1 shares interpolate (as a line) to something else, which is not even a 32-byte
        // value...
        BigInteger v = Shamir.interpolateAtZero(subset);
        assertNotEquals(new BigInteger(1, secret), v);
        assertTrue(v.bitLength() > 256, "subset " + mask);
        // ...and the checked entry point refuses, naming the counts.
        BelowThresholdException e =
            assertThrows(
                BelowThresholdException.class,
                () -> Shamir.reconstruct(subset, t, 32, "the seed of client 4"));
        assertEquals(
            "cannot reconstruct the seed of client 4 from shares: 2 available, 3 needed",
            e.getMessage());
        assertEquals(2, e.available());
        assertEquals(3, e.needed());
      }
    }
    assertEquals(20, subsets); // C(6, 3)
    // More than t shares work too.
    assertArrayEquals(secret, Shamir.reconstruct(shares, t, 32, "s"));
  }

  @Test
  void inconsistentSharesAreDetectedNotReturned() {
    byte[] secret = new byte[32];
    Randomness.seeded(9).nextBytes(secret);
    SortedMap<Integer, BigInteger> shares =
        Shamir.split(secret, 3, List.of(0, 1, 2, 3), Randomness.seeded(10));
    // A share overwritten with a random field element.
    Map<Integer, BigInteger> corrupted = new TreeMap<>(shares);
    corrupted.put(1, new BigInteger(520, new java.util.Random(1)));
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> Shamir.reconstruct(corrupted, 3, 32, "k"));
    assertTrue(e.getMessage().contains("inconsistent"), e.getMessage());
    // Shares of a threshold-4 sharing, read with threshold 3.
    SortedMap<Integer, BigInteger> four =
        Shamir.split(secret, 4, List.of(0, 1, 2, 3), Randomness.seeded(11));
    assertThrows(IllegalStateException.class, () -> Shamir.reconstruct(four, 3, 32, "k"));
    // What the range check cannot see: +1 on holder 1's share (x = 2, among x = 1, 2, 3) shifts
    // the result by its Lagrange coefficient 1 * 3 / ((1 - 2) (3 - 2)) = -3. The protocol checks
    // reconstructed secrets against public keys and commitments for this reason.
    Map<Integer, BigInteger> nudged = new TreeMap<>(shares);
    nudged.remove(3);
    nudged.put(1, shares.get(1).add(BigInteger.ONE));
    assertEquals(
        new BigInteger(1, secret).subtract(BigInteger.valueOf(3)),
        new BigInteger(1, Shamir.reconstruct(nudged, 3, 32, "k")));
  }

  @Test
  void argumentsAreChecked() {
    assertThrows(
        IllegalArgumentException.class,
        () -> Shamir.split(new byte[33], 2, List.of(0, 1), Randomness.seeded(1)));
    assertThrows(
        IllegalArgumentException.class,
        () -> Shamir.split(new byte[32], 3, List.of(0, 1), Randomness.seeded(1)));
    assertThrows(
        IllegalArgumentException.class,
        () -> Shamir.split(new byte[32], 2, List.of(0, 0), Randomness.seeded(1)));
  }

  private static Map<Integer, BigInteger> subset(SortedMap<Integer, BigInteger> shares, int mask) {
    Map<Integer, BigInteger> out = new TreeMap<>();
    List<Integer> keys = new ArrayList<>(shares.keySet());
    for (int i = 0; i < keys.size(); i++) {
      if ((mask & (1 << i)) != 0) {
        out.put(keys.get(i), shares.get(keys.get(i)));
      }
    }
    return out;
  }
}
