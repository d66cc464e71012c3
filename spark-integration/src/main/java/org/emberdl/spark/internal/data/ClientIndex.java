package org.emberdl.spark.internal.data;

import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Federated clients named by a column ({@code clientIdCol}): every distinct value is one client,
 * numbered 0..K-1 in ascending order of the value, and the rows of one client go to one partition
 * (range partitioning on that number, so a partition holds a run of whole clients).
 *
 * <p>The numbering only depends on the set of values, not on the data's partitioning, so client
 * sampling (keyed by the client number) picks the same clients whatever the cluster.
 */
public final class ClientIndex {
  /** The int column holding a row's client number. */
  public static final String COLUMN = "__ember_client";

  private static final String KEY = "__ember_client_key";

  /**
   * @param data rows of (features, label, {@code clientCol}) and the client count
   * @param clients K
   */
  public record Indexed(Dataset<Row> data, int clients) {}

  private ClientIndex() {}

  /**
   * Replaces {@code clientCol} in {@code selected} by {@link #COLUMN} and repartitions by it.
   *
   * @param selected (features, label, clientCol)
   * @param partitions the number of partitions, or 0 for min(K, the default parallelism)
   * @param skipInvalid drop rows without a client id instead of failing
   * @throws IllegalArgumentException if the column has an unsupported type, a null (when not
   *     skipping), or no values
   */
  public static Indexed attach(
      Dataset<Row> selected,
      String featuresCol,
      String labelCol,
      String clientCol,
      int partitions,
      boolean skipInvalid) {
    DataType type = selected.schema().apply(clientCol).dataType();
    if (!(type.equals(DataTypes.IntegerType)
        || type.equals(DataTypes.LongType)
        || type.equals(DataTypes.ShortType)
        || type.equals(DataTypes.ByteType)
        || type.equals(DataTypes.StringType))) {
      throw new IllegalArgumentException(
          "clientIdCol '"
              + clientCol
              + "' must be an integer or string column, got "
              + type.simpleString());
    }
    if (!skipInvalid && !selected.where(functions.col(clientCol).isNull()).isEmpty()) {
      throw new IllegalArgumentException(
          "clientIdCol '"
              + clientCol
              + "' has null values: give every row a client, or set handleInvalid to skip");
    }
    List<Row> ids =
        selected
            .select(functions.col(clientCol))
            .where(functions.col(clientCol).isNotNull())
            .distinct()
            .orderBy(functions.col(clientCol))
            .collectAsList();
    if (ids.isEmpty()) {
      throw new IllegalArgumentException("clientIdCol '" + clientCol + "' has no values");
    }
    List<Row> mapping = new ArrayList<>(ids.size());
    for (int i = 0; i < ids.size(); i++) {
      mapping.add(RowFactory.create(ids.get(i).get(0), i));
    }
    StructType schema =
        new StructType().add(KEY, type, false).add(COLUMN, DataTypes.IntegerType, false);
    Dataset<Row> map = selected.sparkSession().createDataFrame(mapping, schema);
    int k = ids.size();
    int p =
        partitions > 0
            ? partitions
            : Math.min(k, selected.sparkSession().sparkContext().defaultParallelism());
    Dataset<Row> joined =
        selected
            .join(functions.broadcast(map), selected.col(clientCol).equalTo(map.col(KEY)))
            .select(functions.col(featuresCol), functions.col(labelCol), functions.col(COLUMN))
            .repartitionByRange(p, functions.col(COLUMN));
    return new Indexed(joined, k);
  }
}
