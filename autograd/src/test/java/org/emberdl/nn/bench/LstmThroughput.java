package org.emberdl.nn.bench;

import java.util.Arrays;
import java.util.Locale;
import org.emberdl.autograd.Tensor;
import org.emberdl.nn.GRU;
import org.emberdl.nn.LSTM;
import org.emberdl.nn.RecurrentLayer;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.EmberConfig;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;

/**
 * A timing harness, not a test: forward + backward of LSTM(28 -> 128) (or GRU with a third argument
 * {@code gru}), batch_first, on a float32 batch of 128 sequences of 28 steps (Fashion-MNIST rows as
 * a sequence), loss = sum of the outputs. Prints the median of the timed iterations. The PyTorch
 * twin is benchmarks/peers/lstm_step.py. Run with the test classpath:
 *
 * <pre>java -cp ... org.emberdl.nn.bench.LstmThroughput [threads] [iterations] [lstm|gru]</pre>
 */
public final class LstmThroughput {
  private LstmThroughput() {}

  public static void main(String[] args) {
    int threads = args.length > 0 ? Integer.parseInt(args[0]) : 1;
    int iters = args.length > 1 ? Integer.parseInt(args[1]) : 30;
    boolean gru = args.length > 2 && args[2].equals("gru");
    EmberConfig.setThreads(threads);
    int batch = 128;
    int steps = 28;
    Generator gen = new Generator(0);
    try (RecurrentLayer lstm =
            (gru ? GRU.builder(28, 128) : LSTM.builder(28, 128)).batchFirst(true).build(gen);
        MemoryScope outer = MemoryScope.open()) {
      NDArray x = NDArray.randn(gen, DType.FLOAT32, batch, steps, 28);
      double[] ms = new double[iters];
      for (int i = -5; i < iters; i++) {
        long t0 = System.nanoTime();
        try (MemoryScope s = MemoryScope.open()) {
          lstm.zeroGrad();
          Tensor out = lstm.forward(Tensor.of(x.share()));
          out.sum().backward();
        }
        long t1 = System.nanoTime();
        if (i >= 0) {
          ms[i] = (t1 - t0) / 1e6;
        }
      }
      double[] fwd = new double[iters];
      for (int i = -5; i < iters; i++) {
        long t0 = System.nanoTime();
        try (MemoryScope s = MemoryScope.open()) {
          lstm.zeroGrad();
          lstm.forward(Tensor.of(x.share()));
        }
        if (i >= 0) {
          fwd[i] = (System.nanoTime() - t0) / 1e6;
        }
      }
      Arrays.sort(fwd);
      System.out.printf(Locale.ROOT, "forward alone (recording): median %.2f ms%n", fwd[iters / 2]);
      Arrays.sort(ms);
      double median = ms[iters / 2];
      System.out.printf(
          Locale.ROOT,
          "ember %s(28->128) fwd+bwd, batch %d x %d steps, threads %d: median %.2f ms"
              + " (min %.2f), %.0f samples/s%n",
          gru ? "GRU" : "LSTM",
          batch,
          steps,
          threads,
          median,
          ms[0],
          batch * 1000 / median);
    }
  }
}
