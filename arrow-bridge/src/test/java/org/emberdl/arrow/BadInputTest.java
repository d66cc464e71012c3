package org.emberdl.arrow;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float2Vector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.SmallIntVector;
import org.apache.arrow.vector.UInt4Vector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.complex.LargeListVector;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.complex.StructVector;
import org.apache.arrow.vector.ipc.message.ArrowFieldNode;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Every bad column is an error naming the column (and first bad row), never a crash. */
class BadInputTest extends ArrowTestBase {

  @Test
  void unsupportedTypesNameTheColumnAndTheType() {
    try (VarCharVector s = new VarCharVector("name", arrow);
        Float2Vector h = new Float2Vector("half", arrow);
        SmallIntVector i16 = new SmallIntVector("short", arrow);
        BitVector b = new BitVector("flag", arrow);
        UInt4Vector u = new UInt4Vector("unsigned", arrow);
        StructVector st = StructVector.empty("point", arrow);
        LargeListVector ll = LargeListVector.empty("big", arrow);
        ListVector ls = ListVector.empty("tags", arrow)) {
      ls.addOrGetVector(FieldType.nullable(ArrowType.Utf8.INSTANCE));
      for (FieldVector v : List.<FieldVector>of(s, h, i16, b, u, st, ll, ls)) {
        v.setValueCount(0);
        ArrowImportException e = wrapFails(v);
        assertEquals(v.getName(), e.column());
        assertTrue(e.getMessage().startsWith("column '" + v.getName() + "'"), e.getMessage());
        assertTrue(e.getMessage().contains("Ember imports float32"), e.getMessage());
      }
      assertTrue(wrapFails(s).getMessage().contains("Utf8"));
      assertTrue(wrapFails(ls).getMessage().contains("list of Utf8"));
    }
  }

  @Test
  void aNullNamesItsRowWhereverItIsInTheBitmap() {
    for (int at : new int[] {0, 7, 63, 64, 130, 199}) {
      try (Float4Vector v = Vectors.float4(arrow, "x", Vectors.iota(200), at, 199)) {
        ArrowImportException e = wrapFails(v);
        assertEquals(at, e.row());
        assertTrue(e.getMessage().startsWith("column 'x', row " + at + ": is null"));
      }
    }
  }

  @Test
  void nullsInsideListsNameRowAndValue() {
    try (FixedSizeListVector rows = Vectors.fixedList(arrow, "px", 3, Vectors.iota(12), 2);
        FixedSizeListVector values = Vectors.fixedList(arrow, "px", 3, Vectors.iota(12));
        ListVector list = Vectors.list(arrow, "emb", new float[] {1, 2}, null, new float[] {3, 4});
        ListVector inner = Vectors.list(arrow, "emb", new float[] {1, 2}, new float[] {3, 4})) {
      assertEquals(2, wrapFails(rows).row());
      values.getDataVector().setNull(5); // row 1, value 2
      ArrowImportException e = wrapFails(values);
      assertEquals(1, e.row());
      assertTrue(e.getMessage().contains("value 2 is null"), e.getMessage());
      // A null List row has length 0: it is reported as null, not as ragged.
      e = wrapFails(list);
      assertEquals(1, e.row());
      assertTrue(e.getMessage().contains("is null"), e.getMessage());
      assertEquals(1, wrapFails(list, NullCheck.SKIP).row());
      inner.getDataVector().setNull(3);
      assertEquals(1, wrapFails(inner).row());
    }
  }

  @Test
  void skippingTheNullCheckIsTheCallersPromise() {
    try (Float4Vector v = Vectors.float4(arrow, "x", new float[] {1, 2, 3}, 1);
        NDArray a = ArrowTensors.wrap(v, NullCheck.SKIP)) {
      // Arrow's setNull leaves the old value in place; SKIP reads the buffer as it is.
      assertArrayEquals(new float[] {1, 2, 3}, a.toFloatArray());
    }
  }

  @Test
  void raggedListNamesTheFirstBadRow() {
    try (ListVector v =
        Vectors.list(
            arrow,
            "emb",
            new float[] {1, 2, 3},
            new float[] {4, 5, 6},
            new float[] {7, 8},
            new float[] {9, 10, 11, 12})) {
      ArrowImportException e = wrapFails(v);
      assertEquals(2, e.row());
      assertTrue(e.getMessage().contains("has 2 values, expected 3 (as row 0)"), e.getMessage());
      assertEquals(
          2, assertThrows(ArrowImportException.class, () -> ArrowTensors.copy(v, 0)).row());
    }
  }

