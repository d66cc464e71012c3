package org.emberdl.arrow;

/**
 * An Arrow column that cannot become an array as asked: wrong type, a null, a ragged list row, a
 * misaligned or truncated buffer, or a schema that does not match. The message names the column
 * and, where one is at fault, the first bad row; {@link #column()} and {@link #row()} give them to
 * code that reports errors its own way (a Spark stage naming the DataFrame column).
 */
public final class ArrowImportException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  private final String column;
  private final long row;

  ArrowImportException(String column, long row, String message) {
    super(message);
    this.column = column;
    this.row = row;
  }

  /** An error about a whole column (its type, its buffers, its presence). */
  static ArrowImportException column(String column, String problem) {
    return new ArrowImportException(column, -1, "column '" + column + "': " + problem);
  }

  /** An error about one row of a column. */
  static ArrowImportException row(String column, long row, String problem) {
    return new ArrowImportException(
        column, row, "column '" + column + "', row " + row + ": " + problem);
  }

  /** The column at fault (the first one, when a schema has several problems). */
  public String column() {
    return column;
  }

  /** The first bad row, or -1 when the problem is not in one row. */
  public long row() {
    return row;
  }
}
