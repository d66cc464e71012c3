package org.emberdl.examples;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.emberdl.autograd.NoGrad;
import org.emberdl.autograd.Tensor;
import org.emberdl.data.Batch;
import org.emberdl.data.DataLoader;
import org.emberdl.data.Dataset;
import org.emberdl.data.FashionMnist;
import org.emberdl.nn.CrossEntropyLoss;
import org.emberdl.nn.Module;
import org.emberdl.optim.Adam;
import org.emberdl.optim.CosineAnnealingLr;
import org.emberdl.optim.LrScheduler;
import org.emberdl.tensor.EmberConfig;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.memory.Allocators;

/**
 * Trains an MLP, a small CNN or an LSTM over the image rows ({@link RowLstm}) on Fashion-MNIST with
 * Adam and reports loss, accuracy and speed per epoch, then saves the weights as safetensors
 * (loadable in PyTorch with the same module names).
 *
 * <pre>
 * --model mlp|cnn|lstm|vit  network (default mlp; vit: {@link PatchTransformer})
 * --epochs N            default 5 (mlp, lstm, vit) or 2 (cnn)
 * --batch-size N        default 128
 * --lr X                Adam learning rate, default 1e-3
 * --schedule constant|cosine   cosine annealing to 0 over all steps (default constant)
 * --seed N              initialization and shuffling seed, default 42
 * --threads N           CPU threads (default: all cores)
 * --limit N             train on the first N examples only (quick runs)
 * --data DIR            default /usr/share/datasets/fashion-mnist
 * --out FILE            default target/fashion-mnist-{model}.safetensors
 * </pre>
 *
 * Command-line output goes to stdout by design.
 */
public final class FashionMnistTraining {
  private final Map<String, String> options;
  private final PrintStream out;

  FashionMnistTraining(Map<String, String> options, PrintStream out) {
    this.options = options;
    this.out = out;
  }

  public static void main(String[] args) throws IOException {
    Result r = new FashionMnistTraining(parse(args), System.out).run();
    System.out.printf(Locale.ROOT, "final test accuracy: %.2f%%%n", 100 * r.testAccuracy());
  }

  /** Per-run outcome, for tests and scripts. */
  public record Result(double trainLoss, double testAccuracy, double samplesPerSecond) {}

  static Map<String, String> parse(String[] args) {
    Map<String, String> o = new LinkedHashMap<>();
    for (int i = 0; i < args.length; i++) {
      if (!args[i].startsWith("--") || i + 1 >= args.length) {
        throw new IllegalArgumentException("expected --option value pairs, got " + args[i]);
      }
      o.put(args[i].substring(2), args[++i]);
    }
    return o;
  }

  private String opt(String name, String dflt) {
    return options.getOrDefault(name, dflt);
  }

  Result run() throws IOException {
    String model = opt("model", "mlp");
    int epochs = Integer.parseInt(opt("epochs", model.equals("cnn") ? "2" : "5"));
    int batchSize = Integer.parseInt(opt("batch-size", "128"));
    double lr = Double.parseDouble(opt("lr", "1e-3"));
    long seed = Long.parseLong(opt("seed", "42"));
    if (options.containsKey("threads")) {
      EmberConfig.setThreads(Integer.parseInt(options.get("threads")));
    }
    Path dir = Path.of(opt("data", FashionMnist.DEFAULT_DIR.toString()));
    Path target = Path.of(opt("out", "target/fashion-mnist-" + model + ".safetensors"));

    Result result;
    try (Dataset fullTrain = FashionMnist.train(dir);
        Dataset test = FashionMnist.test(dir);
        Dataset train =
            options.containsKey("limit")
                ? fullTrain.subset(0, Integer.parseInt(options.get("limit")))
                : fullTrain.subset(0, fullTrain.size());
        Module net = createModel(model, new Generator(seed))) {
      out.println(net.summary());
      try (Adam optimizer = new Adam(net, lr)) {
        DataLoader loader = new DataLoader(train, batchSize, true, false, seed);
        LrScheduler schedule =
            opt("schedule", "constant").equals("cosine")
                ? new CosineAnnealingLr(optimizer, epochs * loader.numBatches(), 0)
                : null;
        CrossEntropyLoss lossFn = new CrossEntropyLoss();
        double trainLoss = 0;
        double speed = 0;
        double accuracy = 0;
        for (int epoch = 0; epoch < epochs; epoch++) {
          net.train();
          long start = System.nanoTime();
          double lossSum = 0;
          long correct = 0;
          long seen = 0;
          int step = 0;
          for (Batch batch : loader.epoch(epoch)) {
            try (batch;
                MemoryScope scope = MemoryScope.open()) {
              optimizer.zeroGrad();
              Tensor logits = net.forward(Tensor.of(batch.x().share()));
              Tensor loss = lossFn.apply(logits, batch.y());
              loss.backward();
              optimizer.step();
              if (schedule != null) {
                schedule.step();
              }
              lossSum += loss.item() * batch.size();
              correct += countCorrect(logits.data(), batch.y());
              seen += batch.size();
            }
            if (++step % 50 == 0 || step == loader.numBatches()) {
              out.printf(
                  Locale.ROOT,
                  "\repoch %d/%d [%-30s] %d/%d  loss %.4f",
                  epoch + 1,
                  epochs,
                  "=".repeat(30 * step / loader.numBatches()),
                  step,
                  loader.numBatches(),
                  lossSum / seen);
            }
          }
          double seconds = (System.nanoTime() - start) / 1e9;
          trainLoss = lossSum / seen;
          speed = seen / seconds;
          accuracy = evaluate(net, test);
          out.printf(
              Locale.ROOT,
              "%nepoch %d: train loss %.4f, train acc %.2f%%, test acc %.2f%%, %.0f samples/s"
                  + " (%.1f s)%n",
              epoch + 1,
              trainLoss,
              100.0 * correct / seen,
              100 * accuracy,
              speed,
              seconds);
        }
        Files.createDirectories(target.toAbsolutePath().getParent());
        net.save(target);
        out.println("saved " + target.toAbsolutePath());
        result = new Result(trainLoss, accuracy, speed);
      }
    }
    out.println("off-heap bytes still allocated: " + Allocators.cpuAllocatedBytes());
    return result;
  }

  static Module createModel(String name, Generator gen) {
    return switch (name) {
      case "mlp" -> new Mlp(gen);
      case "cnn" -> new SmallCnn(gen);
      case "vit" -> new PatchTransformer(gen);
      case "lstm" -> new RowLstm(gen);
      default ->
          throw new IllegalArgumentException("unknown model " + name + " (mlp, cnn, lstm or vit)");
    };
  }

  private static long countCorrect(NDArray logits, NDArray labels) {
    try (NDArray pred = logits.argmax(1, false);
        NDArray hit = pred.eq(labels);
        NDArray n = hit.sum()) {
      return (long) n.item();
    }
  }

  /** Test accuracy in eval mode, without recording gradients, 1000 images at a time. */
  static double evaluate(Module net, Dataset test) {
    net.eval();
    long correct = 0;
    try (NoGrad ignored = NoGrad.enter()) {
      for (int from = 0; from < test.size(); from += 1000) {
        int to = Math.min(test.size(), from + 1000);
        try (MemoryScope scope = MemoryScope.open();
            Dataset part = test.subset(from, to)) {
          Tensor logits = net.forward(Tensor.of(part.features().share()));
          correct += countCorrect(logits.data(), part.labels());
        }
      }
    }
    return (double) correct / test.size();
  }
}
