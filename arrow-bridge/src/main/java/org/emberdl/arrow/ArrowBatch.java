package org.emberdl.arrow;

import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.emberdl.tensor.NDArray;

/**
 * A record batch seen as training data: {@code features} {@code [N, D]} and, when the spec names
 * them, {@code labels} {@code [N]}, taken from a {@link VectorSchemaRoot} by column name. (Not to
 * be confused with {@code org.emberdl.data.Batch}, a mini-batch of a {@code DataLoader}.)
 *
 * <p>The arrays are zero-copy views of the root's buffers unless the spec asks for a copy (several
 * feature columns, or a null fill). They hold their own references, so the root may be closed,
 * cleared or reloaded while the batch is open; the batch owns the arrays and {@link #close()}
 * closes them ({@code share()} one to keep it longer). The root is never closed by the batch.
 */
public final class ArrowBatch implements AutoCloseable {
  private final NDArray features;
  private final NDArray labels;

  private ArrowBatch(NDArray features, NDArray labels) {
    this.features = features;
    this.labels = labels;
  }

  /**
   * Validates {@code root} against {@code spec} (schema first, then data) and imports its columns.
   *
   * @throws ArrowImportException naming the column (and row) at fault: a missing column, a wrong
   *     type or width, a column whose length is not the root's row count, a null, a ragged row
   */
  public static ArrowBatch wrap(VectorSchemaRoot root, ArrowBatchSpec spec) {
    spec.validate(root.getSchema());
    List<FieldVector> featureVectors = new ArrayList<>();
    for (String name : spec.featureColumns()) {
      featureVectors.add(vector(root, name));
    }
    FieldVector labelVector = spec.labelColumn() == null ? null : vector(root, spec.labelColumn());
    NDArray x = features(featureVectors, spec);
    try {
      NDArray y = labelVector == null ? null : column(labelVector, -1, spec);
      return new ArrowBatch(x, y);
    } catch (RuntimeException e) {
      x.close();
      throw e;
    }
  }

  /** {@code [N, D]}, owned by this batch. */
  public NDArray features() {
    return features;
  }

  /**
   * {@code [N]}, owned by this batch.
   *
   * @throws IllegalStateException when the spec named no label column
   */
  public NDArray labels() {
    if (labels == null) {
      throw new IllegalStateException("this batch has no labels: its spec names no label column");
    }
    return labels;
  }

  public boolean hasLabels() {
    return labels != null;
  }

  /** Number of rows, N. */
  public int size() {
    return features.shape(0);
  }

  /** Closes the arrays (not the root); idempotent. */
  @Override
  public void close() {
    try {
      features.close();
    } finally {
      if (labels != null) {
        labels.close();
      }
    }
  }

  private static FieldVector vector(VectorSchemaRoot root, String name) {
    FieldVector v = root.getVector(name);
    if (v.getValueCount() != root.getRowCount()) {
      // A root whose vectors disagree on length would silently pair the wrong rows.
      throw ArrowImportException.column(
          name,
          "has " + v.getValueCount() + " values but the batch has " + root.getRowCount() + " rows");
    }
    return v;
  }

  private static NDArray features(List<FieldVector> vectors, ArrowBatchSpec spec) {
    if (vectors.size() > 1) {
      return ColumnStack.copy(vectors, spec.nullFill());
    }
    NDArray x = column(vectors.get(0), spec.width(), spec);
    if (x.ndim() == 2) {
      return x;
    }
    try (x) {
      return x.unsqueeze(1); // one scalar feature column: [N] -> [N, 1], a view
    }
  }

  private static NDArray column(FieldVector v, int width, ArrowBatchSpec spec) {
    if (spec.nullFill() != null) {
      return FillingImport.copy(v, width, spec.nullFill());
    }
    return VectorImport.share(VectorImport.plan(v, width, spec.nullCheck()));
  }
}
