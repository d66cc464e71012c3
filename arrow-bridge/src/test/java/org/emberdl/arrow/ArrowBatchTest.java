package org.emberdl.arrow;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.complex.ListVector;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;

/** Features and labels by column name, and schema errors that say what is wrong. */
class ArrowBatchTest extends ArrowTestBase {
  private static final ArrowBatchSpec SPEC =
      ArrowBatchSpec.features("pixels").width(4).labels("label");

  @Test
  void featuresAndLabelsAreViewsOfTheirColumns() {
    try (FixedSizeListVector px = Vectors.fixedList(arrow, "pixels", 4, Vectors.iota(12));
        BigIntVector label = Vectors.int64(arrow, "label", 3, 1, 4);
        VectorSchemaRoot root = VectorSchemaRoot.of(px, label);
        ArrowBatch b = ArrowBatch.wrap(root, SPEC)) {
      assertEquals(3, b.size());
      assertArrayEquals(new int[] {3, 4}, b.features().shape());
      assertEquals(
          px.getDataVector().getDataBuffer().memoryAddress(), b.features().storage().address());
      assertEquals(label.getDataBuffer().memoryAddress(), b.labels().storage().address());
      assertArrayEquals(new long[] {3, 1, 4}, b.labels().toLongArray());
      assertEquals(DType.INT64, b.labels().dtype());
    }
  }

  @Test
  void theBatchOutlivesItsRoot() {
    ArrowBatch b;
    try (FixedSizeListVector px = Vectors.fixedList(arrow, "pixels", 4, Vectors.iota(8));
        BigIntVector label = Vectors.int64(arrow, "label", 0, 1);
        VectorSchemaRoot root = VectorSchemaRoot.of(px, label)) {
      b = ArrowBatch.wrap(root, SPEC);
    }
    try (b) {
      assertEquals(7f, b.features().toFloatArray()[7]);
      assertArrayEquals(new long[] {0, 1}, b.labels().toLongArray());
    }
  }

  @Test
  void schemaProblemsAreAllNamedWithTheSchema() {
    try (ListVector px = Vectors.list(arrow, "pixels", new float[] {1}, new float[] {2});
        VarCharVector label = new VarCharVector("label", arrow);
        VectorSchemaRoot root = VectorSchemaRoot.of(px, label)) {
      ArrowImportException e =
          assertThrows(
              ArrowImportException.class,
              () -> ArrowBatch.wrap(root, ArrowBatchSpec.features("image").labels("label")));
      assertEquals("image", e.column());
      String m = e.getMessage();
      assertTrue(m.contains("column 'image' is missing"), m);
      assertTrue(m.contains("column 'label' is Utf8"), m);
      assertTrue(m.contains("(schema: pixels: List, label: Utf8)"), m);
    }
  }

  @Test
  void aWidthMismatchIsCaughtFromTheSchemaAlone() {
    try (FixedSizeListVector px = Vectors.fixedList(arrow, "pixels", 3, Vectors.iota(6));
        VectorSchemaRoot root = VectorSchemaRoot.of(px)) {
      ArrowImportException e =
          assertThrows(
              ArrowImportException.class,
              () -> ArrowBatch.wrap(root, ArrowBatchSpec.features("pixels").width(784)));
      assertTrue(e.getMessage().contains("has 3 values per row, expected 784"), e.getMessage());
    }
  }

  @Test
  void aListColumnIsCheckedAgainstTheWidthRowByRow() {
    try (ListVector px =
            Vectors.list(arrow, "pixels", new float[] {1, 2, 3, 4}, new float[] {1, 2, 3});
        BigIntVector label = Vectors.int64(arrow, "label", 0, 1);
        VectorSchemaRoot root = VectorSchemaRoot.of(px, label)) {
      ArrowImportException e =
          assertThrows(ArrowImportException.class, () -> ArrowBatch.wrap(root, SPEC));
      assertEquals(1, e.row());
      assertTrue(e.getMessage().contains("has 3 values, expected 4"), e.getMessage());
    }
  }

