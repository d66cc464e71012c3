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
  void rejectsImpossibleSplits() {
    assertThrows(IllegalArgumentException.class, () -> NonIidSplit.shards(new long[3], 2, 2, 1));
    assertThrows(IllegalArgumentException.class, () -> NonIidSplit.shards(new long[9], 0, 2, 1));
    assertEquals(0, NonIidSplit.shards(new long[4], 1, 2, 1)[3]);
  }
}
