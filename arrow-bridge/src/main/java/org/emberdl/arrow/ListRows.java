package org.emberdl.arrow;

import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.complex.BaseRepeatedValueVector;
import org.apache.arrow.vector.complex.ListVector;

/**
 * The offsets of a {@link ListVector} column, read once to prove that every row has the same length
 * {@code D}; then row {@code i} is values {@code [first + i * D, first + (i + 1) * D)} and the
 * column can be viewed as {@code [N, D]} without copying.
 */
final class ListRows {
  private static final int OFFSET_WIDTH = BaseRepeatedValueVector.OFFSET_WIDTH;

  private final Column column;
  private final ArrowBuf offsets;

  ListRows(Column column) {
    this.column = column;
    this.offsets = ((ListVector) column.vector).getOffsetBuffer();
    long needed = (column.rows + 1L) * OFFSET_WIDTH;
    if (column.rows > 0 && offsets.capacity() < needed) {
      throw ArrowImportException.column(
          column.name,
          "offset buffer has "
              + offsets.capacity()
              + " bytes but "
              + column.rows
              + " rows need "
              + needed);
    }
  }

  /** Where row {@code row} starts among the child's values ({@code row == N} gives the end). */
  int start(int row) {
    return offsets.getInt((long) row * OFFSET_WIDTH);
  }

  int length(int row) {
    return start(row + 1) - start(row);
  }

  /**
   * Checks that every row has {@code width} values ({@code width < 0}: as many as row 0) and
   * returns that width. A row of another length is an error naming it; a null row found that way is
   * reported as null, which is what it is (null rows usually have length 0).
   */
  int uniformWidth(int width) {
    int rows = column.rows;
    if (rows == 0) {
      return Math.max(width, 0);
    }
    boolean inferred = width < 0;
    if (inferred && column.rowIsNull(0)) {
      throw column.nullRow(0);
    }
    int d = inferred ? length(0) : width;
    int prev = start(0);
    for (int i = 0; i < rows; i++) {
      int next = start(i + 1);
      if (next - prev != d) {
        if (column.rowIsNull(i)) {
          throw column.nullRow(i);
        }
        throw ArrowImportException.row(
            column.name,
            i,
            "has "
                + (next - prev)
                + " values, expected "
                + d
                + (inferred ? " (as row 0)" : "")
                + ": a List column becomes [N, D] only when every row has D values");
      }
      prev = next;
    }
    return d;
  }
}
