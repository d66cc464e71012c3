package org.emberdl.spark.internal.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.emberdl.spark.SparkTestSession;
import org.emberdl.spark.internal.local.ExecutorEngine;
import org.emberdl.spark.internal.plan.TaskKind;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.memory.Allocators;
import org.junit.jupiter.api.Test;

/**
 * A task's Arrow copy of its training rows: viewed as arrays without a copy, gathered into the same
 * batches as the heap rows, held in the task's own child allocator of the executor budget, which
 * returns to zero when the task ends, and refused with a clear error when it does not fit.
 */
class ArrowRowsTest {
  private static final int ROWS = 5;
  private static final int DIM = 3;

  /** Row r holds r*10 + j at feature j, label r + 0.5 (distinct values to see any mix-up). */
  private static float[] features() {
    float[] x = new float[ROWS * DIM];
    for (int r = 0; r < ROWS; r++) {
      for (int j = 0; j < DIM; j++) {
        x[r * DIM + j] = r * 10 + j;
      }
    }
    return x;
  }

  private static float[] labels() {
    float[] y = new float[ROWS];
    for (int r = 0; r < ROWS; r++) {
      y[r] = r + 0.5f;
    }
    return y;
  }

  private static BufferAllocator child(String name, long limit) {
    return Allocators.cpu().newChildAllocator(name, 0, limit);
  }

  @Test
  void featuresAndLabelsAreViewedInPlaceOverTheArrowBuffers() {
    try (ArrowRows rows =
        ArrowRows.copyOf(features(), labels(), ROWS, DIM, child("zero-copy", Long.MAX_VALUE))) {
      NDArray x = rows.features();
      NDArray y = rows.labels();
      // The arrays' storage is the Arrow columns' data buffers: same address, no copy.
      assertEquals(
          rows.featureVector().getDataVector().getDataBuffer().memoryAddress(),
          x.storage().address());
      assertEquals(rows.labelVector().getDataBuffer().memoryAddress(), y.storage().address());
      assertArrayEquals(new long[] {ROWS, DIM}, new long[] {x.shape(0), x.shape(1)});
      assertArrayEquals(features(), x.toFloatArray());
      assertArrayEquals(labels(), y.toFloatArray());
      // A write through the Arrow vector is seen by the array: one memory.
      rows.labelVector().set(2, 42f);
      assertEquals(42f, y.toFloatArray()[2]);
      assertEquals(42f, rows.label(2));
    }
  }

  @Test
  void gatherGivesTheHeapRowsBatchesInTheSameOrder() {
    HeapRows heap = new HeapRows(features(), labels(), ROWS, DIM);
    int[] order = {3, 0, 4, 4, 1, 2};
    try (ArrowRows arrow =
            ArrowRows.copyOf(features(), labels(), ROWS, DIM, child("gather", Long.MAX_VALUE));
        MemoryScope scope = MemoryScope.open()) {
      NDArray a = arrow.gather(order, 1, 5, new int[] {DIM});
      NDArray h = heap.gather(order, 1, 5, new int[] {DIM});
      // rows 0, 4, 4, 1 worked out by hand
      float[] expected = {0, 1, 2, 40, 41, 42, 40, 41, 42, 10, 11, 12};
      assertArrayEquals(expected, a.toFloatArray());
      assertArrayEquals(expected, h.toFloatArray());
      assertEquals(4, a.shape(0));
      // an image-shaped input keeps the row-major bytes
      assertArrayEquals(
          new long[] {2, 1, 3},
          new long[] {
            arrow.gather(order, 0, 2, new int[] {1, DIM}).shape(0),
            arrow.gather(order, 0, 2, new int[] {1, DIM}).shape(1),
            arrow.gather(order, 0, 2, new int[] {1, DIM}).shape(2)
          });
      for (int r = 0; r < ROWS; r++) {
        assertEquals(heap.label(r), arrow.label(r));
      }
      IndexOutOfBoundsException e =
          assertThrows(
              IndexOutOfBoundsException.class,
              () -> arrow.gather(new int[] {0, ROWS}, 0, 2, new int[] {DIM}));
      assertEquals("row 5 of a partition of 5 rows", e.getMessage());
    }
  }

