package org.emberdl.benchmarks;

import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import org.emberdl.autograd.Tensor;
import org.emberdl.examples.Mlp;
import org.emberdl.examples.PatchTransformer;
import org.emberdl.examples.SmallCnn;
import org.emberdl.federated.dp.DpSgd;
import org.emberdl.nn.CrossEntropyLoss;
import org.emberdl.nn.Module;
import org.emberdl.nn.NetworkSpec;
import org.emberdl.nn.PerExampleCapture;
import org.emberdl.nn.Reduction;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.EmberConfig;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.random.Philox;

/**
 * The time of one DP-SGD gradient against one non-private gradient, per model, at one batch size
 * (the target: DP step at most 1.5x the non-private step at batch 256). Every variant ends
 * with the step's flat gradient in a new array (the optimizer update, the same for all, is left
 * out):
 *
 * <ul>
 *   <li>{@code plain}: zero the gradients, forward, mean cross-entropy, one backward pass, copy the
 *       flat gradient;
 *   <li>{@code clip}: {@link DpSgd#clippedSum} (the per-example clipped sum, ghost clipping where
 *       the model allows it: one forward and two backward passes), no noise;
 *   <li>{@code dp}: {@link DpSgd#noisyGradient} (clipping, Gaussian noise {@code sigma = 1.1},
 *       {@code C = 1}, division by the batch size): the whole private step, as {@code new DpSgd(C,
 *       sigma, qN)} takes it (the noise drawn while the clipping runs: on a background thread when
 *       a processor is left over by Ember's threads, else by Ember's pool workers in the gaps the
 *       clipping leaves them; {@link DpSgd#noiseDrawing} in the summary line);
 *   <li>{@code dp-inline}: the same with {@code DpSgd(..., backgroundNoise = false)}: the noise
 *       drawn after the clipping, on the calling thread (same values);
 *   <li>{@code noise}: the noise draw alone ({@code NDArray.normal} of one value per parameter), so
 *       the ratio with a faster generator can be read off: {@code dp - noise + new noise};
 *   <li>{@code materialized} (fewer steps, off with {@code --materialized-steps 0}): the fallback
 *       that runs one forward and backward pass per example, for the speed-up of the fast path.
 * </ul>
 *
 * The variants run interleaved, step by step, in one process (so load from elsewhere hits all of
 * them alike), after {@code --warmup} interleaved steps; medians over {@code --steps}. Models
 * ({@code --models}): {@code mlp} (the examples' 784-256-128-10 {@link Mlp}), {@code cnn} ({@code
 * conv(16,k=5,p=2), relu, maxpool(2), conv(32,k=5,p=2), relu, maxpool(2), flatten, linear(10)} on
 * 1x28x28) and {@code smallcnn} (the examples' {@link SmallCnn}: conv32 3x3, pool, conv64 3x3,
 * pool, fc128, fc10) and {@code vit} (the examples' {@link PatchTransformer}: 7x7 patches, width
 * 64, class token, learned positions, 2 pre-norm GELU encoder layers of 4 heads, class pool; not
 * run by default). Inputs are standard normal, labels {@code i mod 10}.
 *
 * <pre>
 * --models mlp,cnn,smallcnn   --batch 256   --steps 30   --warmup 8
 * --materialized-steps 2      --threads N (Ember CPU threads, also -Demberdl.threads=N)
 * --await-vector-normal 20     (seconds to wait for the vector normal kernel before the steps)
 * </pre>
 *
 * Prints, per model, how each layer takes its norms, then a {@code SUMMARY} line with the medians
 * (ms) and the ratios of the medians to {@code plain}. Command-line output goes to stdout by
 * design.
 */
public final class DpSgdStepBenchmark {
  /** The CNN, as a {@link NetworkSpec}. */
  public static final String CNN_SPEC =
      "conv(16,k=5,p=2), relu, maxpool(2), conv(32,k=5,p=2), relu, maxpool(2), flatten,"
          + " linear(10)";

  private static final double CLIP = 1.0;
  private static final double SIGMA = 1.1;

