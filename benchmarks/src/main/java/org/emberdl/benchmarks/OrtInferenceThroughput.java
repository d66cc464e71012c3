package org.emberdl.benchmarks;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;

/**
 * The ONNX Runtime side of the forward-only row ({@code infer:B}) of the peer comparison in {@code
 * benchmarks/peers/}: the MLP 784-256-128-10 exported by PyTorch ({@code pytorch_train.py
 * --export-onnx FILE}, written at run time), scored by ONNX Runtime for Java with {@code --threads}
 * intra-op threads, one inter-op thread, sequential execution and all graph optimizations.
 *
 * <p>Data and timing as {@link TrainingThroughput}'s {@code infer} row: the same pool (standard
 * normal, from Ember's {@link Generator} with the same seed, so the very rows Ember scores), batch
 * {@code i} of the pool per step, logits copied back to the heap. The input tensors (one per pool
 * batch, over direct buffers) are made once before timing, as a serving loop would hold them.
 *
 * <pre>
 * --model FILE         the exported ONNX file (required)
 * --configs infer:4096 model:batch list; only infer configurations run, others are skipped
 * --threads N          intra-op threads (default 1)
 * --reps N, --rep-seconds X, --warmup-seconds X, --seed N, --label NAME (default ort)
 * </pre>
 *
 * Prints the {@code RESULT}/{@code SUMMARY} lines of {@link TrainingThroughput}. Command-line
 * output goes to stdout by design.
 */
public final class OrtInferenceThroughput {
  private static final int POOL_MIN = 8192;
  private static final int FEATURES = 784;

  private OrtInferenceThroughput() {}

  public static void main(String[] args) throws OrtException {
    Map<String, String> o = TrainingThroughput.parse(args);
    String model = o.get("model");
    if (model == null || !Files.isRegularFile(Path.of(model))) {
      throw new IllegalArgumentException("--model must name an existing ONNX file, got " + model);
    }
    int threads = Integer.parseInt(o.getOrDefault("threads", "1"));
    String label = o.getOrDefault("label", "ort");
    int reps = Integer.parseInt(o.getOrDefault("reps", "5"));
    double repSeconds = Double.parseDouble(o.getOrDefault("rep-seconds", "1.0"));
    double warmupSeconds = Double.parseDouble(o.getOrDefault("warmup-seconds", "3.0"));
    long seed = Long.parseLong(o.getOrDefault("seed", "42"));
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    System.out.printf(
        Locale.ROOT, "# onnxruntime %s, intra-op threads %d%n", env.getVersion(), threads);
    try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions()) {
      opts.setIntraOpNumThreads(threads);
      opts.setInterOpNumThreads(1);
      opts.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
      opts.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
      try (OrtSession session = env.createSession(model, opts)) {
        for (String config : o.getOrDefault("configs", "infer:4096").split(",")) {
          String[] mb = config.split(":");
          if (!mb[0].equals("infer")) {
            System.out.println("# " + label + ": skips " + config + " (forward-only rows only)");
            continue;
          }
          int batch = Integer.parseInt(mb[1]);
          double[] rates = run(env, session, batch, reps, repSeconds, warmupSeconds, seed);
          for (double r : rates) {
            System.out.printf(
                Locale.ROOT, "RESULT %s %d %s %d %.1f%n", label, threads, mb[0], batch, r);
          }
          System.out.printf(
              Locale.ROOT,
              "SUMMARY %s threads=%d %s batch=%d median %.0f samples/s (reps %s)%n",
              label,
              threads,
              mb[0],
              batch,
              TrainingThroughput.median(rates),
              Arrays.toString(Arrays.stream(rates).mapToLong(Math::round).toArray()));
        }
      }
    }
  }

  private static double[] run(
      OrtEnvironment env,
      OrtSession session,
      int batch,
      int reps,
      double repSeconds,
      double warmupSeconds,
      long seed)
      throws OrtException {
    int batches = Math.max(4, (POOL_MIN + batch - 1) / batch);
    float[] pool;
    try (MemoryScope scope = MemoryScope.open()) {
      // the first draw of the generator: the pool TrainingThroughput's infer row scores
      pool =
          NDArray.randn(new Generator(seed), DType.FLOAT32, batches * batch, FEATURES)
              .toFloatArray();
    }
    String input = session.getInputNames().iterator().next();
    List<OnnxTensor> inputs = new ArrayList<>();
    try {
      for (int i = 0; i < batches; i++) {
        FloatBuffer direct =
            ByteBuffer.allocateDirect(batch * FEATURES * Float.BYTES)
                .order(ByteOrder.nativeOrder())
                .asFloatBuffer();
        direct.put(pool, i * batch * FEATURES, batch * FEATURES).flip();
        inputs.add(OnnxTensor.createTensor(env, direct, new long[] {batch, FEATURES}));
      }
      double[] sum = {0};
      int[] next = {0};
      Runnable step =
          () -> {
            OnnxTensor x = inputs.get(next[0]);
            next[0] = (next[0] + 1) % batches;
            try (OrtSession.Result out = session.run(Map.of(input, x))) {
              FloatBuffer logits = ((OnnxTensor) out.get(0)).getFloatBuffer();
              if (logits.remaining() != batch * 10) {
                throw new IllegalStateException(
                    "the ONNX model returned "
                        + logits.remaining()
                        + " values, expected ("
                        + batch
                        + ", 10)");
              }
              sum[0] += logits.get(0);
            } catch (OrtException e) {
              throw new IllegalStateException("ONNX Runtime failed on batch " + batch, e);
            }
          };
      long start = System.nanoTime();
      int warm = 0;
      while (warm < 5 || System.nanoTime() - start < warmupSeconds * 1e9) {
        step.run();
        warm++;
      }
      double stepSeconds = (System.nanoTime() - start) / 1e9 / warm;
      int steps = Math.max(3, (int) Math.ceil(repSeconds / stepSeconds));
      double[] rates = new double[reps];
      for (int r = 0; r < reps; r++) {
        long t0 = System.nanoTime();
        for (int s = 0; s < steps; s++) {
          step.run();
        }
        rates[r] = (double) steps * batch / ((System.nanoTime() - t0) / 1e9);
      }
      if (!Double.isFinite(sum[0])) {
        throw new IllegalStateException("non-finite logits at batch " + batch);
      }
      return rates;
    } finally {
      for (OnnxTensor t : inputs) {
        t.close();
      }
    }
  }
}
