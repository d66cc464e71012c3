package org.emberdl.arrow;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.util.TransferPair;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;

/** Imports share the vector's data buffer: same address, and writes seen from both sides. */
class ZeroCopyImportTest extends ArrowTestBase {

  @Test
  void float4VectorIsViewedInPlace() {
    try (Float4Vector v = Vectors.float4(arrow, "x", new float[] {1, 2, 3, 4});
        NDArray a = ArrowTensors.wrap(v)) {
      assertEquals(DType.FLOAT32, a.dtype());
      assertArrayEquals(new int[] {4}, a.shape());
      assertEquals(v.getDataBuffer().memoryAddress(), a.storage().address());
      assertEquals(0, a.layout().offset());
      assertArrayEquals(new float[] {1, 2, 3, 4}, a.toFloatArray());

      v.set(2, 30f); // a write through Arrow is seen by the array
      assertEquals(30f, a.toFloatArray()[2]);
      a.mulInPlace(2); // and a write through the array is seen by Arrow
      assertEquals(60f, v.get(2));
      assertEquals(8f, v.get(3));
    }
  }

  @Test
  void eachScalarTypeKeepsItsDtype() {
    try (Float8Vector f8 = Vectors.float8(arrow, "f8", 1.5, -2.25);
        IntVector i32 = Vectors.int32(arrow, "i32", 7, -8, Integer.MAX_VALUE);
        BigIntVector i64 = Vectors.int64(arrow, "i64", Long.MIN_VALUE, 5);
        NDArray a = ArrowTensors.wrap(f8);
        NDArray b = ArrowTensors.wrap(i32);
        NDArray c = ArrowTensors.wrap(i64)) {
      assertEquals(DType.FLOAT64, a.dtype());
      assertArrayEquals(new double[] {1.5, -2.25}, a.toDoubleArray());
      assertEquals(DType.INT32, b.dtype());
      assertArrayEquals(new int[] {7, -8, Integer.MAX_VALUE}, b.toIntArray());
      assertEquals(DType.INT64, c.dtype());
      assertArrayEquals(new long[] {Long.MIN_VALUE, 5}, c.toLongArray());
      assertEquals(i64.getDataBuffer().memoryAddress(), c.storage().address());
    }
  }

  @Test
  void fixedSizeListIsRowsByWidth() {
    float[] values = Vectors.iota(12);
    try (FixedSizeListVector v = Vectors.fixedList(arrow, "pixels", 4, values);
        NDArray a = ArrowTensors.wrap(v)) {
      assertArrayEquals(new int[] {3, 4}, a.shape());
      assertEquals(v.getDataVector().getDataBuffer().memoryAddress(), a.storage().address());
      assertArrayEquals(values, a.toFloatArray());

      Float4Vector child = (Float4Vector) v.getDataVector();
      child.set(5, -1f); // row 1, column 1
      try (NDArray row = a.select(0, 1)) {
        assertArrayEquals(new float[] {4, -1, 6, 7}, row.toFloatArray());
      }
    }
  }