  @Test
  void offsetsPastTheChildAreRejected() {
    try (ListVector v = Vectors.list(arrow, "emb", new float[] {1, 2, 3}, new float[] {4, 5, 6})) {
      for (int i = 0; i <= 2; i++) {
        v.getOffsetBuffer().setInt(i * 4L, 100 + 3 * i); // uniform rows, but past the 6 values
      }
      ArrowImportException e = wrapFails(v);
      assertTrue(e.getMessage().contains("holds 6 values but the rows need values [100, 106)"));
    }
  }

  @Test
  void aDataBufferShorterThanTheValueCountIsRejected() {
    try (Float4Vector v = new Float4Vector("x", arrow);
        ArrowBuf small = arrow.buffer(16)) {
      v.loadFieldBuffers(new ArrowFieldNode(100, 0), List.of(arrow.getEmpty(), small));
      ArrowImportException e = wrapFails(v);
      assertTrue(
          e.getMessage().contains("data buffer has 16 bytes but 100 float32"), e.getMessage());
    }
  }

  @Test
  void aMisalignedBufferIsRejectedByWrapAndRealignedByCopy() {
    try (ArrowBuf raw = arrow.buffer(8 * 4 + 1);
        Float4Vector v = new Float4Vector("x", arrow)) {
      ArrowBuf shifted = raw.slice(1, 8 * 4); // shares raw's reference count
      for (int i = 0; i < 8; i++) {
        shifted.setFloat(i * 4L, i);
      }
      v.loadFieldBuffers(new ArrowFieldNode(8, 0), List.of(arrow.getEmpty(), shifted));
      assertTrue(wrapFails(v).getMessage().contains("is not aligned to 4 bytes"));
      try (NDArray copy = ArrowTensors.copy(v);
          NDArray filled = ArrowTensors.copy(v, -1);
          NDArray stacked = ArrowTensors.copyColumns(List.of(v, v))) {
        assertArrayEquals(Vectors.iota(8), copy.toFloatArray());
        assertArrayEquals(Vectors.iota(8), filled.toFloatArray());
        assertEquals(7f, stacked.toFloatArray()[15]);
        assertEquals(0, copy.storage().address() % 64, "copies land in Ember's aligned memory");
      }
    }
  }

  @Test
  void emptyColumnsGiveEmptyArrays() {
    try (Float4Vector s = Vectors.float4(arrow, "s", new float[0]);
        FixedSizeListVector f = Vectors.fixedList(arrow, "f", 784, new float[0]);
        ListVector l = Vectors.list(arrow, "l");
        NDArray a = ArrowTensors.wrap(s);
        NDArray b = ArrowTensors.wrap(f);
        NDArray c = ArrowTensors.wrap(l);
        NDArray d = ArrowTensors.copy(f, 0)) {
      assertArrayEquals(new int[] {0}, a.shape());
      assertArrayEquals(new int[] {0, 784}, b.shape());
      assertArrayEquals(new int[] {0, 0}, c.shape());
      assertArrayEquals(new int[] {0, 784}, d.shape());
    }
  }

  @Test
  void aFillValueReplacesEveryKindOfNullInACopy() {
    try (Float4Vector s = Vectors.float4(arrow, "s", new float[] {1, 2, 3}, 1);
        FixedSizeListVector f = Vectors.fixedList(arrow, "f", 2, Vectors.iota(6), 1);
        ListVector l = Vectors.list(arrow, "l", new float[] {1, 2}, null, new float[] {3, 4});
        NDArray a = ArrowTensors.copy(s, -1)) {
      f.getDataVector().setNull(4); // row 2, value 0
      l.getDataVector().setNull(3); // row 2, value 1
      try (NDArray b = ArrowTensors.copy(f, -1);
          NDArray c = ArrowTensors.copy(l, -1)) {
        assertArrayEquals(new float[] {1, -1, 3}, a.toFloatArray());
        assertArrayEquals(new float[] {0, 1, -1, -1, -1, 5}, b.toFloatArray());
        assertArrayEquals(new float[] {1, 2, -1, -1, 3, -1}, c.toFloatArray());
        assertTrue(s.getDataBuffer().memoryAddress() != a.storage().address(), "a copy");
        assertEquals(2f, s.getDataBuffer().getFloat(4), "the producer's buffer is untouched");
      }
    }
  }

