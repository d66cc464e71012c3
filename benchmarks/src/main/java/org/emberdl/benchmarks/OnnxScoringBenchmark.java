package org.emberdl.benchmarks;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.emberdl.autograd.NoGrad;
import org.emberdl.autograd.Tensor;
import org.emberdl.nn.Module;
import org.emberdl.nn.NetworkSpec;
import org.emberdl.onnx.Onnx;
import org.emberdl.onnx.OnnxModule;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.EmberConfig;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;

/**
 * Scoring an ONNX model: Ember's import ({@link Onnx#load}, an {@link OnnxModule} in eval mode
 * under {@link NoGrad}) against ONNX Runtime for Java on the same file and the same batches, at 1
 * and 2 threads (Ember: {@link EmberConfig#setThreads}; ONNX Runtime: intra-op threads, one
 * inter-op thread, all graph optimizations), in one run.
 *
 * <p>Models: the Fashion-MNIST MLP 784-256-128-10 and a small CNN ({@code conv(32,k=3,p=1), relu,
 * maxpool(2), conv(64,k=3,p=1), relu, maxpool(2), flatten, linear(128), relu, linear(10)} on (1,
 * 28, 28)), built from their network specs with seed 42 and exported by {@link Onnx#export}: the
 * file both systems read. A third row, {@code ember-native}, scores the same network as the {@code
 * Sequential} it was exported from: the import's own cost is the gap between the two. Inputs: a
 * fixed pool of standard-normal rows; scoring step {@code i} reads batch {@code i} of the pool
 * (Ember: a view; ONNX Runtime: a tensor over a direct buffer made once per batch before timing)
 * and reads the logits back into a {@code float[]} (both systems). Per configuration and system:
 * warm-up, then {@code --reps} timed repetitions of about {@code --rep-seconds}; the systems
 * alternate per repetition so that a noisy moment hits both.
 *
 * <pre>
 * --configs mlp:256,mlp:4096,cnn:256   model:batch list
 * --threads 1,2        thread counts
 * --reps N             timed repetitions per system (default 5)
 * --rep-seconds X      target length of one repetition (default 1.0)
 * --warmup-seconds X   warm-up per system and configuration (default 2.0)
 * </pre>
 *
 * Prints one {@code SUMMARY system threads model batch median rows/s} line per configuration and
 * system and a {@code RATIO} line (Ember / ONNX Runtime). Command-line output goes to stdout by
 * design.
 */
public final class OnnxScoringBenchmark {
  private static final String MLP = "linear(256), relu, linear(128), relu, linear(10)";
  private static final String CNN =
      "conv(32,k=3,p=1), relu, maxpool(2), conv(64,k=3,p=1), relu, maxpool(2), flatten,"
          + " linear(128), relu, linear(10)";
  private static final int POOL_BATCHES = 8;

  private OnnxScoringBenchmark() {}

  /** A scorer of batch {@code i} of the pool, returning a checksum of the logits it read back. */
  private interface Scorer {
    double score(int i) throws Exception;
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> o = parse(args);
    int reps = Integer.parseInt(o.getOrDefault("reps", "5"));
    double repSeconds = Double.parseDouble(o.getOrDefault("rep-seconds", "1.0"));
    double warmup = Double.parseDouble(o.getOrDefault("warmup-seconds", "2.0"));
    int[] threads =
        Arrays.stream(o.getOrDefault("threads", "1,2").split(","))
            .mapToInt(Integer::parseInt)
            .toArray();
    Path dir = Files.createTempDirectory("ember-onnx-bench");
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    for (String config : o.getOrDefault("configs", "mlp:256,mlp:4096,cnn:256").split(",")) {
      String model = config.split(":")[0];
      int batch = Integer.parseInt(config.split(":")[1]);
      int[] shape = model.equals("cnn") ? new int[] {1, 28, 28} : new int[] {784};
      Path file = export(model, shape, dir);
      for (int t : threads) {
        compare(env, file, model, shape, batch, t, reps, repSeconds, warmup);
      }
    }
  }

  private static Path export(String model, int[] shape, Path dir) throws IOException {
    Path file = dir.resolve(model + ".onnx");
    long[] batchShape = new long[shape.length + 1];
    batchShape[0] = 1;
    for (int i = 0; i < shape.length; i++) {
      batchShape[i + 1] = shape[i];
    }
    try (Module m = build(model, shape)) {
      Onnx.export(m, batchShape, file);
    }
    return file;
  }

  /** The network from its spec, weights from seed 42: what the file holds. */
  private static Module build(String model, int[] shape) {
    return NetworkSpec.build(model.equals("cnn") ? CNN : MLP, shape, new Generator(42));
  }