  private DpSgdStepBenchmark() {}

  /** Runs the models given on the command line. */
  public static void main(String[] args) {
    Map<String, String> o = TrainingThroughput.parse(args);
    if (o.containsKey("threads")) {
      EmberConfig.setThreads(Integer.parseInt(o.get("threads")));
    }
    int batch = Integer.parseInt(o.getOrDefault("batch", "256"));
    int steps = Integer.parseInt(o.getOrDefault("steps", "30"));
    int warmup = Integer.parseInt(o.getOrDefault("warmup", "8"));
    int matSteps = Integer.parseInt(o.getOrDefault("materialized-steps", "2"));
    double awaitVector = Double.parseDouble(o.getOrDefault("await-vector-normal", "20"));
    System.out.printf(
        Locale.ROOT,
        "%s %s, Ember threads %d, batch %d, C = %.1f, sigma = %.1f%n",
        System.getProperty("java.vm.name"),
        System.getProperty("java.version"),
        EmberConfig.threads(),
        batch,
        CLIP,
        SIGMA);
    awaitVectorNormals(awaitVector);
    for (String model : o.getOrDefault("models", "mlp,cnn,smallcnn").split(",")) {
      run(model.trim(), batch, steps, warmup, matSteps);
    }
  }

  private static Module create(String model, Generator gen) {
    return switch (model) {
      case "mlp" -> new Mlp(gen);
      case "cnn" -> NetworkSpec.build(CNN_SPEC, new int[] {1, 28, 28}, gen);
      case "smallcnn" -> new SmallCnn(gen);
      case "vit" -> new PatchTransformer(gen);
      default ->
          throw new IllegalArgumentException(
              "unknown model " + model + " (mlp, cnn, smallcnn, vit)");
    };
  }

