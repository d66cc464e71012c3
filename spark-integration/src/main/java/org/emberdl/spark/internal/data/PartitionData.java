package org.emberdl.spark.internal.data;

import java.io.Serializable;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.OutOfMemoryException;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.catalyst.InternalRow;
import org.emberdl.spark.internal.local.ExecutorEngine;
import org.emberdl.spark.internal.plan.TaskKind;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One partition's training rows, converted once on its executor and cached by Spark's block manager
 * across every round and epoch: features row-major in one {@code float[]}, labels in another, and
 * the held-out validation rows beside them.
 *
 * <p>Why heap arrays in the block manager rather than off-heap Arrow buffers in an executor-side
 * map: Spark then owns eviction, spilling and, after an executor is lost, recomputation from
 * lineage, with no release protocol of our own; and each step gathers its shuffled mini-batch into
 * a fresh off-heap array anyway, so the cache's own layout costs no extra copy.
 *
 * <p>A training-stage task, which lives for a whole epoch, copies its training rows once into
 * off-heap Arrow columns in its own child allocator ({@link #arrowFed}) and gathers every step's
 * batch from there. The cached heap form stays the source of truth: a retried or recomputed task
 * rebuilds its Arrow copy from it, and the Arrow copy holds the same floats, so batches and weights
 * are bit-identical either way. Caching the Arrow form itself would need a serialized form in the
 * block manager (Spark cannot hold foreign off-heap buffers) and the same copy out of it.
 */
public final class PartitionData implements Serializable {
  private static final long serialVersionUID = 1L;
  private static final Logger LOG = LoggerFactory.getLogger(PartitionData.class);

  final int dim;
  public final float[] trainX;
  public final float[] trainY;
  public final int trainRows;
  public final float[] validX;
  public final float[] validY;
  public final int validRows;
  public final long skipped;

  /**
   * The federated clients whose rows this partition holds, ascending: their dense indices (see
   * {@code clientIdCol}), or just this partition's index when the partitions are the clients.
   */
  public final int[] clients;

  /**
   * {@code clientRows[k]}: the training rows (indices into trainX/trainY) of {@code clients[k]}.
   */
  public final int[][] clientRows;

  /** The running task's off-heap copy of the training rows, or null (see {@link #arrowFed}). */
  private final transient ArrowRows arrow;

  private PartitionData(
      Rows train, Rows valid, int dim, long skipped, int[] clients, int[][] clientRows) {
    this.dim = dim;
    this.trainX = train.x();
    this.trainY = train.y();
    this.trainRows = train.count;
    this.validX = valid.x();
    this.validY = valid.y();
    this.validRows = valid.count;
    this.skipped = skipped;
    this.clients = clients;
    this.clientRows = clientRows;
    this.arrow = null;
  }

  private PartitionData(PartitionData d, ArrowRows arrow) {
    this.dim = d.dim;
    this.trainX = d.trainX;
    this.trainY = d.trainY;
    this.trainRows = d.trainRows;
    this.validX = d.validX;
    this.validY = d.validY;
    this.validRows = d.validRows;
    this.skipped = d.skipped;
    this.clients = d.clients;
    this.clientRows = d.clientRows;
    this.arrow = arrow;
  }

  /** The training rows as steps gather them: the task's Arrow copy when it has one. */
  public TrainRows train() {
    return arrow != null ? arrow : new HeapRows(trainX, trainY, trainRows, dim);
  }

  /** The held-out rows. */
  public TrainRows validation() {
    return new HeapRows(validX, validY, validRows, dim);
  }

  /** The task's Arrow copy of the training rows, or null. */
  ArrowRows arrowRows() {
    return arrow;
  }

  /**
   * This partition with its training rows copied once into off-heap Arrow columns in a new child
   * allocator of the executor's Ember budget, freed when the running task completes (or fails). The
   * cached object itself is left as it is.
   *
   * @throws IllegalStateException naming the partition, its size and the budget when the rows do
   *     not fit the executor's {@code spark.ember.memoryLimit}
   */
  public PartitionData arrowFed() {
    return arrowFed(null);
  }

  /**
   * {@link #arrowFed()}, keeping the copy for the next task of run {@code runKey} on this partition
   * when this task succeeds: a fit's epochs each run one stage over the same cached partitions, and
   * each stage's task takes the copy its predecessor on this executor kept (if the cached partition
   * is still this object) instead of copying again. {@code ExecutorEngine.release(runKey)}, at the
   * end of the fit, frees what is kept; kept copies take at most half the executor's budget ({@code
   * ExecutorEngine.keepRows}) and are all freed when a task's own copy does not fit. A failed task
   * frees its copy.
   *
   * @param runKey the fit's run key, or null to free the copy when the task ends
   */
  public PartitionData arrowFed(String runKey) {
    TaskContext task = TaskContext.get();
    if (task == null) {
      // Without a task nothing would free the copy; only a task's lifetime bounds it.
      throw new IllegalStateException("a partition is fed from Arrow only inside a Spark task");
    }
    ExecutorEngine engine = ExecutorEngine.get();
    int partition = task.partitionId();
    ArrowRows rows = runKey == null ? null : (ArrowRows) engine.takeRows(runKey, partition, this);
    if (rows == null) {
      String name = "ember-task-" + task.taskAttemptId() + "-partition-" + partition;
      try {
        rows = arrowFed(engine.newTaskAllocator(name), engine, partition);
      } catch (IllegalStateException overBudget) {
        // The running tasks come first: free what earlier epochs kept, and try once more.
        if (engine.dropKeptRows() == 0) {
          throw overBudget;
        }
        rows = arrowFed(engine.newTaskAllocator(name), engine, partition);
      }
    }
    ArrowRows taken = rows;
    boolean[] failed = {false};
    task.addTaskFailureListener(
        (org.apache.spark.util.TaskFailureListener) (ctx, error) -> failed[0] = true);
    task.addTaskCompletionListener(
        (org.apache.spark.util.TaskCompletionListener)
            ctx -> {
              if (runKey == null || failed[0]) {
                taken.close();
              } else {
                engine.keepRows(
                    runKey, partition, this, taken, taken.allocator().getAllocatedMemory());
              }
            });
    return new PartitionData(this, rows);
  }

  /** The Arrow copy of the training rows in {@code allocator}, which it owns from now on. */
  public ArrowRows arrowFed(BufferAllocator allocator, ExecutorEngine engine, int partition) {
    long start = System.nanoTime();
    ArrowRows rows;
    try {
      rows = ArrowRows.copyOf(trainX, trainY, trainRows, dim, allocator);
    } catch (OutOfMemoryException e) {
      throw engine.partitionOverBudget(partition, trainRows, dim, e);
    }
    LOG.debug(
        "partition {}: {} training rows copied to Arrow buffers ({} MiB) in {} ms",
        partition,
        trainRows,
        (4L * trainRows * (dim + 1)) >> 20,
        (System.nanoTime() - start) / 1_000_000);
    return rows;
  }

  /**
   * How a partition's rows become training data.
   *
   * @param features the features column, at ordinal 0 of every row
   * @param labelCol the label column's name (a double at ordinal 1), for messages
   * @param validationFraction the share of rows held out, chosen by a hash of (seed, partition,
   *     row) so the split does not depend on the executor or a retry
   * @param skipInvalid drop invalid rows instead of failing
   * @param clientOrdinal the ordinal of an int column holding each row's dense client index, or -1
   *     when the partition is one client
   */
  public record RowSpec(
      FeatureColumn features,
      String labelCol,
      TaskKind kind,
      int numClasses,
      double validationFraction,
      long seed,
      boolean skipInvalid,
      int clientOrdinal)
      implements Serializable {}

  /**
   * Reads partition {@code partition} of {@code (features, label)} rows.
   *
   * @throws IllegalArgumentException for an invalid row when not skipping, naming the column, the
   *     partition and the row
   */
  public static PartitionData read(Iterator<InternalRow> rows, RowSpec spec, int partition) {
    return read(RowCursor.rows(rows, spec.features(), 0), spec, partition);
  }

  /**
   * Reads the partitions of {@code selected} ({@code features, label} and, with clients, a dense
   * client index) on the executors: from the columnar batches of Spark's vectorized reader when the
   * plan is a bare columnar scan of an {@code array<float>}/{@code array<double>} features column,
   * else from Catalyst rows. Both give the same rows in the same order.
   */
  public static JavaRDD<PartitionData> readAll(Dataset<Row> selected, RowSpec spec) {
    FeatureColumn features = spec.features();
    SparkInternals.Columnar columnar =
        features.readsColumnar() ? SparkInternals.columnar(selected) : null;
    if (columnar != null) {
      int[] ordinals = columnar.ordinals();
      return columnar
          .batches()
          .toJavaRDD()
          .mapPartitionsWithIndex(
              (partition, it) ->
                  single(read(RowCursor.batches(it, features, ordinals, 0), spec, partition)),
              true);
    }
    return SparkInternals.internalRows(selected)
        .toJavaRDD()
        .mapPartitionsWithIndex(
            (partition, it) -> single(read(RowCursor.rows(it, features, 0), spec, partition)),
            true);
  }

  private static Iterator<PartitionData> single(PartitionData data) {
    return Collections.singletonList(data).iterator();
  }

  private static PartitionData read(RowCursor rows, RowSpec spec, int partition) {
    FeatureColumn features = spec.features();
    double validationFraction = spec.validationFraction();
    long seed = spec.seed();
    int clientOrdinal = spec.clientOrdinal();
    int dim = features.size();
    Rows train = new Rows(dim);
    int[] clientOfRow = new int[64];
    Rows valid = new Rows(dim);
    long index = 0;
    long skipped = 0;
    while (rows.hasNext()) {
      rows.advance();
      long at = index++;
      boolean toValid = validationFraction > 0 && uniform(seed, partition, at) < validationFraction;
      Rows target = toValid ? valid : train;
      target.ensureRoom();
      String problem = rows.copyFeatures(target.x, target.count * dim);
      if (problem != null) {
        if (spec.skipInvalid()) {
          skipped++;
          continue;
        }
        throw new IllegalArgumentException(features.invalidRow(problem, partition, at));
      }
      String badLabel =
          rows.isNullAt(1) ? "null" : checkLabel(rows.getDouble(1), spec.kind(), spec.numClasses());
      if (badLabel != null) {
        if (spec.skipInvalid()) {
          skipped++;
          continue;
        }
        throw new IllegalArgumentException(
            "invalid label in column '"
                + spec.labelCol()
                + "' at row "
                + at
                + " of partition "
                + partition
                + ": "
                + badLabel);
      }
      if (!toValid && clientOrdinal >= 0) {
        if (clientOfRow.length == target.count) {
          clientOfRow = Arrays.copyOf(clientOfRow, target.y.length);
        }
        clientOfRow[target.count] = rows.getInt(clientOrdinal);
      }
      target.y[target.count++] = (float) rows.getDouble(1);
    }
    if (clientOrdinal < 0) {
      int[] all = new int[train.count];
      for (int i = 0; i < all.length; i++) {
        all[i] = i;
      }
      return new PartitionData(
          train, valid, dim, skipped, new int[] {partition}, new int[][] {all});
    }
    return groupByClient(train, valid, dim, skipped, Arrays.copyOf(clientOfRow, train.count));
  }

  /**
   * Groups the training rows by client index, clients ascending, and puts each client's rows in a
   * canonical order: by a 64-bit hash of their contents. Rows reach a partition through a shuffle,
   * whose order varies with the cluster and between a task and its retry; ordering by content makes
   * a client's training depend only on its rows, not on how they arrived.
   */
  private static PartitionData groupByClient(
      Rows train, Rows valid, int dim, long skipped, int[] clientOfRow) {
    int[] ids = Arrays.stream(clientOfRow).distinct().sorted().toArray();
    int[] counts = new int[ids.length];
    int[] slot = new int[clientOfRow.length];
    for (int i = 0; i < clientOfRow.length; i++) {
      slot[i] = Arrays.binarySearch(ids, clientOfRow[i]);
      counts[slot[i]]++;
    }
    int[][] rows = new int[ids.length][];
    for (int k = 0; k < ids.length; k++) {
      rows[k] = new int[counts[k]];
      counts[k] = 0;
    }
    for (int i = 0; i < clientOfRow.length; i++) {
      rows[slot[i]][counts[slot[i]]++] = i;
    }
    for (int[] r : rows) {
      sortByContent(r, train, dim);
    }
    return new PartitionData(train, valid, dim, skipped, ids, rows);
  }

  /**
   * Sorts row indices by a hash of each row's features and label. The hash's top bits carry the
   * order and the low bits the row's position, which only breaks ties between rows whose top bits
   * agree (identical rows, whose order does not matter, or a 2^-40-per-pair collision).
   */
  private static void sortByContent(int[] rows, Rows train, int dim) {
    int positionBits = 64 - Long.numberOfLeadingZeros(Math.max(1, rows.length - 1));
    long positionMask = (1L << positionBits) - 1;
    long[] keys = new long[rows.length];
    for (int i = 0; i < rows.length; i++) {
      long h = mix(Float.floatToRawIntBits(train.y[rows[i]]));
      int base = rows[i] * dim;
      for (int j = 0; j < dim; j++) {
        h = mix(h + Float.floatToRawIntBits(train.x[base + j]));
      }
      // flip the sign bit so that unsigned hash order is signed long order
      keys[i] = ((h ^ Long.MIN_VALUE) & ~positionMask) | i;
    }
    Arrays.sort(keys);
    int[] sorted = new int[rows.length];
    for (int i = 0; i < keys.length; i++) {
      sorted[i] = rows[(int) (keys[i] & positionMask)];
    }
    System.arraycopy(sorted, 0, rows, 0, rows.length);
  }

  private static String checkLabel(double label, TaskKind kind, int numClasses) {
    if (kind == TaskKind.CLASSIFICATION) {
      if (label != Math.rint(label) || label < 0 || label >= numClasses) {
        return label + " is not a class index in [0, " + numClasses + ")";
      }
    } else if (!Double.isFinite(label)) {
      return label + " is not finite";
    }
    return null;
  }

  /** A uniform double in [0, 1) from (seed, partition, row) by SplitMix64 finalizers. */
  static double uniform(long seed, int partition, long row) {
    long z = mix(mix(seed ^ 0x9E3779B97F4A7C15L) + partition) + row;
    return (mix(z) >>> 11) * 0x1.0p-53;
  }

  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  /** A growing row buffer. */
  private static final class Rows {
    final int dim;
    float[] x;
    float[] y;
    int count;

    Rows(int dim) {
      this.dim = dim;
      this.x = new float[dim * 64];
      this.y = new float[64];
    }

    void ensureRoom() {
      if (count == y.length) {
        int capacity = (int) Math.min((long) y.length * 2, Integer.MAX_VALUE / Math.max(1, dim));
        if (capacity <= count) {
          throw new IllegalStateException(
              "a partition holds more than "
                  + count
                  + " rows of "
                  + dim
                  + " features; "
                  + "use more partitions");
        }
        x = Arrays.copyOf(x, capacity * dim);
        y = Arrays.copyOf(y, capacity);
      }
    }

    float[] x() {
      return Arrays.copyOf(x, count * dim);
    }

    float[] y() {
      return Arrays.copyOf(y, count);
    }
  }
}
