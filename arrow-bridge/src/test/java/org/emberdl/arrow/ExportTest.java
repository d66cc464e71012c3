package org.emberdl.arrow;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;

/** Export hands an array's storage to a vector; Arrow's own getters read it back. */
class ExportTest extends ArrowTestBase {

  @Test
  void oneDimensionalArraysBecomeScalarVectors() {
    try (NDArray f = NDArray.of(new float[] {1.5f, -2});
        NDArray d = NDArray.of(new double[] {3.25});
        NDArray i = NDArray.of(new int[] {7, 8, 9});
        NDArray l = NDArray.of(new long[] {Long.MAX_VALUE});
        FieldVector fv = ArrowTensors.export(f, "f", arrow);
        FieldVector dv = ArrowTensors.export(d, "d", arrow);
        FieldVector iv = ArrowTensors.export(i, "i", arrow);
        FieldVector lv = ArrowTensors.export(l, "l", arrow)) {
      assertEquals(-2f, assertInstanceOf(Float4Vector.class, fv).get(1));
      assertEquals(3.25, assertInstanceOf(Float8Vector.class, dv).get(0));
      assertEquals(9, assertInstanceOf(IntVector.class, iv).get(2));
      assertEquals(Long.MAX_VALUE, assertInstanceOf(BigIntVector.class, lv).get(0));
      assertEquals(f.storage().address(), fv.getDataBuffer().memoryAddress());
      assertEquals(0, fv.getNullCount());
      assertEquals(2, fv.getValueCount());
      assertFalse(fv.getField().isNullable());
    }
  }

  @Test
  void twoDimensionalArrayBecomesFixedSizeList() {
    try (NDArray a = NDArray.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        FieldVector v = ArrowTensors.export(a, "pred", arrow)) {
      FixedSizeListVector list = assertInstanceOf(FixedSizeListVector.class, v);
      assertEquals(3, list.getListSize());
      assertEquals(2, list.getValueCount());
      assertEquals(List.of(4f, 5f, 6f), list.getObject(1));
      assertEquals(a.storage().address(), list.getDataVector().getDataBuffer().memoryAddress());
      assertEquals(0, list.getNullCount());
      assertEquals(0, list.getDataVector().getNullCount());
    }
  }

  @Test
  void writesGoBothWays() {
    try (NDArray a = NDArray.of(new float[] {1, 2, 3});
        Float4Vector v = (Float4Vector) ArrowTensors.export(a, "x", arrow)) {
      a.mulInPlace(10);
      assertEquals(20f, v.get(1));
      v.set(0, -1f);
      assertEquals(-1f, a.toFloatArray()[0]);
    }
  }

  @Test
  void aContiguousViewExportsFromItsOffset() {
    try (NDArray a = NDArray.of(Vectors.iota(12), 4, 3);
        NDArray rows = a.narrow(0, 1, 2); // rows 1 and 2, contiguous, offset 3
        FixedSizeListVector v = (FixedSizeListVector) ArrowTensors.export(rows, "x", arrow)) {
      assertEquals(
          a.storage().address() + 3 * 4, v.getDataVector().getDataBuffer().memoryAddress());
      assertEquals(List.of(3f, 4f, 5f), v.getObject(0));
      assertEquals(List.of(6f, 7f, 8f), v.getObject(1));
    }
  }

  @Test
  void arraysThatHaveNoZeroCopyFormAreRejected() {
    try (NDArray a = NDArray.of(Vectors.iota(6), 2, 3);
        NDArray t = a.t();
        NDArray b = NDArray.of(new boolean[] {true});
        NDArray c = NDArray.zeros(DType.FLOAT32, 2, 2, 2);
        NDArray closed = NDArray.of(new float[] {1})) {
      closed.close();
      assertTrue(message(t).contains("not contiguous"));
      assertTrue(message(b).contains("bool"));
      assertTrue(message(c).contains("3 dims"));
      assertThrows(IllegalStateException.class, () -> ArrowTensors.export(closed, "x", arrow));
    }
  }

  @Test
  void emptyArraysExportAsEmptyVectors() {
    try (NDArray a = NDArray.zeros(DType.FLOAT32, 0, 784);
        NDArray b = NDArray.zeros(DType.INT64, 0);
        FixedSizeListVector v = (FixedSizeListVector) ArrowTensors.export(a, "x", arrow);
        FieldVector w = ArrowTensors.export(b, "y", arrow)) {
      assertEquals(0, v.getValueCount());
      assertEquals(784, v.getListSize());
      assertEquals(0, w.getValueCount());
    }
  }

  @Test
  void arraysBecomeARecordBatch() {
    Map<String, NDArray> cols = new LinkedHashMap<>();
    try (NDArray x = NDArray.of(Vectors.iota(6), 3, 2);
        NDArray y = NDArray.of(new long[] {0, 1, 0})) {
      cols.put("x", x);
      cols.put("y", y);
      try (VectorSchemaRoot root = ArrowTensors.export(cols, arrow)) {
        assertEquals(3, root.getRowCount());
        assertEquals("x", root.getSchema().getFields().get(0).getName());
        assertEquals(1L, ((BigIntVector) root.getVector("y")).get(1));
      }
      try (NDArray z = NDArray.of(new long[] {1})) {
        cols.put("z", z);
        IllegalArgumentException e =
            assertThrows(IllegalArgumentException.class, () -> ArrowTensors.export(cols, arrow));
        assertTrue(e.getMessage().contains("'z' has 1 rows"), e.getMessage());
      }
    }
  }

  private String message(NDArray a) {
    return assertThrows(IllegalArgumentException.class, () -> ArrowTensors.export(a, "x", arrow))
        .getMessage();
  }
}
