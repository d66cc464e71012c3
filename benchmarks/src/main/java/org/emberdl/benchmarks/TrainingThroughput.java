package org.emberdl.benchmarks;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.emberdl.autograd.NoGrad;
import org.emberdl.autograd.Tensor;
import org.emberdl.examples.Mlp;
import org.emberdl.examples.PatchTransformer;
import org.emberdl.examples.RowLstm;
import org.emberdl.examples.SmallCnn;
import org.emberdl.nn.CrossEntropyLoss;
import org.emberdl.nn.Module;
import org.emberdl.nn.NetworkSpec;
import org.emberdl.optim.Adam;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.EmberConfig;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;

/**
 * Steady-state training throughput (samples/s) of the Fashion-MNIST MLP, small CNN and row LSTM
 * ({@code lstm}: 28 steps of 28 pixels, LSTM(128), last step, linear(10)) and patch transformer
 * ({@code vit}: {@code PatchTransformer}, 7x7 patches, 2 pre-norm layers), the Ember side of the
 * peer comparison in {@code benchmarks/peers/} (PyTorch: {@code pytorch_train.py}, DJL: {@code
 * DjlTrainingThroughput} in the {@code peers} profile, ONNX Runtime: {@link OrtInferenceThroughput}
 * for the {@code infer} row). All take the same options and print the same lines.
 *
 * <p>{@code infer:B} is the forward-only row: the same MLP 784-256-128-10 in eval mode under {@link
 * NoGrad} (no graph is recorded), logits of batch B read back to the heap, no loss, no optimizer.
 *
 * <p>Data: a fixed pool of synthetic Fashion-MNIST-shaped inputs (standard normal, 784 features)
 * and uniform labels in [0, 10); step {@code i} trains on the contiguous slice {@code i} of the
 * pool (a view, no copy). Each step is what {@code FashionMnistTraining} does: zero the gradients,
 * forward, cross-entropy, backward, Adam (lr 1e-3), read the loss, all in one {@link MemoryScope}.
 * Per configuration: warm up for {@code --warmup-seconds}, choose N so that N steps take about
 * {@code --rep-seconds}, then time {@code --reps} repetitions of N steps.
 *
 * <pre>
 * --configs mlp:64,mlp:256,mlp:1024,cnn:128,lstm:128,vit:128,infer:4096   model:batch list
 * --threads N          Ember CPU threads (also -Demberdl.threads=N)
 * --reps N             timed repetitions per configuration (default 5)
 * --rep-seconds X      target length of one repetition (default 1.0)
 * --warmup-seconds X   warm-up per configuration (default 3.0)
 * --seed N             default 42
 * --label NAME         system name printed in the result lines (default ember)
 * </pre>
 *
 * Prints one {@code RESULT system threads model batch samples_per_s} line per repetition, and a
 * {@code SUMMARY} line (median) per configuration. Command-line output goes to stdout by design.
 */
public final class TrainingThroughput {
  private static final int POOL_MIN = 8192;
  private static final String INFER_MLP = "linear(256), relu, linear(128), relu, linear(10)";

  private TrainingThroughput() {}

  /** Runs the configurations given on the command line. */
  public static void main(String[] args) {
    Map<String, String> o = parse(args);
    if (o.containsKey("threads")) {
      EmberConfig.setThreads(Integer.parseInt(o.get("threads")));
    }
    int threads = EmberConfig.threads();
    String label = o.getOrDefault("label", "ember");
    int reps = Integer.parseInt(o.getOrDefault("reps", "5"));
    double repSeconds = Double.parseDouble(o.getOrDefault("rep-seconds", "1.0"));
    double warmupSeconds = Double.parseDouble(o.getOrDefault("warmup-seconds", "3.0"));
    long seed = Long.parseLong(o.getOrDefault("seed", "42"));
    for (String config :
        o.getOrDefault("configs", "mlp:64,mlp:256,mlp:1024,cnn:128,lstm:128,vit:128").split(",")) {
      String[] mb = config.split(":");
      String model = mb[0];
      int batch = Integer.parseInt(mb[1]);
      double[] rates = run(model, batch, reps, repSeconds, warmupSeconds, seed);
      for (double r : rates) {
        System.out.printf(
            Locale.ROOT, "RESULT %s %d %s %d %.1f%n", label, threads, model, batch, r);
      }
      System.out.printf(
          Locale.ROOT,
          "SUMMARY %s threads=%d %s batch=%d median %.0f samples/s (reps %s)%n",
          label,
          threads,
          model,
          batch,
          median(rates),
          Arrays.toString(Arrays.stream(rates).mapToLong(Math::round).toArray()));
    }
  }