  /**
   * Starts the vector normal kernel's warm-up and waits up to {@code seconds} for it to switch on,
   * so the steps measure what a long training run sees (the warm-up takes about a second of one
   * core; under load, many more); prints whether it did.
   */
  private static void awaitVectorNormals(double seconds) {
    Philox.expectManyNormals();
    long deadline = System.nanoTime() + (long) (seconds * 1e9);
    while (!Philox.vectorNormalsOn() && System.nanoTime() < deadline) {
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    System.out.println(
        "vector normal kernel: " + (Philox.vectorNormalsOn() ? "on" : "off (scalar Box-Muller)"));
  }

  static void run(String name, int batch, int steps, int warmup, int matSteps) {
    Generator gen = new Generator(7);
    long[] labels = new long[batch];
    for (int i = 0; i < batch; i++) {
      labels[i] = i % 10;
    }
    int[] shape = name.equals("mlp") ? new int[] {batch, 784} : new int[] {batch, 1, 28, 28};
    try (Module model = create(name, gen);
        CrossEntropyLoss mean = new CrossEntropyLoss();
        CrossEntropyLoss perExample = new CrossEntropyLoss(Reduction.NONE);
        NDArray x = NDArray.randn(gen, DType.FLOAT32, shape);
        NDArray y = NDArray.of(labels, batch)) {
      model.train();
      model.flatParameters();
      DpSgd dp = new DpSgd(CLIP, SIGMA, batch);
      DpSgd dpInline = new DpSgd(CLIP, SIGMA, batch, false);
      int params = Math.toIntExact(model.parameterCount());
      System.out.printf(Locale.ROOT, "%n%s: %,d parameters; norms per layer:%n", name, params);
      for (String line : plan(model, x)) {
        System.out.println("  " + line);
      }
      double[] plain = new double[steps];
      double[] clip = new double[steps];
      double[] full = new double[steps];
      double[] noise = new double[steps];
      double[] inline = new double[steps];
      DpSgd.Method method = null;
      for (int s = -warmup; s < steps; s++) {
        long t0 = System.nanoTime();
        plainStep(model, mean, x, y);
        long t1 = System.nanoTime();
        try (DpSgd.ClippedSum c = DpSgd.clippedSum(model, x, y, perExample::apply, CLIP)) {
          method = c.method();
        }
        long t2 = System.nanoTime();
        try (NDArray g =
            dp.noisyGradient(model, x, y, perExample::apply, Generator.forTask(1, s + warmup, 0))) {
          g.numel();
        }
        long t3 = System.nanoTime();
        NDArray.normal(Generator.forTask(2, s + warmup, 0), DType.FLOAT32, 0, SIGMA * CLIP, params)
            .close();
        long t4 = System.nanoTime();
        try (NDArray g =
            dpInline.noisyGradient(
                model, x, y, perExample::apply, Generator.forTask(1, s + warmup, 0))) {
          g.numel();
        }
        long t5 = System.nanoTime();
        if (s >= 0) {
          inline[s] = (t5 - t4) / 1e6;
          plain[s] = (t1 - t0) / 1e6;
          clip[s] = (t2 - t1) / 1e6;
          full[s] = (t3 - t2) / 1e6;
          noise[s] = (t4 - t3) / 1e6;
        }
      }
      double p = TrainingThroughput.median(plain);
      double c = TrainingThroughput.median(clip);
      double d = TrainingThroughput.median(full);
      double n = TrainingThroughput.median(noise);
      double di = TrainingThroughput.median(inline);
      String mat = "";
      if (matSteps > 0) {
        double[] m = new double[matSteps];
        for (int s = 0; s < matSteps; s++) {
          long t0 = System.nanoTime();
          try (DpSgd.ClippedSum cs =
              DpSgd.clippedSum(model, x, y, perExample::apply, CLIP, false)) {
            cs.sum().numel();
          }
          m[s] = (System.nanoTime() - t0) / 1e6;
        }
        double mm = TrainingThroughput.median(m);
        mat =
            String.format(
                Locale.ROOT,
                "; materialized clip %.1f ms (%.1fx plain, fast path %.0fx faster)",
                mm,
                mm / p,
                mm / c);
      }
      System.out.printf(
          Locale.ROOT,
          "  per-step ms, %d steps: plain %s%n  clip %s%n  dp %s%n  noise %s%n  dp-inline %s%n",
          steps,
          quartiles(plain),
          quartiles(clip),
          quartiles(full),
          quartiles(noise),
          quartiles(inline));
      System.out.printf(
          Locale.ROOT,
          "SUMMARY %s batch=%d median ms: plain %.2f, clip (%s) %.2f = %.2fx, dp (clip + noise,"
              + " noise drawn by %s) %.2f = %.2fx, dp-inline (noise drawn after clipping) %.2f ="
              + " %.2fx, noise draw %.2f; dp-inline without the noise draw %.2fx%s; vector"
              + " normals %s%n",
          name,
          batch,
          p,
          method,
          c,
          c / p,
          dp.noiseDrawing(),
          d,
          d / p,
          di,
          di / p,
          n,
          (di - n) / p,
          mat,
          Philox.vectorNormalsOn() ? "on" : "off");
    }
  }

  /** How a captured forward pass of {@code model} takes each layer's norms. */
  private static java.util.List<String> plan(Module model, NDArray x) {
    try (MemoryScope scope = MemoryScope.open();
        PerExampleCapture capture = PerExampleCapture.open()) {
      Tensor out = model.forward(Tensor.of(x.share()));
      out.sum().backward();
      return capture.plan();
    } finally {
      model.zeroGrad();
    }
  }

  private static void plainStep(Module model, CrossEntropyLoss mean, NDArray x, NDArray y) {
    model.zeroGrad();
    try (Tensor in = Tensor.of(x.share());
        Tensor out = model.forward(in);
        Tensor loss = mean.apply(out, y)) {
      loss.backward();
    }
    model.flatParameters().grads().copy().close();
  }

  /** {@code median [q1, q3]}. */
  private static String quartiles(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    int n = s.length;
    return String.format(
        Locale.ROOT,
        "%.2f [%.2f, %.2f]",
        TrainingThroughput.median(s),
        s[n / 4],
        s[Math.min(n - 1, (3 * n) / 4)]);
  }
}
