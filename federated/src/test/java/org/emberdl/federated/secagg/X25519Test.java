package org.emberdl.federated.secagg;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.math.BigInteger;
import java.security.KeyPairGenerator;
import java.security.interfaces.XECPrivateKey;
import java.security.interfaces.XECPublicKey;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

class X25519Test {
  private static final HexFormat HEX = HexFormat.of();

  @Test
  void rfc7748Section61() {
    byte[] a = HEX.parseHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    byte[] b = HEX.parseHex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    byte[] pa = X25519.publicKey(a);
    byte[] pb = X25519.publicKey(b);
    assertEquals(
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", HEX.formatHex(pa));
    assertEquals(
        "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", HEX.formatHex(pb));
    String shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
    assertEquals(shared, HEX.formatHex(X25519.agree(a, pb)));
    assertEquals(shared, HEX.formatHex(X25519.agree(b, pa)));
  }

  @Test
  void publicKeyMatchesTheJdkKeyPairGenerator() throws Exception {
    java.security.KeyPair kp = KeyPairGenerator.getInstance("X25519").generateKeyPair();
    byte[] scalar = ((XECPrivateKey) kp.getPrivate()).getScalar().orElseThrow();
    byte[] le = X25519.publicKey(scalar);
    byte[] be = new byte[32];
    for (int i = 0; i < 32; i++) {
      be[i] = le[31 - i];
    }
    assertEquals(((XECPublicKey) kp.getPublic()).getU(), new BigInteger(1, be));
  }

  @Test
  void agreementIsSymmetricAndPairwiseMasksCancelExactly() {
    Randomness r = Randomness.seeded(42);
    X25519.KeyPair i = X25519.generate(r);
    X25519.KeyPair j = X25519.generate(r);
    byte[] sij = X25519.agree(i.privateKey(), j.publicKey());
    byte[] sji = X25519.agree(j.privateKey(), i.publicKey());
    assertArrayEquals(sij, sji);
    // Client 2 adds the mask for its peer 5 > 2; client 5 subtracts it for its peer 2 < 5.
    long[] y2 = new long[5000];
    long[] y5 = new long[5000];
    Prg.addMask(SecureAggregationClient.pairwiseMaskKey(sij, "s", 2, 5), y2, false);
    Prg.addMask(SecureAggregationClient.pairwiseMaskKey(sji, "s", 5, 2), y5, true);
    int nonZero = 0;
    for (int k = 0; k < y2.length; k++) {
      assertEquals(0L, y2[k] + y5[k], "coordinate " + k);
      nonZero += y2[k] != 0 ? 1 : 0;
    }
    assertEquals(y2.length, nonZero);
    // A different session or pair gives a different mask.
    long[] other = Prg.words(SecureAggregationClient.pairwiseMaskKey(sij, "t", 2, 5), 1);
    long[] otherPair = Prg.words(SecureAggregationClient.pairwiseMaskKey(sij, "s", 2, 6), 1);
    assertEquals(false, other[0] == y2[0] || otherPair[0] == y2[0]);
  }

  @Test
  void twoClientRoundSumsExactly() {
    // Two clients, threshold 2: the server sees y0 + y1, removes the two self masks, and the
    // pairwise mask cancels. Encodings at f = 20: 0.5 -> 524288, -0.25 -> -262144, 3 -> 3145728.
    FixedPointCodec codec = new FixedPointCodec(8, 20);
    SecureAggregationParameters p = new SecureAggregationParameters("two", 2, 3, codec);
    SecureSum sum = Simulation.run(p, new float[][] {{0.5f, -0.25f, 3f}, {0.5f, 0.25f, -1f}}, 9);
    assertArrayEquals(new long[] {1048576, 0, 2097152}, sum.encodedSum());
    assertArrayEquals(new float[] {1f, 0f, 2f}, sum.values());
  }

  @Test
  void keysOfTheWrongLengthAndSmallOrderPointsAreRejected() {
    byte[] sk = new byte[32];
    sk[0] = 1;
    assertThrows(IllegalArgumentException.class, () -> X25519.agree(sk, new byte[31]));
    // u = 0 is a point of small order: the shared secret would be all zeros.
    assertThrows(IllegalArgumentException.class, () -> X25519.agree(sk, new byte[32]));
  }
}
