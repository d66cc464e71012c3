package org.emberdl.federated.dp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class SecretSamplerTest {
  @Test
  void replaysItsSampleAnywhereTheKeyGoes() throws Exception {
    SecretSampler s = SecretSampler.fresh();
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(s); // as Spark ships it to an executor
    }
    SecretSampler shipped;
    try (ObjectInputStream in =
        new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      shipped = (SecretSampler) in.readObject();
    }
    // a retried task (same round, same stream) draws the same rows
    assertArrayEquals(s.poissonSample(10_000, 0.1, 7, 3), shipped.poissonSample(10_000, 0.1, 7, 3));
    assertFalse(
        Arrays.equals(s.poissonSample(10_000, 0.1, 7, 3), s.poissonSample(10_000, 0.1, 8, 3)));
    assertFalse(
        Arrays.equals(s.poissonSample(10_000, 0.1, 7, 3), s.poissonSample(10_000, 0.1, 7, 4)));
    // rounds beyond 2^32 are distinct streams too
    assertFalse(
        Arrays.equals(
            s.poissonSample(10_000, 0.1, 1L << 32, 0), s.poissonSample(10_000, 0.1, 0, 0)));
    // a new fit's key draws another sample
    assertFalse(
        Arrays.equals(
            s.poissonSample(10_000, 0.1, 7, 3),
            SecretSampler.fresh().poissonSample(10_000, 0.1, 7, 3)));
    assertEquals("SecretSampler[key hidden]", s.toString());
  }

  @Test
  void samplesEachIndexWithProbabilityQ() {
    // 200000 Bernoulli(0.1) draws: mean 20000, standard deviation sqrt(200000 * 0.1 * 0.9) = 134;
    // 6 sigma is 805. Indices are distinct, increasing and in range.
    int[] sample = SecretSampler.fresh().poissonSample(200_000, 0.1, 0, 0);
    assertTrue(Math.abs(sample.length - 20_000) < 805, "sample size " + sample.length);
    for (int i = 1; i < sample.length; i++) {
      assertTrue(sample[i] > sample[i - 1]);
    }
    assertTrue(sample[0] >= 0 && sample[sample.length - 1] < 200_000);
    SecretSampler s = SecretSampler.fresh();
    assertEquals(0, s.poissonSample(1000, 0, 0, 0).length);
    assertEquals(1000, s.poissonSample(1000, 1, 0, 0).length);
    assertEquals(0, s.poissonSample(0, 0.5, 0, 0).length);
    assertEquals(
        "q must be in [0, 1], got 1.5",
        assertThrows(IllegalArgumentException.class, () -> s.poissonSample(10, 1.5, 0, 0))
            .getMessage());
  }
}
