package org.emberdl.spark.internal.plan;

import java.util.List;

/**
 * The sizes of a fit's cached data, as the partitions reported them.
 *
 * @param maxPartitionRows the training rows of the largest partition
 * @param clients the federated clients K: the clientIdCol values, or the partitions without one
 */
public record DataSizes(
    long trainRows,
    long validRows,
    long skipped,
    int partitions,
    long maxPartitionRows,
    int clients) {

  /**
   * Sums per-partition {@code {trainRows, validRows, skipped}} triples.
   *
   * @param clientCount the number of clientIdCol values, or -1 when the partitions are the clients
   */
  public static DataSizes of(List<long[]> perPartition, int clientCount) {
    long train = 0;
    long valid = 0;
    long skipped = 0;
    long max = 0;
    for (long[] s : perPartition) {
      train += s[0];
      valid += s[1];
      skipped += s[2];
      max = Math.max(max, s[0]);
    }
    int partitions = perPartition.size();
    return new DataSizes(
        train, valid, skipped, partitions, max, clientCount >= 0 ? clientCount : partitions);
  }
}
