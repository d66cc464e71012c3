package org.emberdl.examples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class NonIidSplitTest {
  @Test
  void tenClientsOfTwoShardsSeeAtMostTwoClassesEach() {
    // 10 classes of 600 rows, interleaved as in a shuffled dataset: 20 shards of 300 rows, each
    // inside one class, two per client.
    long[] labels = new long[6000];
    for (int i = 0; i < labels.length; i++) {
      labels[i] = (i * 7L) % 10;
    }
    int[] client = NonIidSplit.shards(labels, 10, 2, 42);
    int[] rows = new int[10];
    List<Set<Long>> classes = new java.util.ArrayList<>();
    for (int k = 0; k < 10; k++) {
      classes.add(new HashSet<>());
    }
    for (int i = 0; i < labels.length; i++) {
      rows[client[i]]++;
      classes.get(client[i]).add(labels[i]);
    }
    int[] expected = new int[10];
    java.util.Arrays.fill(expected, 600);
    assertArrayEquals(expected, rows);
    for (Set<Long> c : classes) {
      assertTrue(c.size() == 1 || c.size() == 2, "classes of a client: " + c);
    }
    assertArrayEquals(client, NonIidSplit.shards(labels, 10, 2, 42), "seeded");
  }

  @Test
  void dirichletSplitsEveryClassAmongTheClients() {
    long[] labels = new long[6000];
    for (int i = 0; i < labels.length; i++) {
      labels[i] = (i * 7L) % 10;
    }
    int[] client = NonIidSplit.dirichlet(labels, 10, 0.5, 42);
    int[][] counts = new int[10][10];
    for (int i = 0; i < labels.length; i++) {
      counts[client[i]][(int) labels[i]]++;
    }
    // mean total-variation distance of the clients' label distributions from the uniform one:
    // about 0 for an IID split, well above it under Dirichlet(0.5)
    double tv = 0;
    for (int k = 0; k < 10; k++) {
      int total = java.util.Arrays.stream(counts[k]).sum();
      assertTrue(total >= NonIidSplit.MIN_CLIENT_SIZE, "client " + k + " has " + total);
      for (int c = 0; c < 10; c++) {
        tv += Math.abs((double) counts[k][c] / total - 0.1) / 2 / 10;
      }
    }
    assertTrue(tv > 0.3, "label skew: mean TV distance " + tv);
    assertArrayEquals(client, NonIidSplit.dirichlet(labels, 10, 0.5, 42), "seeded");
    // a very large alpha is nearly IID: every client near 600 rows
    int[] even = NonIidSplit.dirichlet(labels, 10, 1e6, 42);
    int[] sizes = new int[10];
    for (int c : even) {
      sizes[c]++;
    }
    for (int s : sizes) {
      assertEquals(600, s, 30);
    }
  }

  @Test
  void gammaVariatesHaveTheirMeanAndVariance() {
    // Gamma(a, 1): mean a, variance a; 200,000 draws give the mean within 4 sd / sqrt(n)
    java.util.Random r = new java.util.Random(1);
    for (double a : new double[] {0.5, 2.5}) {
      double sum = 0;
      double sq = 0;
      int n = 200_000;
      for (int i = 0; i < n; i++) {
        double g = NonIidSplit.gamma(a, r);
        sum += g;
        sq += g * g;
      }
      double mean = sum / n;
      assertEquals(a, mean, 4 * Math.sqrt(a / n));
      assertEquals(a, sq / n - mean * mean, 0.03 * a);
    }
  }

  @Test
  void rejectsImpossibleSplits() {
    assertThrows(IllegalArgumentException.class, () -> NonIidSplit.shards(new long[3], 2, 2, 1));
    assertThrows(IllegalArgumentException.class, () -> NonIidSplit.shards(new long[9], 0, 2, 1));
    assertEquals(0, NonIidSplit.shards(new long[4], 1, 2, 1)[3]);
  }
}
