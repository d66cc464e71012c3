package org.emberdl.arrow;

import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.vector.FieldVector;
import org.emberdl.tensor.NDArray;

/** Scalar columns side by side as {@code [N, C]}: the one import that always copies. */
final class ColumnStack {
  private ColumnStack() {}

  /**
   * @param fill the value for nulls, or null to reject them
   */
  static NDArray copy(List<? extends FieldVector> columns, Double fill) {
    if (columns.isEmpty()) {
      throw new IllegalArgumentException("copyColumns needs at least one column");
    }
    String firstName = columns.get(0).getName();
    int rows = columns.get(0).getValueCount();
    List<NDArray> parts = new ArrayList<>(columns.size());
    try {
      for (FieldVector v : columns) {
        Column c = Column.of(v);
        if (c.kind != Column.Kind.SCALAR) {
          throw ArrowImportException.column(
              c.name, "is a list; copyColumns stacks scalar columns (wrap a list column instead)");
        }
        if (c.rows != rows) {
          throw ArrowImportException.column(
              c.name, "has " + c.rows + " rows but column '" + firstName + "' has " + rows);
        }
        parts.add(part(v, fill));
      }
      // stack copies each part into its strided column of the result, converting dtypes.
      return NDArray.stack(1, parts.toArray(new NDArray[0]));
    } finally {
      parts.forEach(NDArray::close);
    }
  }

  /** One column as [N]: a view when possible, so the stacking copy is the only one. */
  private static NDArray part(FieldVector v, Double fill) {
    if (fill != null) {
      return FillingImport.copy(v, -1, fill);
    }
    VectorImport.Plan p = VectorImport.plan(v, -1, NullCheck.SCAN);
    return VectorImport.isAligned(p) ? VectorImport.share(p) : VectorImport.copy(p);
  }
}