  private static void compare(
      OrtEnvironment env,
      Path file,
      String model,
      int[] shape,
      int batch,
      int threads,
      int reps,
      double repSeconds,
      double warmup)
      throws Exception {
    EmberConfig.setThreads(threads);
    long[] dims = new long[shape.length + 1];
    int[] viewShape = new int[shape.length + 1];
    dims[0] = batch;
    viewShape[0] = batch;
    int features = 1;
    for (int i = 0; i < shape.length; i++) {
      dims[i + 1] = shape[i];
      viewShape[i + 1] = shape[i];
      features *= shape[i];
    }
    float[] pool;
    try (MemoryScope scope = MemoryScope.open()) {
      pool =
          NDArray.randn(new Generator(7), DType.FLOAT32, POOL_BATCHES * batch * features)
              .toFloatArray();
    }
    try (OnnxModule ember = Onnx.load(file);
        Module nativeModel = build(model, shape);
        NoGrad ng = NoGrad.enter();
        OrtSession.SessionOptions opts = new OrtSession.SessionOptions()) {
      ember.eval();
      nativeModel.eval();
      opts.setIntraOpNumThreads(threads);
      opts.setInterOpNumThreads(1);
      opts.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
      try (OrtSession ort = env.createSession(file.toString(), opts)) {
        List<OnnxTensor> inputs = new ArrayList<>();
        NDArray[] views = new NDArray[POOL_BATCHES];
        try (MemoryScope data = MemoryScope.open()) {
          NDArray all = NDArray.of(pool, POOL_BATCHES * batch, features);
          for (int i = 0; i < POOL_BATCHES; i++) {
            views[i] = all.narrow(0, i * batch, batch).reshape(viewShape);
            inputs.add(
                OnnxTensor.createTensor(
                    env,
                    FloatBuffer.wrap(pool, i * batch * features, batch * features).slice(),
                    dims));
          }
          String in = ort.getInputNames().iterator().next();
          Scorer emberScorer =
              i -> {
                try (MemoryScope step = MemoryScope.open()) {
                  float[] logits = ember.forward(Tensor.of(views[i].share())).data().toFloatArray();
                  return logits[0];
                }
              };
          Scorer ortScorer =
              i -> {
                try (OrtSession.Result out = ort.run(Map.of(in, inputs.get(i)))) {
                  float[][] logits = (float[][]) out.get(0).getValue();
                  return logits[0][0];
                }
              };
          Scorer nativeScorer =
              i -> {
                try (MemoryScope step = MemoryScope.open()) {
                  float[] logits =
                      nativeModel.forward(Tensor.of(views[i].share())).data().toFloatArray();
                  return logits[0];
                }
              };
          double[][] rates =
              time(
                  new Scorer[] {emberScorer, ortScorer, nativeScorer},
                  batch,
                  reps,
                  repSeconds,
                  warmup);
          report("ember", threads, model, batch, rates[0]);
          report("onnxruntime", threads, model, batch, rates[1]);
          report("ember-native", threads, model, batch, rates[2]);
          System.out.printf(
              Locale.ROOT,
              "RATIO threads=%d %s batch=%d ember/onnxruntime %.2f%n",
              threads,
              model,
              batch,
              median(rates[0]) / median(rates[1]));
        } finally {
          for (OnnxTensor t : inputs) {
            t.close();
          }
        }
      }
    }
  }

  /** Rows/s of each scorer per repetition, the scorers alternating. */
  private static double[][] time(
      Scorer[] scorers, int batch, int reps, double repSeconds, double warmup) throws Exception {
    int[] steps = new int[scorers.length];
    for (int s = 0; s < scorers.length; s++) {
      long end = System.nanoTime() + (long) (warmup * 1e9);
      int n = 0;
      long start = System.nanoTime();
      while (System.nanoTime() < end) {
        scorers[s].score(n++ % POOL_BATCHES);
      }
      double perStep = (System.nanoTime() - start) / 1e9 / n;
      steps[s] = Math.max(1, (int) (repSeconds / perStep));
    }
    double[][] rates = new double[scorers.length][reps];
    double sink = 0;
    for (int r = 0; r < reps; r++) {
      for (int s = 0; s < scorers.length; s++) {
        long start = System.nanoTime();
        for (int i = 0; i < steps[s]; i++) {
          sink += scorers[s].score(i % POOL_BATCHES);
        }
        rates[s][r] = (double) steps[s] * batch / ((System.nanoTime() - start) / 1e9);
      }
    }
    if (sink == 42.4242) {
      System.out.println(); // keeps the logits read back live
    }
    return rates;
  }

  private static void report(String system, int threads, String model, int batch, double[] r) {
    System.out.printf(
        Locale.ROOT,
        "SUMMARY %s threads=%d %s batch=%d median %.0f rows/s (reps %s)%n",
        system,
        threads,
        model,
        batch,
        median(r),
        Arrays.toString(Arrays.stream(r).mapToLong(Math::round).toArray()));
  }

  private static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }

  private static Map<String, String> parse(String[] args) {
    Map<String, String> o = new LinkedHashMap<>();
    for (int i = 0; i < args.length; i++) {
      if (!args[i].startsWith("--") || i + 1 >= args.length) {
        throw new IllegalArgumentException("expected --option value, got " + args[i]);
      }
      o.put(args[i].substring(2), args[++i]);
    }
    return o;
  }
}
