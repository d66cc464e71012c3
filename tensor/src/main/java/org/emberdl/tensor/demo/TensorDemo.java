package org.emberdl.tensor.demo;

import java.util.Locale;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.EmberConfig;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.memory.Allocators;

/**
 * A two-minute tour of the tensor engine, run by the README's first command: a one-layer softmax
 * classifier's forward pass on random data, a GEMM timing, and the allocator back at zero.
 * Command-line output goes to stdout by design.
 */
public final class TensorDemo {
  private TensorDemo() {}

  public static void main(String[] args) {
    Generator gen = new Generator(2026);
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray x = NDArray.randn(gen, DType.FLOAT32, 4, 784); // (batch, features)
      NDArray w = NDArray.randn(gen, DType.FLOAT32, 784, 10).mul(0.03); // (features, classes)
      NDArray b = NDArray.zeros(DType.FLOAT32, 10);
      NDArray probs = x.matmul(w).add(b).softmax(1); // (batch, classes)
      System.out.println("class probabilities of 4 random inputs:");
      System.out.println(probs);
      System.out.println("predicted classes: " + probs.argmax(1, false));
      System.out.println("rows sum to one: " + probs.sum(new int[] {1}, false));

      int n = 1024;
      NDArray a = NDArray.randn(gen, DType.FLOAT32, n, n);
      NDArray c = NDArray.randn(gen, DType.FLOAT32, n, n);
      a.matmul(c).close(); // warm-up: loads OpenBLAS
      int reps = 5;
      long t0 = System.nanoTime();
      for (int i = 0; i < reps; i++) {
        a.matmul(c).close();
      }
      double seconds = (System.nanoTime() - t0) / 1e9 / reps;
      System.out.printf(
          Locale.ROOT,
          "sgemm %dx%d on %d threads: %.1f ms, %.1f GFLOP/s%n",
          n,
          n,
          EmberConfig.threads(),
          seconds * 1e3,
          2.0 * n * n * n / seconds / 1e9);
    }
    System.out.println("off-heap bytes still allocated: " + Allocators.cpuAllocatedBytes());
  }
}
