package org.emberdl.federated.secagg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Set;
import org.junit.jupiter.api.Test;

class DistributedGaussianNoiseTest {
  @Test
  void perClientStdIsSigmaSOverSqrtN() {
    DistributedGaussianNoise noise = new DistributedGaussianNoise(1.2, 0.5, 9);
    assertEquals(0.2, noise.perClientStd(), 1e-15); // 1.2 * 0.5 / 3
    assertEquals(0.6, noise.sumStd(9), 1e-15); // sigma * S
    assertEquals(0.4, noise.sumStd(4), 1e-15); // 0.2 * 2
  }

  @Test
  void samplesAreStandardNormalTimesTheStd() {
    // 200,000 samples of N(0, 0.2^2). Standard errors: mean 0.2 / sqrt(N) = 4.5e-4, std about
    // 0.2 / sqrt(2N) = 3.2e-4, fraction within one std sqrt(0.683 * 0.317 / N) = 1.0e-3. Tolerances
    // are 5 standard errors.
    int n = 200_000;
    double[] z = new DistributedGaussianNoise(1.2, 0.5, 9).sample(n, Randomness.seeded(3));
    double mean = 0;
    double sq = 0;
    int within = 0;
    for (double v : z) {
      mean += v;
      sq += v * v;
      within += Math.abs(v) <= 0.2 ? 1 : 0;
    }
    mean /= n;
    double std = Math.sqrt(sq / n - mean * mean);
    assertEquals(0, mean, 5 * 4.5e-4);
    assertEquals(0.2, std, 5 * 3.2e-4);
    assertEquals(0.6827, (double) within / n, 5 * 1.0e-3);
  }

  @Test
  void theSecureSumCarriesNoiseOfStdSigmaS() {
    // sigma = 1.5, S = 1, 10 clients: each adds N(0, 2.25 / 10); the sum's noise is N(0, 2.25).
    // 20,000 coordinates: the sample std has standard error about 1.5 / sqrt(40,000) = 0.0075,
    // the mean 1.5 / sqrt(20,000) = 0.0106; tolerances are 5 standard errors. Quantisation
    // (10 * 2^-(f+1) with f = forClients' choice) is negligible.
    checkSumNoise(Set.of(), 1.5);
  }

  @Test
  void dropoutsLeaveSqrtMOverNOfTheNoise() {
    // Calibrated for 10, 2 drop before masking: std 1.5 * sqrt(8 / 10) = 1.342.
    checkSumNoise(Set.of(4, 8), 1.5 * Math.sqrt(0.8));
  }

  private static void checkSumNoise(Set<Integer> dropped, double expectedStd) {
    int n = 10;
    int length = 20_000;
    DistributedGaussianNoise noise = new DistributedGaussianNoise(1.5, 1.0, n);
    // Updates within S = 1 per coordinate; noise per client 0.47: range 1 + 10 * 0.47 < 8.
    FixedPointCodec codec = FixedPointCodec.forClients(8, n);
    SecureAggregationParameters p =
        new SecureAggregationParameters("noise", 6, length, codec).withNoise(noise);
    float[][] updates = Simulation.randomUpdates(n, length, 0.01, 21);
    SecureSum sum =
        new Simulation(p, n, 22)
            .advertise(Set.of())
            .shareKeys(Set.of())
            .maskInputs(updates, dropped)
            .unmask(Set.of())
            .finish();
    double mean = 0;
    double sq = 0;
    for (int k = 0; k < length; k++) {
      double plain = 0;
      for (int i : sum.contributors()) {
        plain += updates[i][k];
      }
      double e = sum.values()[k] - plain;
      mean += e;
      sq += e * e;
    }
    mean /= length;
    double std = Math.sqrt(sq / length - mean * mean);
    assertEquals(0, mean, 5 * expectedStd / Math.sqrt(length));
    assertEquals(expectedStd, std, 5 * expectedStd / Math.sqrt(2.0 * length));
    assertEquals(expectedStd, noise.sumStd(sum.contributors().size()), 1e-12);
  }

  @Test
  void coordinatesPastNoisedLengthAreSummedWithoutNoise() {
    // 10 clients, 1000 coordinates, noise on the first 990 only (z = 1.5, S = 1): the last 10
    // (e.g. metrics) decode to the plain sum within the fixed-point bound 10 * 2^-(f+1) and float
    // rounding (1e-5 here), while the noised part's error has std 1.5 (one coordinate within 1e-5
    // of the plain sum: probability about 5e-6).
    int n = 10;
    int length = 1000;
    int noised = 990;
    FixedPointCodec codec = FixedPointCodec.forClients(8, n);
    SecureAggregationParameters p =
        new SecureAggregationParameters(
            "tail", 6, length, codec, new DistributedGaussianNoise(1.5, 1.0, n), noised);
    float[][] updates = Simulation.randomUpdates(n, length, 0.01, 23);
    SecureSum sum =
        new Simulation(p, n, 24)
            .advertise(Set.of())
            .shareKeys(Set.of())
            .maskInputs(updates, Set.of())
            .unmask(Set.of())
            .finish();
    int exactInNoised = 0;
    for (int k = 0; k < length; k++) {
      double plain = 0;
      for (float[] u : updates) {
        plain += u[k];
      }
      double error = Math.abs(sum.values()[k] - plain);
      if (k >= noised) {
        assertEquals(plain, sum.values()[k], 1e-5, "coordinate " + k);
      } else if (error < 1e-5) {
        exactInNoised++;
      }
    }
    assertTrue(exactInNoised < 3, exactInNoised + " noised coordinates carry no noise");
    assertEquals(
        "noisedLength must be in [0, vectorLength 4], got 5",
        assertThrows(
                IllegalArgumentException.class,
                () -> new SecureAggregationParameters("bad", 2, 4, codec, null, 5))
            .getMessage());
  }

  @Test
  void clippingBoundsTheNorm() {
    float[] v = {3, 4};
    assertEquals(1.0, DistributedGaussianNoise.clipToNorm(v, 5));
    double f = DistributedGaussianNoise.clipToNorm(v, 1);
    assertEquals(0.2, f, 1e-6);
    assertTrue(Math.hypot(v[0], v[1]) <= 1.0);
    assertThrows(
        IllegalArgumentException.class,
        () -> DistributedGaussianNoise.clipToNorm(new float[] {Float.NaN}, 1));
    assertThrows(IllegalArgumentException.class, () -> new DistributedGaussianNoise(-1, 1, 1));
    assertThrows(IllegalArgumentException.class, () -> new DistributedGaussianNoise(1, 0, 1));
    assertThrows(IllegalArgumentException.class, () -> new DistributedGaussianNoise(1, 1, 0));
  }
}
