package org.emberdl.spark.internal.data;

import java.util.Iterator;
import java.util.NoSuchElementException;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.vectorized.ColumnVector;
import org.apache.spark.sql.vectorized.ColumnarBatch;
import org.emberdl.spark.internal.infer.BatchInference;

/**
 * One partition's rows, one at a time, whether Spark hands them over as Catalyst rows or as the
 * columnar batches of its vectorized reader ({@link SparkInternals#columnar}): the features of the
 * current row copied into a float buffer with {@link FeatureColumn}'s checks, its scalar columns,
 * and the whole row to hand on. Readers ({@link PartitionData}, {@link BatchInference}) number rows
 * and apply {@code handleInvalid} the same way over either, so both give the same rows, values and
 * messages.
 *
 * <p>The current row (and, columnar, its batch) is only valid until {@link #hasNext} or {@link
 * #advance} is called again: Spark reuses both.
 */
public abstract class RowCursor {
  final FeatureColumn features;

  RowCursor(FeatureColumn features) {
    this.features = features;
  }

  /** The message of an invalid row's error ({@link FeatureColumn#invalidRow}). */
  public String invalidRow(String problem, int partition, long rowInPartition) {
    return features.invalidRow(problem, partition, rowInPartition);
  }

  /** Whether there is a row after the current one. */
  public abstract boolean hasNext();

  /** Moves to the next row. */
  public abstract void advance();

  /**
   * The current row's features into {@code dst[offset, offset + size)}; null when valid, else the
   * problem ({@link FeatureColumn#copy(InternalRow, int, float[], int)}).
   */
  public abstract String copyFeatures(float[] dst, int offset);

  abstract boolean isNullAt(int ordinal);

  abstract double getDouble(int ordinal);

  abstract int getInt(int ordinal);

  /**
   * The current row to hand on: from rows a copy (Spark reuses its row objects), from columnar
   * batches a view of the batch's vectors (no copy), valid until the cursor moves on from the last
   * row of the batch ({@link #lastInBatch}); {@code copy()} it to keep it longer.
   */
  public abstract InternalRow keepRow();

  /**
   * As {@link #keepRow}, for a row whose features {@link #copyFeatures} just wrote, valid, into
   * {@code features[offset, offset + size)}: a columnar {@code array<float>} row hands on those
   * floats (the same values, bit for bit) so that Spark copies them instead of decoding the column
   * a second time.
   */
  public InternalRow keepValidRow(float[] features, int offset) {
    return keepRow();
  }

  /**
   * Whether the current row is the last of its columnar batch, so that the next {@link #hasNext}
   * lets the reader refill the vectors that rows kept from this batch view. Always false over rows,
   * whose kept copies stay valid.
   */
  public abstract boolean lastInBatch();

  /** A cursor over Catalyst rows with the features at {@code featureOrdinal}. */
  public static RowCursor rows(
      Iterator<InternalRow> rows, FeatureColumn features, int featureOrdinal) {
    return new Rows(rows, features, featureOrdinal);
  }

  /**
   * A cursor over columnar batches whose column {@code ordinals[k]} is the DataFrame's column
   * {@code k}; the features are the DataFrame's column {@code featureOrdinal}.
   */
  public static RowCursor batches(
      Iterator<ColumnarBatch> batches, FeatureColumn features, int[] ordinals, int featureOrdinal) {
    return new Batches(batches, features, ordinals, featureOrdinal);
  }

  private static final class Rows extends RowCursor {
    private final Iterator<InternalRow> rows;
    private final int featureOrdinal;
    private InternalRow row;

    Rows(Iterator<InternalRow> rows, FeatureColumn features, int featureOrdinal) {
      super(features);
      this.rows = rows;
      this.featureOrdinal = featureOrdinal;
    }

    @Override
    public boolean hasNext() {
      return rows.hasNext();
    }

    @Override
    public void advance() {
      row = rows.next();
    }

    @Override
    public String copyFeatures(float[] dst, int offset) {
      return features.copy(row, featureOrdinal, dst, offset);
    }

    @Override
    boolean isNullAt(int ordinal) {
      return row.isNullAt(ordinal);
    }

    @Override
    double getDouble(int ordinal) {
      return row.getDouble(ordinal);
    }

    @Override
    int getInt(int ordinal) {
      return row.getInt(ordinal);
    }

    @Override
    public InternalRow keepRow() {
      return row.copy();
    }

    @Override
    public boolean lastInBatch() {
      return false;
    }
  }

  private static final class Batches extends RowCursor {
    private final Iterator<ColumnarBatch> batches;
    private final int[] ordinals;
    private final int featureColumn;
    private final int featureOrdinal;
    private ColumnarBatch batch;
    private ColumnVector[] columns;
    private int rowId;

    Batches(
        Iterator<ColumnarBatch> batches,
        FeatureColumn features,
        int[] ordinals,
        int featureOrdinal) {
      super(features);
      if (!features.readsColumnar()) {
        throw new IllegalArgumentException(
            "features column '" + features.name() + "' is not read from columnar batches");
      }
      this.batches = batches;
      this.ordinals = ordinals.clone();
      this.featureColumn = ordinals[featureOrdinal];
      this.featureOrdinal = featureOrdinal;
    }

    @Override
    public boolean hasNext() {
      while (batch == null || rowId + 1 >= batch.numRows()) {
        if (!batches.hasNext()) {
          return false;
        }
        batch = batches.next(); // the reader may reuse the previous batch's vectors
        columns = SparkInternals.columns(batch);
        rowId = -1;
      }
      return true;
    }

    @Override
    public void advance() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      rowId++;
    }

    @Override
    public String copyFeatures(float[] dst, int offset) {
      return features.copy(batch.column(featureColumn), rowId, dst, offset);
    }

    @Override
    boolean isNullAt(int ordinal) {
      return batch.column(ordinals[ordinal]).isNullAt(rowId);
    }

    @Override
    double getDouble(int ordinal) {
      return batch.column(ordinals[ordinal]).getDouble(rowId);
    }

    @Override
    int getInt(int ordinal) {
      return batch.column(ordinals[ordinal]).getInt(rowId);
    }

    @Override
    public InternalRow keepRow() {
      return SparkInternals.rowView(columns, rowId);
    }

    @Override
    public InternalRow keepValidRow(float[] values, int offset) {
      InternalRow view = keepRow();
      if (!features.isFloatArray()) {
        return view; // an array<double> column's values are not the floats
      }
      return SparkInternals.withFloatArray(view, featureOrdinal, values, offset, features.size());
    }

    @Override
    public boolean lastInBatch() {
      return batch != null && rowId + 1 >= batch.numRows();
    }
  }
}
