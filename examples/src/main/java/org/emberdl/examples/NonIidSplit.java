package org.emberdl.examples;

import java.util.Arrays;
import java.util.Random;

/**
 * The pathological non-IID split of McMahan et al. 2017 ("Communication-Efficient Learning of Deep
 * Networks from Decentralized Data", section 3): sort the examples by label, cut them into {@code
 * clients * shardsPerClient} equal shards and give every client {@code shardsPerClient} shards at
 * random. With Fashion-MNIST's 6,000 images a class, 10 clients and 2 shards each, a shard holds
 * one class, so a client sees at most two classes, and one class only when it draws both shards of
 * a class.
 */
final class NonIidSplit {
  private NonIidSplit() {}

  /**
   * The client (0..clients-1) of every example.
   *
   * @param labels the examples' labels
   * @param seed seeds the shards' assignment
   */
  static int[] shards(long[] labels, int clients, int shardsPerClient, long seed) {
    if (clients < 1 || shardsPerClient < 1) {
      throw new IllegalArgumentException(
          "need clients >= 1 and shardsPerClient >= 1, got " + clients + ", " + shardsPerClient);
    }
    int n = labels.length;
    int shards = clients * shardsPerClient;
    if (n < shards) {
      throw new IllegalArgumentException(
          n + " examples cannot make " + shards + " shards for " + clients + " clients");
    }
    // rows by label, ties by index: label in the high bits, the index in the low 32
    long[] keys = new long[n];
    for (int i = 0; i < n; i++) {
      keys[i] = (labels[i] << 32) | i;
    }
    Arrays.sort(keys);
    int[] owner = new int[shards];
    for (int s = 0; s < shards; s++) {
      owner[s] = s / shardsPerClient;
    }
    Random random = new Random(seed);
    for (int s = shards - 1; s > 0; s--) {
      int j = random.nextInt(s + 1);
      int t = owner[s];
      owner[s] = owner[j];
      owner[j] = t;
    }
    int[] client = new int[n];
    for (int r = 0; r < n; r++) {
      int shard = (int) ((long) r * shards / n);
      client[(int) keys[r]] = owner[shard];
    }
    return client;
  }
}
