package org.emberdl.spark.internal.data;

import java.util.UUID;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.functions;
import org.apache.spark.storage.StorageLevel;
import org.emberdl.spark.EmberParams;
import org.emberdl.spark.internal.local.ExecutorEngine;
import org.emberdl.spark.internal.local.NetworkDefinition;
import org.emberdl.spark.internal.plan.DataSizes;
import org.emberdl.spark.internal.plan.HandleInvalid;
import org.emberdl.spark.internal.plan.TaskKind;

/**
 * A fit's data on the executors: the feature and label columns (and the client index of a
 * clientIdCol) selected, cast and repartitioned, each partition read once into a cached {@link
 * PartitionData}. Closing it releases the executors' replicas of the fit and unpersists the cache.
 */
public final class TrainingInput implements AutoCloseable {
  private final JavaRDD<PartitionData> data;
  private final int clientCount;
  private final String runKey = "fit-" + UUID.randomUUID();

  private TrainingInput(JavaRDD<PartitionData> data, int clientCount) {
    this.data = data;
    this.clientCount = clientCount;
  }

  /**
   * Selects and caches the training data of {@code p} (lazily: the first job reads it).
   *
   * @param outputs the network's outputs per example (the classes of a classifier)
   */
  public static TrainingInput cache(
      Dataset<?> dataset,
      EmberParams<?> p,
      TaskKind kind,
      NetworkDefinition network,
      int outputs,
      String featuresCol,
      String labelCol) {
    String clientCol = p.getClientIdCol();
    boolean skipInvalid = HandleInvalid.of(p.getHandleInvalid()) == HandleInvalid.SKIP;
    Dataset<Row> selected;
    int clients = -1; // -1: the partitions are the clients
    if (clientCol.isEmpty()) {
      selected =
          dataset.select(
              functions.col(featuresCol), functions.col(labelCol).cast("double").as(labelCol));
      if (p.getNumPartitions() > 0) {
        selected = selected.repartition(p.getNumPartitions());
      }
    } else {
      ClientIndex.Indexed indexed =
          ClientIndex.attach(
              dataset.select(
                  functions.col(featuresCol),
                  functions.col(labelCol).cast("double").as(labelCol),
                  functions.col(clientCol)),
              featuresCol,
              labelCol,
              clientCol,
              p.getNumPartitions(),
              skipInvalid);
      selected = indexed.data();
      clients = indexed.clients();
    }
    FeatureColumn features =
        FeatureColumn.of(selected.schema(), featuresCol, network.inputSize(), network.tokenInput());
    PartitionData.RowSpec spec =
        new PartitionData.RowSpec(
            features,
            labelCol,
            kind,
            outputs,
            p.getValidationFraction(),
            p.getSeed(),
            skipInvalid,
            clients >= 0 ? 2 : -1);
    JavaRDD<PartitionData> data =
        PartitionData.readAll(selected, spec).persist(StorageLevel.MEMORY_AND_DISK());
    return new TrainingInput(data, clients);
  }

  /** The cached partitions. */
  public JavaRDD<PartitionData> data() {
    return data;
  }

  /** Identifies the fit in the executors' replica pools. */
  public String runKey() {
    return runKey;
  }

  /** The rows of each partition, summed (one Spark job, which reads and caches the data). */
  public DataSizes sizes() {
    return DataSizes.of(
        data.map(d -> new long[] {d.trainRows, d.validRows, d.skipped}).collect(), clientCount);
  }

  /** Releases the executors' replicas of this fit and the cached partitions. */
  @Override
  public void close() {
    String key = runKey;
    data.foreachPartition(it -> ExecutorEngine.get().release(key));
    data.unpersist(false);
  }
}