  /** Samples/s of each timed repetition. */
  static double[] run(
      String model, int batch, int reps, double repSeconds, double warmupSeconds, long seed) {
    int batches = Math.max(4, (POOL_MIN + batch - 1) / batch);
    int pool = batches * batch;
    Generator gen = new Generator(seed);
    boolean infer = model.equals("infer");
    try (NDArray xs = NDArray.randn(gen, DType.FLOAT32, pool, 784);
        NDArray ys = NDArray.randint(gen, 0, 10, pool);
        Module net =
            infer ? NetworkSpec.build(INFER_MLP, new int[] {784}, gen) : create(model, gen);
        Adam optimizer = new Adam(net, 1e-3);
        CrossEntropyLoss lossFn = new CrossEntropyLoss();
        // forward-only: no graph for the whole run (entered and closed on this thread)
        NoGrad noGrad = infer ? NoGrad.enter() : null) {
      Step t;
      if (infer) {
        net.eval();
        t = new Scorer(net, xs, batch, batches);
      } else {
        net.train();
        t = new Trainer(net, optimizer, lossFn, xs, ys, batch, batches);
      }
      // Warm-up, which also measures the step time to size the repetitions.
      long start = System.nanoTime();
      int warm = 0;
      while (warm < 5 || System.nanoTime() - start < warmupSeconds * 1e9) {
        t.step();
        warm++;
      }
      double stepSeconds = (System.nanoTime() - start) / 1e9 / warm;
      int steps = Math.max(3, (int) Math.ceil(repSeconds / stepSeconds));
      double[] rates = new double[reps];
      for (int r = 0; r < reps; r++) {
        long t0 = System.nanoTime();
        for (int s = 0; s < steps; s++) {
          t.step();
        }
        rates[r] = (double) steps * batch / ((System.nanoTime() - t0) / 1e9);
      }
      if (!Double.isFinite(t.checksum())) {
        throw new IllegalStateException("non-finite output in " + model + " batch " + batch);
      }
      return rates;
    }
  }

  /** One timed unit of work over the next slice of the data pool. */
  private interface Step {
    void step();

    /** A sum over the steps' outputs (loss or a logit): keeps them live and checks finiteness. */
    double checksum();
  }

  /** One forward pass (eval mode, no graph) with the logits read back to the heap. */
  private static final class Scorer implements Step {
    private final Module net;
    private final NDArray xs;
    private final int batch;
    private final int batches;
    private int next;
    private double sum;

    Scorer(Module net, NDArray xs, int batch, int batches) {
      this.net = net;
      this.xs = xs;
      this.batch = batch;
      this.batches = batches;
    }

    @Override
    public void step() {
      int from = next * batch;
      next = (next + 1) % batches;
      try (MemoryScope scope = MemoryScope.open()) {
        float[] logits = net.forward(Tensor.of(xs.narrow(0, from, batch))).data().toFloatArray();
        sum += logits[0];
      }
    }

    @Override
    public double checksum() {
      return sum;
    }
  }

  /** One training step over the next slice of the data pool. */
  private static final class Trainer implements Step {
    private final Module net;
    private final Adam optimizer;
    private final CrossEntropyLoss lossFn;
    private final NDArray xs;
    private final NDArray ys;
    private final int batch;
    private final int batches;
    private int next;
    private double lossSum;

    Trainer(
        Module net,
        Adam optimizer,
        CrossEntropyLoss lossFn,
        NDArray xs,
        NDArray ys,
        int batch,
        int batches) {
      this.net = net;
      this.optimizer = optimizer;
      this.lossFn = lossFn;
      this.xs = xs;
      this.ys = ys;
      this.batch = batch;
      this.batches = batches;
    }

    @Override
    public void step() {
      int from = next * batch;
      next = (next + 1) % batches;
      try (MemoryScope scope = MemoryScope.open()) {
        NDArray x = xs.narrow(0, from, batch);
        NDArray y = ys.narrow(0, from, batch);
        optimizer.zeroGrad();
        Tensor logits = net.forward(Tensor.of(x));
        Tensor loss = lossFn.apply(logits, y);
        loss.backward();
        optimizer.step();
        lossSum += loss.item();
      }
    }

    @Override
    public double checksum() {
      return lossSum;
    }
  }

  private static Module create(String model, Generator gen) {
    return switch (model) {
      case "mlp" -> new Mlp(gen);
      case "cnn" -> new SmallCnn(gen);
      case "lstm" -> new RowLstm(gen);
      case "vit" -> new PatchTransformer(gen);
      default ->
          throw new IllegalArgumentException(
              "unknown model " + model + " (mlp, cnn, lstm, vit or infer)");
    };
  }

  static double median(double[] values) {
    double[] v = values.clone();
    Arrays.sort(v);
    int n = v.length;
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }

  static Map<String, String> parse(String[] args) {
    Map<String, String> o = new LinkedHashMap<>();
    for (int i = 0; i < args.length; i += 2) {
      if (!args[i].startsWith("--") || i + 1 >= args.length) {
        throw new IllegalArgumentException("expected --option value pairs, got " + args[i]);
      }
      o.put(args[i].substring(2), args[i + 1]);
    }
    return o;
  }
}
