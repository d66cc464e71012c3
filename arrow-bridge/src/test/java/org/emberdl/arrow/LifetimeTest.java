package org.emberdl.arrow;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.memory.Allocators;
import org.junit.jupiter.api.Test;

/**
 * Shared memory lives until both sides let go, in either order, and then both allocators are back
 * at zero (checked after every test by {@link ArrowTestBase} for Arrow's and by the tensor module's
 * leak check for Ember's). "Nothing freed early" is shown by reading after the other side closed: a
 * freed buffer would read garbage or fail Arrow's bounds checks.
 */
class LifetimeTest extends ArrowTestBase {

  @Test
  void rootClosedBeforeImportedArray() {
    NDArray a;
    long bytes;
    try (FixedSizeListVector v = Vectors.fixedList(arrow, "x", 4, Vectors.iota(400));
        VectorSchemaRoot root = VectorSchemaRoot.of(v)) {
      a = ArrowTensors.wrap(root.getVector("x"));
      bytes = arrow.getAllocatedMemory();
    }
    try (a) {
      // The root and its vectors are closed; the data buffer is still held, by the array alone.
      assertTrue(arrow.getAllocatedMemory() > 0 && arrow.getAllocatedMemory() <= bytes);
      assertEquals(Vectors.iota(400)[399], a.toFloatArray()[399]);
      try (NDArray s = a.sum()) {
        assertEquals(399 * 400 / 2.0, s.item()); // 0 + 1 + ... + 399
      }
    }
    assertEquals(0, arrow.getAllocatedMemory());
  }

  @Test
  void importedArrayClosedBeforeVector() {
    try (Float4Vector v = Vectors.float4(arrow, "x", Vectors.iota(64))) {
      long before = arrow.getAllocatedMemory();
      NDArray a = ArrowTensors.wrap(v);
      assertEquals(before, arrow.getAllocatedMemory(), "a wrap allocates nothing");
      a.close();
      assertEquals(before, arrow.getAllocatedMemory());
      assertEquals(63f, v.get(63));
      assertThrows(IllegalStateException.class, a::toFloatArray);
    }
  }

  @Test
  void viewsOfAnImportOutliveIt() {
    NDArray row;
    try (FixedSizeListVector v = Vectors.fixedList(arrow, "x", 3, Vectors.iota(9));
        NDArray a = ArrowTensors.wrap(v)) {
      row = a.select(0, 2);
    }
    try (row) {
      assertArrayEquals(new float[] {6, 7, 8}, row.toFloatArray());
    }
  }

  @Test
  void aMemoryScopeClosesImportedArrays() {
    try (Float4Vector v = Vectors.float4(arrow, "x", Vectors.iota(8))) {
      NDArray a;
      try (MemoryScope scope = MemoryScope.open()) {
        a = ArrowTensors.wrap(v);
      }
      assertTrue(a.isClosed());
      assertEquals(7f, v.get(7));
    }
  }

  @Test
  void vectorClosedBeforeExportedArray() {
    try (NDArray a = NDArray.of(new float[] {1, 2, 3, 4, 5, 6}, 3, 2)) {
      long ember = Allocators.cpuAllocatedBytes();
      FieldVector v = ArrowTensors.export(a, "pred", arrow);
      assertEquals(ember, Allocators.cpuAllocatedBytes(), "an export copies nothing into Ember");
      v.close();
      assertEquals(0, arrow.getAllocatedMemory());
      assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, a.toFloatArray());
    }
  }

  @Test
  void exportedArrayClosedBeforeVector() {
    long emberBefore = Allocators.cpuAllocatedBytes();
    NDArray a = NDArray.of(new float[] {1, 2, 3});
    try (FieldVector v = ArrowTensors.export(a, "pred", arrow)) {
      a.close();
      // The vector still holds the storage: Ember's allocator has not freed it.
      assertTrue(Allocators.cpuAllocatedBytes() > emberBefore);
      Float4Vector f = (Float4Vector) v;
      assertEquals(List.of(1f, 2f, 3f), List.of(f.get(0), f.get(1), f.get(2)));
    }
    assertEquals(emberBefore, Allocators.cpuAllocatedBytes());
  }

  @Test
  void reimportOfAnExportSharesTheSameMemory() {
    try (NDArray a = NDArray.of(new float[] {1, 2, 3, 4}, 2, 2);
        FieldVector v = ArrowTensors.export(a, "x", arrow);
        NDArray b = ArrowTensors.wrap(v)) {
      assertEquals(a.storage().address(), b.storage().address());
      b.addInPlace(10);
      assertArrayEquals(new float[] {11, 12, 13, 14}, a.toFloatArray());
    }
  }
}