  @Test
  void listWithConstantRowLengthIsRowsByWidth() {
    try (ListVector v =
            Vectors.list(arrow, "emb", new float[] {1, 2, 3}, new float[] {4, 5, 6}, new float[0]);
        ListVector two = Vectors.list(arrow, "emb", new float[] {1, 2}, new float[] {3, 4})) {
      v.setValueCount(2); // drop the empty third row: every row has 3 values
      try (NDArray a = ArrowTensors.wrap(v)) {
        assertArrayEquals(new int[] {2, 3}, a.shape());
        assertEquals(v.getDataVector().getDataBuffer().memoryAddress(), a.storage().address());
        assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, a.toFloatArray());
      }
      try (NDArray b = ArrowTensors.wrap(two)) {
        assertArrayEquals(new float[] {1, 2, 3, 4}, b.toFloatArray());
      }
    }
  }

  @Test
  void listRowsThatStartPastTheFirstValueAreViewedAtThatOffset() {
    // Offsets [3, 6, 9]: rows start at child value 3, as in batches sliced by other Arrow
    // implementations (Java rebases offsets when it slices).
    try (ListVector v =
        Vectors.list(
            arrow, "emb", new float[] {0, 1, 2}, new float[] {3, 4, 5}, new float[] {6, 7, 8})) {
      for (int i = 0; i <= 2; i++) {
        v.getOffsetBuffer().setInt(i * 4L, 3 * (i + 1));
      }
      v.setValueCount(2);
      try (NDArray a = ArrowTensors.wrap(v)) {
        assertEquals(3, a.layout().offset());
        assertEquals(v.getDataVector().getDataBuffer().memoryAddress(), a.storage().address());
        assertArrayEquals(new float[] {3, 4, 5, 6, 7, 8}, a.toFloatArray());
      }
    }
  }

  @Test
  void slicedVectorIsViewedAtItsOwnOffset() {
    try (Float4Vector v = Vectors.float4(arrow, "x", Vectors.iota(16));
        Float4Vector part = new Float4Vector("x", arrow)) {
      TransferPair tp = v.makeTransferPair(part);
      tp.splitAndTransfer(5, 7); // rows 5..11; not byte-aligned in the validity bitmap
      try (NDArray a = ArrowTensors.wrap(part)) {
        assertEquals(part.getDataBuffer().memoryAddress(), a.storage().address());
        assertEquals(v.getDataBuffer().memoryAddress() + 5 * 4, a.storage().address());
        assertArrayEquals(new float[] {5, 6, 7, 8, 9, 10, 11}, a.toFloatArray());
      }
    }
  }

  @Test
  void slicedRootOfFixedSizeListsIsViewedAtItsOwnOffset() {
    try (FixedSizeListVector v = Vectors.fixedList(arrow, "pixels", 3, Vectors.iota(30));
        VectorSchemaRoot root = VectorSchemaRoot.of(v)) {
      try (VectorSchemaRoot slice = root.slice(4, 3);
          NDArray a = ArrowTensors.wrap(slice.getVector("pixels"))) {
        assertArrayEquals(new int[] {3, 3}, a.shape());
        assertArrayEquals(new float[] {12, 13, 14, 15, 16, 17, 18, 19, 20}, a.toFloatArray());
        long base = v.getDataVector().getDataBuffer().memoryAddress();
        assertEquals(base + 12 * 4, a.storage().address());
      }
    }
  }

  @Test
  void importedArrayWorksWithOrdinaryOps() {
    try (FixedSizeListVector v = Vectors.fixedList(arrow, "x", 2, new float[] {1, 2, 3, 4});
        NDArray a = ArrowTensors.wrap(v);
        NDArray t = a.t();
        NDArray p = a.matmul(t)) {
      // [[1, 2], [3, 4]] @ [[1, 3], [2, 4]] = [[5, 11], [11, 25]]
      assertArrayEquals(new float[] {5, 11, 11, 25}, p.toFloatArray());
      assertTrue(a.isContiguous());
    }
  }

  @Test
  void kernelsRunOnAnImportAlignedOnlyToItsElementSize() {
    // A slice starting at row 1 sits 4 bytes past an 8-byte boundary: no 8-, 16- or 64-byte
    // alignment for the kernels to lean on.
    try (FixedSizeListVector v = Vectors.fixedList(arrow, "x", 1, Vectors.iota(9));
        VectorSchemaRoot root = VectorSchemaRoot.of(v);
        VectorSchemaRoot slice = root.slice(1, 8);
        NDArray flat = ArrowTensors.wrap(slice.getVector("x"));
        NDArray a = flat.reshape(2, 4);
        NDArray sum = a.sum();
        NDArray shifted = a.sub(4.5);
        NDArray relu = shifted.relu();
        NDArray at = a.t();
        NDArray p = a.matmul(at)) {
      assertEquals(4, a.storage().address() % 8);
      assertEquals(36.0, sum.item()); // 1 + 2 + ... + 8
      assertArrayEquals(new float[] {0, 0, 0, 0, 0.5f, 1.5f, 2.5f, 3.5f}, relu.toFloatArray());
      // rows r0 = [1, 2, 3, 4], r1 = [5, 6, 7, 8]: r0.r0 = 30, r0.r1 = 70, r1.r1 = 174
      assertArrayEquals(new float[] {30, 70, 70, 174}, p.toFloatArray());
    }
  }
}