  @Test
  void aFillAnIntegerColumnCannotHoldIsRejected() {
    try (org.apache.arrow.vector.IntVector v = Vectors.int32(arrow, "label", 1, 2, 3);
        NDArray ok = ArrowTensors.copy(v, -1)) {
      assertArrayEquals(new int[] {1, 2, 3}, ok.toIntArray());
      assertTrue(
          assertThrows(ArrowImportException.class, () -> ArrowTensors.copy(v, 0.5))
              .getMessage()
              .contains("fill value 0.5 is not a int32 value"));
      assertThrows(ArrowImportException.class, () -> ArrowTensors.copy(v, Double.NaN));
    }
  }

  @Test
  void aListOfOnlyNullRowsHasNoWidthToInfer() {
    try (ListVector l = Vectors.list(arrow, "l", null, null)) {
      assertTrue(
          assertThrows(ArrowImportException.class, () -> ArrowTensors.copy(l, 0))
              .getMessage()
              .contains("every row is null"));
    }
  }

  @Test
  void scalarColumnsAreCopiedSideBySide() {
    try (Float4Vector a = Vectors.float4(arrow, "a", new float[] {1, 2, 3});
        org.apache.arrow.vector.IntVector b = Vectors.int32(arrow, "b", 10, 20, 30);
        org.apache.arrow.vector.Float8Vector c = Vectors.float8(arrow, "c", 0.5, 0.25, 0.125);
        NDArray ab = ArrowTensors.copyColumns(List.of(a, b));
        NDArray ac = ArrowTensors.copyColumns(List.of(a, c))) {
      assertArrayEquals(new int[] {3, 2}, ab.shape());
      assertEquals(org.emberdl.tensor.DType.FLOAT32, ab.dtype()); // int32 with float32: float32
      assertArrayEquals(new float[] {1, 10, 2, 20, 3, 30}, ab.toFloatArray());
      assertEquals(org.emberdl.tensor.DType.FLOAT64, ac.dtype());
      assertArrayEquals(new double[] {1, 0.5, 2, 0.25, 3, 0.125}, ac.toDoubleArray());
    }
  }

  @Test
  void copyColumnsRejectsNullsListsAndUnequalLengths() {
    try (Float4Vector a = Vectors.float4(arrow, "a", new float[] {1, 2, 3}, 2);
        Float4Vector shortCol = Vectors.float4(arrow, "short", new float[] {1, 2});
        FixedSizeListVector list = Vectors.fixedList(arrow, "list", 1, new float[] {1, 2, 3});
        NDArray filled = ArrowTensors.copyColumns(List.of(a, a), 9)) {
      assertArrayEquals(new float[] {1, 1, 2, 2, 9, 9}, filled.toFloatArray());
      ArrowImportException e =
          assertThrows(ArrowImportException.class, () -> ArrowTensors.copyColumns(List.of(a)));
      assertEquals(2, e.row());
      e =
          assertThrows(
              ArrowImportException.class, () -> ArrowTensors.copyColumns(List.of(a, shortCol), 0));
      assertTrue(e.getMessage().contains("column 'short': has 2 rows but column 'a' has 3"));
      e =
          assertThrows(
              ArrowImportException.class, () -> ArrowTensors.copyColumns(List.of(a, list), 0));
      assertEquals("list", e.column());
      assertThrows(IllegalArgumentException.class, () -> ArrowTensors.copyColumns(List.of()));
    }
  }

  private static ArrowImportException wrapFails(FieldVector v) {
    return wrapFails(v, NullCheck.SCAN);
  }

  private static ArrowImportException wrapFails(FieldVector v, NullCheck nulls) {
    Executable wrap =
        () -> {
          try (NDArray a = ArrowTensors.wrap(v, nulls)) {
            throw new AssertionError("expected an error, got " + a);
          }
        };
    return assertThrows(ArrowImportException.class, wrap);
  }
}
