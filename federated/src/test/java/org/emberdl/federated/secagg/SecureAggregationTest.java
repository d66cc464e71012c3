package org.emberdl.federated.secagg;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigInteger;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;
import org.emberdl.federated.secagg.Messages.KeyAdvertisement;
import org.emberdl.federated.secagg.Messages.UnmaskResponse;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SecureAggregationTest {
  /** Range 4, f = 24: each value is within 2^-25 of its encoding, a sum of n within n 2^-25. */
  private static final FixedPointCodec CODEC = new FixedPointCodec(4, 24);

  private static final int LENGTH = 1000;

  @ParameterizedTest
  @ValueSource(ints = {3, 10, 100})
  void unmaskedSumEqualsThePlainSumWithinTheQuantisationBound(int n) {
    SecureAggregationParameters p =
        new SecureAggregationParameters("sum-" + n, n / 2 + 1, LENGTH, CODEC);
    float[][] updates = Simulation.randomUpdates(n, LENGTH, 1.0, n);
    SecureSum sum = Simulation.run(p, updates, n);
    assertEquals(n, sum.contributors().size());
    assertTrue(sum.dropped().isEmpty());
    // Bound by hand: n * 2^-25 = 8.94e-8 (n = 3), 2.98e-7 (n = 10), 2.98e-6 (n = 100), plus one
    // float rounding of the result (at most an ulp).
    double bound = n * 0x1p-25;
    for (int k = 0; k < LENGTH; k++) {
      long encoded = 0;
      double plain = 0;
      for (float[] u : updates) {
        encoded += Math.round(u[k] * 0x1p24);
        plain += u[k];
      }
      assertEquals(encoded, sum.encodedSum()[k], "exact ring sum at " + k);
      assertEquals(plain, sum.values()[k], bound + Math.ulp((float) plain), "coordinate " + k);
    }
  }

  @Test
  void clientsDroppedBeforeMaskingAreLeftOutExactly() {
    Simulation s = simulation("drop-before", 1);
    float[][] updates = Simulation.randomUpdates(10, LENGTH, 1.0, 2);
    SecureSum sum =
        s.advertise(Set.of())
            .shareKeys(Set.of())
            .maskInputs(updates, Set.of(3, 7))
            .unmask(Set.of())
            .finish();
    assertEquals(Set.of(3, 7), sum.dropped());
    assertEquals(8, sum.contributors().size());
    assertArrayEquals(encodedSum(updates, sum.contributors()), sum.encodedSum());
  }

  @Test
  void clientsDroppedAfterMaskingStayInTheSum() {
    Simulation s = simulation("drop-after", 3);
    float[][] updates = Simulation.randomUpdates(10, LENGTH, 1.0, 4);
    SecureSum sum =
        s.advertise(Set.of())
            .shareKeys(Set.of())
            .maskInputs(updates, Set.of())
            .unmask(Set.of(2, 5))
            .finish();
    assertTrue(sum.dropped().isEmpty());
    assertEquals(10, sum.contributors().size());
    assertArrayEquals(encodedSum(updates, sum.contributors()), sum.encodedSum());
  }

  @Test
  void dropoutsInEveryRoundDownToTheThreshold() {
    // 10 clients, t = 6: client 9 never advertises, 8 shares no keys, 0 sends no masked input,
    // 4 does not answer the unmasking: U3 = 1..7 (7 clients), 6 of them answer.
    Simulation s = simulation("drop-everywhere", 5);
    float[][] updates = Simulation.randomUpdates(10, LENGTH, 1.0, 6);
    SecureSum sum =
        s.advertise(Set.of(9))
            .shareKeys(Set.of(8))
            .maskInputs(updates, Set.of(0))
            .unmask(Set.of(4))
            .finish();
    assertEquals(Set.of(0), sum.dropped());
    assertEquals(new TreeSet<>(Set.of(1, 2, 3, 4, 5, 6, 7)), sum.contributors());
    assertArrayEquals(encodedSum(updates, sum.contributors()), sum.encodedSum());
  }

  @Test
  void tooFewMaskedInputsAbandonTheRound() {
    Simulation s = simulation("too-few-inputs", 7).advertise(Set.of()).shareKeys(Set.of());
    float[][] updates = Simulation.randomUpdates(10, LENGTH, 1.0, 8);
    BelowThresholdException e =
        assertThrows(
            BelowThresholdException.class, () -> s.maskInputs(updates, Set.of(0, 1, 2, 3, 4)));
    assertEquals(
        "secagg too-few-inputs: too few masked inputs, the round must be abandoned: 5 available,"
            + " 6 needed",
        e.getMessage());
  }

  @Test
  void tooFewUnmaskingSurvivorsThrowInsteadOfReturningGarbage() {
    Simulation s =
        simulation("too-few-shares", 9)
            .advertise(Set.of())
            .shareKeys(Set.of())
            .maskInputs(Simulation.randomUpdates(10, LENGTH, 1.0, 10), Set.of(1, 2))
            .unmask(Set.of(3, 4, 5));
    BelowThresholdException e = assertThrows(BelowThresholdException.class, s::finish);
    assertEquals(
        "secagg too-few-shares: cannot unmask the sum, too few survivors answered with their"
            + " shares: 5 available, 6 needed (out of 8 survivors)",
        e.getMessage());
    assertEquals(5, e.available());
    assertEquals(6, e.needed());
  }

  @ParameterizedTest
  @ValueSource(booleans = {true, false})
  void corruptedSharesAreDetected(boolean maskKey) {
    Simulation s =
        simulation("corrupt", 11)
            .advertise(Set.of())
            .shareKeys(Set.of())
            .maskInputs(Simulation.randomUpdates(10, LENGTH, 1.0, 12), Set.of(9));
    // Exactly t = 6 answer; client 0 adds 2 to its share of client 9's mask key, or of client 4's
    // self-mask seed: a small shift that Shamir's range check alone would not notice.
    SecureAggregationServer server = s.server;
    for (int i = 0; i < 6; i++) {
      UnmaskResponse r = s.clients.get(i).unmask(s.request);
      if (i == 0) {
        SortedMap<Integer, BigInteger> keys = new TreeMap<>(r.maskKeyShares());
        SortedMap<Integer, BigInteger> seeds = new TreeMap<>(r.selfMaskShares());
        if (maskKey) {
          keys.put(9, keys.get(9).add(BigInteger.TWO));
        } else {
          seeds.put(4, seeds.get(4).add(BigInteger.TWO));
        }
        r = new UnmaskResponse(r.sessionId(), 0, keys, seeds);
      }
      server.receiveUnmaskResponse(r);
    }
    IllegalStateException e = assertThrows(IllegalStateException.class, server::finish);
    String what = maskKey ? "mask private key of client 9" : "self-mask seed of client 4";
    assertTrue(e.getMessage().contains(what), e.getMessage());
    assertTrue(e.getMessage().contains("inconsistent"), e.getMessage());
  }

  @Test
  void aDroppedClientsLateInputIsRejectedAndItsSelfMaskNeverRevealed() {
    Simulation s =
        simulation("late", 13)
            .advertise(Set.of())
            .shareKeys(Set.of())
            .maskInputs(Simulation.randomUpdates(10, LENGTH, 1.0, 14), Set.of(6));
    float[] late = new float[LENGTH];
    var lateInput = s.clients.get(6).maskInput(s.bundles.get(6), late);
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> s.server.receiveMaskedInput(lateInput));
    assertTrue(e.getMessage().contains("too late"), e.getMessage());
    s.unmask(Set.of());
    for (UnmaskResponse r : s.responses.values()) {
      assertEquals(Set.of(6), r.maskKeyShares().keySet());
      assertEquals(s.request.survivors(), r.selfMaskShares().keySet());
    }
    // The dropped client itself refuses to reveal anything: it is not among the survivors.
    assertThrows(IllegalArgumentException.class, () -> s.clients.get(6).unmask(s.request));
  }

  @Test
  void protocolMisuseIsRejected() {
    Simulation s = simulation("misuse", 15);
    SecureAggregationClient c = s.clients.get(0);
    KeyAdvertisement k = c.advertiseKeys();
    assertThrows(IllegalStateException.class, c::advertiseKeys);
    assertThrows(
        IllegalArgumentException.class,
        () ->
            s.server.receiveKeys(
                new KeyAdvertisement("other", 0, k.channelPublicKey(), k.maskPublicKey())));
    s.server.receiveKeys(k);
    assertThrows(IllegalArgumentException.class, () -> s.server.receiveKeys(k));
    for (int i = 1; i < 10; i++) {
      s.server.receiveKeys(s.clients.get(i).advertiseKeys());
    }
    s.directory = s.server.closeAdvertiseKeys();
    s.shareKeys(Set.of());
    float[] update = new float[LENGTH];
    c.maskInput(s.bundles.get(0), update);
    // A second masked input would reveal the difference of the two updates.
    assertThrows(IllegalStateException.class, () -> c.maskInput(s.bundles.get(0), update));
    // An update of the wrong length.
    assertThrows(
        IllegalArgumentException.class,
        () -> s.clients.get(1).maskInput(s.bundles.get(1), new float[LENGTH + 1]));
  }

  @Test
  void anOutOfRangeUpdateThrowsAndTheClientMayRetryWithAClippedOne() {
    Simulation s = simulation("range", 17).advertise(Set.of()).shareKeys(Set.of());
    float[][] updates = Simulation.randomUpdates(10, LENGTH, 1.0, 18);
    float[] tooBig = updates[3].clone();
    tooBig[17] = -5.5f;
    SecureAggregationClient c = s.clients.get(3);
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> c.maskInput(s.bundles.get(3), tooBig));
    assertTrue(
        e.getMessage().contains("value -5.5 at index 17 is outside the range [-4.0, 4.0]"),
        e.getMessage());
    SecureSum sum = s.maskInputs(updates, Set.of()).unmask(Set.of()).finish();
    assertArrayEquals(encodedSum(updates, sum.contributors()), sum.encodedSum());
  }

  @Test
  void moreClientsThanTheCodecCanSumAreRefusedBeforeAnyMasking() {
    // Range 3 * 2^60 at f = 0: M = 3 * 2^60, so 2 M < 2^63 <= 3 M: two clients fit, three do not.
    FixedPointCodec tight = new FixedPointCodec(0x1.8p61, 0);
    assertEquals(2, tight.maxClients());
    Simulation s = new Simulation(new SecureAggregationParameters("tight", 2, 4, tight), 3, 16);
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> s.advertise(Set.of()));
    assertTrue(e.getMessage().contains("3 clients"), e.getMessage());
  }

  private static Simulation simulation(String session, long seed) {
    return new Simulation(new SecureAggregationParameters(session, 6, LENGTH, CODEC), 10, seed);
  }

  private static long[] encodedSum(float[][] updates, Set<Integer> clients) {
    long[] sum = new long[LENGTH];
    for (int i : clients) {
      for (int k = 0; k < LENGTH; k++) {
        sum[k] += Math.round(updates[i][k] * 0x1p24);
      }
    }
    return sum;
  }
}
