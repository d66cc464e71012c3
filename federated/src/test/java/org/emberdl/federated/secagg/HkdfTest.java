package org.emberdl.federated.secagg;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.HexFormat;
import org.junit.jupiter.api.Test;

class HkdfTest {
  private static final HexFormat HEX = HexFormat.of();

  @Test
  void rfc5869TestCase1() {
    // RFC 5869, appendix A.1 (SHA-256): IKM = 22 bytes 0x0b, salt = 0x00..0x0c, info = 0xf0..0xf9.
    byte[] ikm = new byte[22];
    java.util.Arrays.fill(ikm, (byte) 0x0b);
    byte[] salt = HEX.parseHex("000102030405060708090a0b0c");
    byte[] info = HEX.parseHex("f0f1f2f3f4f5f6f7f8f9");
    byte[] prk = Hkdf.extract(salt, ikm);
    assertEquals(
        "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5", HEX.formatHex(prk));
    assertEquals(
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
        HEX.formatHex(Hkdf.expand(prk, info, 42)));
  }

  @Test
  void protocolInfoIsLengthPrefixedAndDerivationMatchesAnIndependentHkdf() {
    // info = len("pairwise-mask") "pairwise-mask" len("session-7") "session-7" int(3) int(11)
    assertEquals(
        "0000000d70616972776973652d6d61736b"
            + "0000000973657373696f6e2d37"
            + "00000003"
            + "0000000b",
        HEX.formatHex(Hkdf.info(Hkdf.PAIRWISE_MASK, "session-7", 3, 11)));
    // Expected value from Python's cryptography HKDF(SHA256, length=32, salt=b"ember/secagg/v1",
    // info=<the bytes above>) applied to IKM = 0x01..0x20.
    byte[] ikm = new byte[32];
    for (int i = 0; i < 32; i++) {
      ikm[i] = (byte) (i + 1);
    }
    assertArrayEquals(
        HEX.parseHex("31c4d1736305c79f9469f1e118e44fc28329c190a4f418c6ec83f520276ff2ee"),
        Hkdf.derive(ikm, Hkdf.PAIRWISE_MASK, "session-7", 3, 11));
  }

  @Test
  void outputLengthIsBounded() {
    assertThrows(
        IllegalArgumentException.class, () -> Hkdf.expand(new byte[32], new byte[0], 8161));
    assertEquals(8160, Hkdf.expand(new byte[32], new byte[0], 8160).length);
  }
}
