package org.emberdl.benchmarks;

import java.util.Locale;
import org.emberdl.autograd.Tensor;
import org.emberdl.examples.PatchTransformer;
import org.emberdl.nn.CrossEntropyLoss;
import org.emberdl.optim.Adam;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.EmberConfig;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;

/**
 * A standalone training loop of the examples' {@link PatchTransformer} (forward, cross-entropy,
 * backward, Adam lr 1e-3) on synthetic (N, 784) inputs, for profiling the transformer step (run it
 * under JFR) and for A/B timings against PyTorch's twin of the model. Arguments: {@code threads
 * batch seconds [reps]}; prints one {@code VIT threads batch samples_per_s} line per repetition
 * after a warm-up of the same length. Command-line output goes to stdout by design.
 */
public final class VitStepBenchmark {
  private VitStepBenchmark() {}

  /** Runs the loop. */
  public static void main(String[] args) {
    int threads = args.length > 0 ? Integer.parseInt(args[0]) : 1;
    int batch = args.length > 1 ? Integer.parseInt(args[1]) : 128;
    double seconds = args.length > 2 ? Double.parseDouble(args[2]) : 5;
    int reps = args.length > 3 ? Integer.parseInt(args[3]) : 3;
    EmberConfig.setThreads(threads);
    int batches = 16;
    Generator gen = new Generator(42);
    try (NDArray xs = NDArray.randn(gen, DType.FLOAT32, batches * batch, 784);
        NDArray ys = NDArray.randint(gen, 0, 10, batches * batch);
        PatchTransformer net = new PatchTransformer(gen);
        Adam optimizer = new Adam(net, 1e-3);
        CrossEntropyLoss lossFn = new CrossEntropyLoss()) {
      net.train();
      int step = 0;
      double lossSum = 0;
      for (int r = -1; r < reps; r++) {
        long t0 = System.nanoTime();
        int steps = 0;
        while (System.nanoTime() - t0 < seconds * 1e9) {
          int from = (step++ % batches) * batch;
          try (MemoryScope scope = MemoryScope.open()) {
            optimizer.zeroGrad();
            Tensor logits = net.forward(Tensor.of(xs.narrow(0, from, batch)));
            Tensor loss = lossFn.apply(logits, ys.narrow(0, from, batch));
            loss.backward();
            optimizer.step();
            lossSum += loss.item();
          }
          steps++;
        }
        double rate = steps * (double) batch / ((System.nanoTime() - t0) / 1e9);
        if (r >= 0) {
          System.out.printf(Locale.ROOT, "VIT ember %d %d %.1f%n", threads, batch, rate);
        }
      }
      if (!Double.isFinite(lossSum)) {
        throw new IllegalStateException("non-finite loss");
      }
    }
  }
}
