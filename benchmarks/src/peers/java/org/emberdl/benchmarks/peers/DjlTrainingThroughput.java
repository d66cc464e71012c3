package org.emberdl.benchmarks.peers;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Blocks;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.pooling.Pool;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The DJL (libtorch engine) side of the training-throughput comparison: the same networks, data
 * pool, step and timing as {@code org.emberdl.benchmarks.TrainingThroughput}, with the same options
 * and output lines. Built only with {@code -Ppeers}; run with {@code -Dai.djl.offline=true}. {@code
 * --threads N} sets libtorch's intra-op threads (inter-op: 1).
 *
 * <p>A step: a sub-manager holds the batch slice and every intermediate, {@link GradientCollector}
 * records forward and loss, backward, {@link Trainer#step()} applies Adam (lr 1e-3), the loss is
 * read back.
 */
public final class DjlTrainingThroughput {
  private static final int POOL_MIN = 8192;

  private DjlTrainingThroughput() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> o = new LinkedHashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      o.put(args[i].substring(2), args[i + 1]);
    }
    int threads = Integer.parseInt(o.getOrDefault("threads", "1"));
    // Read by PtEngine when it starts.
    System.setProperty("ai.djl.pytorch.num_threads", Integer.toString(threads));
    System.setProperty("ai.djl.pytorch.num_interop_threads", "1");
    String label = o.getOrDefault("label", "djl");
    int reps = Integer.parseInt(o.getOrDefault("reps", "5"));
    double repSeconds = Double.parseDouble(o.getOrDefault("rep-seconds", "1.0"));
    double warmupSeconds = Double.parseDouble(o.getOrDefault("warmup-seconds", "3.0"));
    int seed = Integer.parseInt(o.getOrDefault("seed", "42"));
    Engine engine = Engine.getEngine("PyTorch");
    engine.setRandomSeed(seed);
    System.out.println("# engine " + engine.getEngineName() + " " + engine.getVersion());
    for (String config : o.getOrDefault("configs", "mlp:64,mlp:256,mlp:1024,cnn:128").split(",")) {
      String[] mb = config.split(":");
      String model = mb[0];
      int batch = Integer.parseInt(mb[1]);
      double[] rates = run(model, batch, reps, repSeconds, warmupSeconds);
      for (double r : rates) {
        System.out.printf(
            Locale.ROOT, "RESULT %s %d %s %d %.1f%n", label, threads, model, batch, r);
      }
      double[] sorted = rates.clone();
      Arrays.sort(sorted);
      System.out.printf(
          Locale.ROOT,
          "SUMMARY %s threads=%d %s batch=%d median %.0f samples/s (reps %s)%n",
          label,
          threads,
          model,
          batch,
          sorted.length % 2 == 1
              ? sorted[sorted.length / 2]
              : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2,
          Arrays.toString(Arrays.stream(rates).mapToLong(Math::round).toArray()));
    }
  }

  static SequentialBlock create(String model) {
    SequentialBlock net = new SequentialBlock();
    switch (model) {
      case "mlp" ->
          net.add(Blocks.batchFlattenBlock())
              .add(Linear.builder().setUnits(256).build())
              .add(Activation::relu)
              .add(Linear.builder().setUnits(128).build())
              .add(Activation::relu)
              .add(Linear.builder().setUnits(10).build());
      case "cnn" ->
          net.add(Conv2d.builder().setKernelShape(new Shape(3, 3)).setFilters(32).build())
              .add(Activation::relu)
              .add(Pool.maxPool2dBlock(new Shape(2, 2), new Shape(2, 2)))
              .add(Conv2d.builder().setKernelShape(new Shape(3, 3)).setFilters(64).build())
              .add(Activation::relu)
              .add(Pool.maxPool2dBlock(new Shape(2, 2), new Shape(2, 2)))
              .add(Blocks.batchFlattenBlock())
              .add(Linear.builder().setUnits(128).build())
              .add(Activation::relu)
              .add(Linear.builder().setUnits(10).build());
      default -> throw new IllegalArgumentException("unknown model " + model);
    }
    return net;
  }

  static double[] run(
      String modelName, int batch, int reps, double repSeconds, double warmupSeconds) {
    int batches = Math.max(4, (POOL_MIN + batch - 1) / batch);
    int pool = batches * batch;
    Shape inputShape = modelName.equals("cnn") ? new Shape(pool, 1, 28, 28) : new Shape(pool, 784);
    try (NDManager manager = NDManager.newBaseManager(Device.cpu());
        Model model = Model.newInstance(modelName, Device.cpu(), "PyTorch")) {
      NDArray xs = manager.randomNormal(inputShape);
      NDArray ys = manager.randomInteger(0, 10, new Shape(pool), DataType.INT64);
      model.setBlock(create(modelName));
      DefaultTrainingConfig config =
          new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
              .optOptimizer(Optimizer.adam().optLearningRateTracker(Tracker.fixed(1e-3f)).build())
              .optDevices(new Device[] {Device.cpu()});
      try (Trainer trainer = model.newTrainer(config)) {
        long[] dims = new long[inputShape.dimension()];
        dims[0] = batch;
        for (int d = 1; d < dims.length; d++) {
          dims[d] = inputShape.get(d);
        }
        trainer.initialize(new Shape(dims));
        double[] lossSum = {0};
        int[] next = {0};
        Runnable step =
            () -> {
              int from = next[0] * batch;
              next[0] = (next[0] + 1) % batches;
              try (NDManager sub = manager.newSubManager()) {
                NDIndex rows = new NDIndex("{}:{}", from, from + batch);
                NDArray x = xs.get(sub, rows);
                NDArray y = ys.get(sub, rows);
                try (GradientCollector gc = trainer.newGradientCollector()) {
                  NDList pred = trainer.forward(new NDList(x));
                  NDArray loss = trainer.getLoss().evaluate(new NDList(y), pred);
                  gc.backward(loss);
                  lossSum[0] += loss.getFloat();
                }
                trainer.step();
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
        if (!Double.isFinite(lossSum[0])) {
          throw new IllegalStateException("non-finite loss in " + modelName + " batch " + batch);
        }
        return rates;
      }
    }
  }
}
