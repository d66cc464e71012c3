package org.emberdl.arrow;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Which columns of a record batch are the features and the labels, and how to import them:
 * immutable, built from {@link #features(String)} or {@link #featureColumns(String...)}.
 *
 * <pre>{@code
 * ArrowBatchSpec spec = ArrowBatchSpec.features("pixels").width(784).labels("label");
 * }</pre>
 *
 * <p>One feature column may be a FixedSizeList or List column (viewed as {@code [N, D]} without
 * copying) or a scalar column ({@code [N, 1]}, also a view). Several feature columns must be
 * scalars and are copied side by side into {@code [N, C]}. Labels are one scalar column.
 */
public final class ArrowBatchSpec {
  private final List<String> featureColumns;
  private final int width;
  private final String labelColumn;
  private final NullCheck nulls;
  private final Double nullFill;

  private ArrowBatchSpec(
      List<String> featureColumns, int width, String labelColumn, NullCheck nulls, Double fill) {
    this.featureColumns = List.copyOf(featureColumns);
    this.width = width;
    this.labelColumn = labelColumn;
    this.nulls = nulls;
    this.nullFill = fill;
  }

  /** Features from one column: a list column, or a scalar column (one feature). */
  public static ArrowBatchSpec features(String column) {
    return new ArrowBatchSpec(List.of(column), -1, null, NullCheck.SCAN, null);
  }

  /** Features from several scalar columns, copied into {@code [N, columns.length]}. */
  public static ArrowBatchSpec featureColumns(String... columns) {
    if (columns.length == 0) {
      throw new IllegalArgumentException("featureColumns needs at least one column");
    }
    return new ArrowBatchSpec(List.of(columns), -1, null, NullCheck.SCAN, null);
  }

  /** Requires {@code width} features per row (checked against the schema and the data). */
  public ArrowBatchSpec width(int width) {
    if (width < 0) {
      throw new IllegalArgumentException("width must be >= 0, got " + width);
    }
    return new ArrowBatchSpec(featureColumns, width, labelColumn, nulls, nullFill);
  }

  /** Takes labels from the scalar column {@code column}. */
  public ArrowBatchSpec labels(String column) {
    return new ArrowBatchSpec(
        featureColumns, width, Objects.requireNonNull(column), nulls, nullFill);
  }

  /** Whether to scan for nulls ({@link NullCheck#SCAN} by default). */
  public ArrowBatchSpec nulls(NullCheck check) {
    return new ArrowBatchSpec(featureColumns, width, labelColumn, check, nullFill);
  }

  /** Replaces nulls by {@code value} instead of rejecting them; the batch's arrays are copies. */
  public ArrowBatchSpec fillNulls(double value) {
    return new ArrowBatchSpec(featureColumns, width, labelColumn, nulls, value);
  }

  public List<String> featureColumns() {
    return featureColumns;
  }

  /** The required features per row, or -1 for any. */
  public int width() {
    return width;
  }

  /** The label column, or null when the batch has no labels (inference). */
  public String labelColumn() {
    return labelColumn;
  }

  public NullCheck nullCheck() {
    return nulls;
  }

  /** The fill value for nulls, or null when nulls are rejected. */
  public Double nullFill() {
    return nullFill;
  }

  /**
   * Checks {@code schema} against this spec without touching data: every column present, of a type
   * Ember imports, the right kind (list or scalar) and width.
   *
   * @throws ArrowImportException listing every problem, and the schema's columns
   */
  public void validate(Schema schema) {
    List<String[]> problems = new ArrayList<>(); // {column, problem}
    boolean single = featureColumns.size() == 1;
    for (String name : featureColumns) {
      String p = problem(schema, name, single);
      if (p != null) {
        problems.add(new String[] {name, p});
      }
    }
    if (!single && width >= 0 && width != featureColumns.size()) {
      problems.add(
          new String[] {
            featureColumns.get(0),
            featureColumns.size()
                + " feature columns give "
                + featureColumns.size()
                + " features, expected "
                + width
          });
    }
    if (labelColumn != null) {
      String p = problem(schema, labelColumn, false);
      if (p != null) {
        problems.add(new String[] {labelColumn, p});
      }
    }
    if (!problems.isEmpty()) {
      String columns =
          schema.getFields().stream()
              .map(f -> f.getName() + ": " + f.getType())
              .collect(Collectors.joining(", "));
      String list =
          problems.stream()
              .map(p -> "column '" + p[0] + "' " + p[1])
              .collect(Collectors.joining("; "));
      throw new ArrowImportException(
          problems.get(0)[0],
          -1,
          "batch does not match " + this + ": " + list + " (schema: " + columns + ")");
    }
  }

  /** What is wrong with column {@code name} of {@code schema}, or null. */
  private String problem(Schema schema, String name, boolean listAllowed) {
    Field f =
        schema.getFields().stream().filter(x -> x.getName().equals(name)).findFirst().orElse(null);
    if (f == null) {
      return "is missing";
    }
    ArrowType t = f.getType();
    if (t instanceof ArrowType.FixedSizeList fsl) {
      if (!listAllowed) {
        return "is " + t + "; expected a scalar column";
      }
      if (!isScalar(f.getChildren().get(0).getType())) {
        return "is a list of " + f.getChildren().get(0).getType() + "; " + Column.SUPPORTED;
      }
      if (width >= 0 && fsl.getListSize() != width) {
        return "has " + fsl.getListSize() + " values per row, expected " + width;
      }
      return null;
    }
    if (t instanceof ArrowType.List) {
      if (!listAllowed) {
        return "is " + t + "; expected a scalar column";
      }
      ArrowType child = f.getChildren().get(0).getType();
      return isScalar(child) ? null : "is a list of " + child + "; " + Column.SUPPORTED;
    }
    if (!isScalar(t)) {
      return "is " + t + "; " + Column.SUPPORTED;
    }
    if (listAllowed && width >= 0 && width != 1) {
      return "is a scalar column (1 feature), expected " + width + " features per row";
    }
    return null;
  }

  /** Types that import as float32, float64, int32, int64. */
  static boolean isScalar(ArrowType t) {
    if (t instanceof ArrowType.FloatingPoint fp) {
      return fp.getPrecision() != FloatingPointPrecision.HALF;
    }
    return t instanceof ArrowType.Int i
        && i.getIsSigned()
        && (i.getBitWidth() == 32 || i.getBitWidth() == 64);
  }

  @Override
  public String toString() {
    return "ArrowBatchSpec(features "
        + featureColumns
        + (width >= 0 ? " width " + width : "")
        + (labelColumn != null ? ", labels " + labelColumn : "")
        + (nullFill != null ? ", nulls filled with " + nullFill : ", nulls " + nulls)
        + ")";
  }
}