  @Test
  void theTaskAllocatorReturnsToZeroAndIsClosed() {
    long before = Allocators.cpuAllocatedBytes();
    BufferAllocator allocator = child("returns-to-zero", Long.MAX_VALUE);
    ArrowRows rows = ArrowRows.copyOf(features(), labels(), ROWS, DIM, allocator);
    // 15 + 5 floats of data plus the validity bitmaps, rounded up by Arrow
    assertTrue(allocator.getAllocatedMemory() >= 4L * (ROWS * DIM + ROWS));
    assertTrue(Allocators.cpuAllocatedBytes() >= before + allocator.getAllocatedMemory());
    rows.close();
    assertEquals(0, allocator.getAllocatedMemory());
    assertTrue(allocator.getChildAllocators().isEmpty());
    // closed: the allocator refuses new buffers
    assertThrows(RuntimeException.class, () -> allocator.buffer(8));
    assertEquals(before, Allocators.cpuAllocatedBytes());
  }

  /** The five rows above read as a partition is read (features as dense vectors). */
  static PartitionData fiveRows() {
    float[] x = features();
    float[] y = labels();
    List<InternalRow> rows = new ArrayList<>();
    for (int r = 0; r < ROWS; r++) {
      double[] v = new double[DIM];
      for (int j = 0; j < DIM; j++) {
        v[j] = x[r * DIM + j];
      }
      rows.add(new GenericInternalRow(new Object[] {SparkInternals.denseVector(v), (double) y[r]}));
    }
    return PartitionData.read(
        rows.iterator(),
        new PartitionData.RowSpec(
            FeatureColumn.vector("features", DIM),
            "label",
            TaskKind.REGRESSION,
            1,
            0,
            1,
            false,
            -1),
        0);
  }

  @Test
  void eachTaskCopiesIntoItsOwnAllocatorWhichReturnsToZeroWhenTheTaskEnds() {
    SparkSession spark = SparkTestSession.get();
    long before = Allocators.cpuAllocatedBytes();
    List<String> inTask =
        JavaSparkContext.fromSparkContext(spark.sparkContext())
            .parallelize(List.of(1, 2), 2)
            .map(
                i -> {
                  PartitionData fed = fiveRows().arrowFed();
                  ArrowRows rows = fed.arrowRows();
                  try (MemoryScope scope = MemoryScope.open()) {
                    int[] order = {4, 2};
                    float[] batch = fed.train().gather(order, 0, 2, new int[] {DIM}).toFloatArray();
                    return rows.allocator().getName().replaceAll("[0-9]+-partition", "N-partition")
                        + " "
                        + (rows.allocator().getAllocatedMemory() >= 4L * ROWS * (DIM + 1))
                        + " "
                        + java.util.Arrays.toString(batch);
                  }
                })
            .collect();
    assertEquals(
        List.of(
            "ember-task-N-partition-0 true [40.0, 41.0, 42.0, 20.0, 21.0, 22.0]",
            "ember-task-N-partition-1 true [40.0, 41.0, 42.0, 20.0, 21.0, 22.0]"),
        inTask);
    // the completion listeners closed both task allocators before the results came back
    assertEquals(before, Allocators.cpuAllocatedBytes());
  }

  @Test
  void aPartitionOverTheBudgetFailsNamingItsSizeAndTheSettings() {
    ExecutorEngine engine = ExecutorEngine.get();
    PartitionData data = fiveRows();
    BufferAllocator small = child("over-budget", 64);
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> data.arrowFed(small, engine, 7));
    assertTrue(
        e.getMessage()
            .startsWith(
                "partition 7's 5 training rows of 3 features (0 MiB off-heap) do not fit the"
                    + " memory this executor allows (limit "),
        e.getMessage());
    assertTrue(
        e.getMessage()
            .endsWith(
                "; use more partitions, or raise spark.executor.memoryOverhead or"
                    + " spark.ember.memoryLimit"),
        e.getMessage());
    // the failed copy closed its allocator and left nothing behind
    assertEquals(0, small.getAllocatedMemory());
    assertThrows(RuntimeException.class, () -> small.buffer(8));
  }
}
