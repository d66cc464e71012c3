package org.emberdl.spark.internal.data;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.emberdl.spark.internal.local.PartitionTrainer;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.memory.Allocators;

/**
 * What feeding a training-stage task from Arrow costs per epoch: copying one partition's cached
 * heap rows into the task's off-heap Arrow columns ({@link PartitionData#arrowFed}, once per task,
 * i.e. once per epoch), and gathering an epoch of shuffled mini-batches from those columns against
 * gathering them from the heap arrays (what the rounds path does).
 *
 * <pre>
 * --rows N    rows in the partition (default 30000: the 60k Fashion-MNIST set on 2 partitions)
 * --dim D     features per row (default 784)
 * --batch B   rows per mini-batch (default 64: a global batch of 128 over 2 partitions)
 * --runs N    timed runs after 3 warm-ups (default 7)
 * </pre>
 */
public final class ArrowFeedBenchmark {
  private ArrowFeedBenchmark() {}

  public static void main(String[] args) {
    int rows = 30000;
    int dim = 784;
    int batch = 64;
    int runs = 7;
    for (int i = 0; i + 1 < args.length; i += 2) {
      int v = Integer.parseInt(args[i + 1]);
      switch (args[i]) {
        case "--rows" -> rows = v;
        case "--dim" -> dim = v;
        case "--batch" -> batch = v;
        case "--runs" -> runs = v;
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    float[] x = new float[rows * dim];
    float[] y = new float[rows];
    for (int i = 0; i < x.length; i++) {
      x[i] = (i % 251) / 251f;
    }
    for (int i = 0; i < rows; i++) {
      y[i] = i % 10;
    }
    int[] order = PartitionTrainer.shuffle(42, 0, 0, rows);
    int[] shape = {dim};
    HeapRows heap = new HeapRows(x, y, rows, dim);
    List<double[]> results = new ArrayList<>();
    for (int run = -3; run < runs; run++) {
      long t0 = System.nanoTime();
      ArrowRows arrow =
          ArrowRows.copyOf(
              x, y, rows, dim, Allocators.cpu().newChildAllocator("bench", 0, Long.MAX_VALUE));
      long t1 = System.nanoTime();
      double sum = gatherEpoch(arrow, order, batch, shape);
      long t2 = System.nanoTime();
      sum += gatherEpoch(heap, order, batch, shape);
      long t3 = System.nanoTime();
      arrow.close();
      if (sum == 42) {
        System.out.println();
      }
      if (run >= 0) {
        results.add(new double[] {(t1 - t0) / 1e6, (t2 - t1) / 1e6, (t3 - t2) / 1e6});
      }
    }
    results.sort((a, b) -> Double.compare(a[0], b[0]));
    double copy = results.get(results.size() / 2)[0];
    results.sort((a, b) -> Double.compare(a[1], b[1]));
    double arrowGather = results.get(results.size() / 2)[1];
    results.sort((a, b) -> Double.compare(a[2], b[2]));
    double heapGather = results.get(results.size() / 2)[2];
    System.out.printf(
        Locale.ROOT,
        "ARROWFEED rows %d dim %d (%.0f MiB): copy to Arrow %.1f ms per epoch; an epoch of"
            + " %d-row batches gathered from Arrow %.1f ms, from the heap %.1f ms (medians of %d)%n",
        rows,
        dim,
        4.0 * rows * (dim + 1) / (1 << 20),
        copy,
        batch,
        arrowGather,
        heapGather,
        runs);
  }

  private static double gatherEpoch(TrainRows rows, int[] order, int batch, int[] shape) {
    double sum = 0;
    for (int lo = 0; lo < order.length; lo += batch) {
      int hi = Math.min(order.length, lo + batch);
      try (MemoryScope scope = MemoryScope.open()) {
        NDArray b = rows.gather(order, lo, hi, shape);
        sum += rows.label(order[lo]) + b.shape(0);
      }
    }
    return sum;
  }
}