  @Test
  void aLabelColumnMustBeScalarAndTheRightLength() {
    try (FixedSizeListVector px = Vectors.fixedList(arrow, "pixels", 4, Vectors.iota(8));
        FixedSizeListVector other = Vectors.fixedList(arrow, "label", 4, Vectors.iota(8));
        VectorSchemaRoot root = VectorSchemaRoot.of(px, other)) {
      ArrowImportException e =
          assertThrows(ArrowImportException.class, () -> ArrowBatch.wrap(root, SPEC));
      assertTrue(e.getMessage().contains("expected a scalar column"), e.getMessage());
    }
    try (FixedSizeListVector px = Vectors.fixedList(arrow, "pixels", 4, Vectors.iota(8));
        BigIntVector label = Vectors.int64(arrow, "label", 0, 1, 2);
        VectorSchemaRoot root = VectorSchemaRoot.of(px, label)) {
      root.setRowCount(2);
      label.setValueCount(3); // setRowCount made it 2; a producer bug makes it 3
      ArrowImportException e =
          assertThrows(ArrowImportException.class, () -> ArrowBatch.wrap(root, SPEC));
      assertEquals("label", e.column());
      assertTrue(e.getMessage().contains("has 3 values but the batch has 2 rows"), e.getMessage());
    }
  }

  @Test
  void scalarFeatureColumnsAreCopiedSideBySide() {
    try (Float4Vector a = Vectors.float4(arrow, "a", new float[] {1, 2});
        Float4Vector b = Vectors.float4(arrow, "b", new float[] {3, 4}, 1);
        VectorSchemaRoot root = VectorSchemaRoot.of(a, b);
        ArrowBatch one = ArrowBatch.wrap(root, ArrowBatchSpec.features("a"));
        ArrowBatch two =
            ArrowBatch.wrap(root, ArrowBatchSpec.featureColumns("a", "b").fillNulls(0))) {
      assertArrayEquals(new int[] {2, 1}, one.features().shape()); // one scalar: [N, 1], a view
      assertEquals(a.getDataBuffer().memoryAddress(), one.features().storage().address());
      assertFalse(one.hasLabels());
      assertThrows(IllegalStateException.class, one::labels);
      assertArrayEquals(new float[] {1, 3, 2, 0}, two.features().toFloatArray());
      ArrowImportException e =
          assertThrows(
              ArrowImportException.class,
              () -> ArrowBatch.wrap(root, ArrowBatchSpec.featureColumns("a", "b").width(3)));
      assertTrue(e.getMessage().contains("2 feature columns give 2 features, expected 3"));
      e =
          assertThrows(
              ArrowImportException.class,
              () -> ArrowBatch.wrap(root, ArrowBatchSpec.featureColumns("a", "b")));
      assertEquals("b", e.column());
      assertEquals(1, e.row());
    }
  }

  @Test
  void anEmptyBatchHasEmptyArraysOfTheRightShape() {
    try (FixedSizeListVector px = Vectors.fixedList(arrow, "pixels", 4, new float[0]);
        BigIntVector label = Vectors.int64(arrow, "label");
        VectorSchemaRoot root = VectorSchemaRoot.of(px, label);
        ArrowBatch b = ArrowBatch.wrap(root, SPEC)) {
      assertEquals(0, b.size());
      assertArrayEquals(new int[] {0, 4}, b.features().shape());
      assertArrayEquals(new int[] {0}, b.labels().shape());
    }
  }

  @Test
  void theSpecPrintsWhatItAsksFor() {
    assertEquals(
        "ArrowBatchSpec(features [pixels] width 4, labels label, nulls SCAN)", SPEC.toString());
    try (NDArray unused = NDArray.zeros(DType.FLOAT32, 1)) {
      assertEquals(-1, ArrowBatchSpec.features("x").width());
    }
  }
}
