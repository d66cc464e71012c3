package org.emberdl.spark.internal.local;

import org.apache.arrow.memory.OutOfMemoryException;
import org.emberdl.autograd.NoGrad;
import org.emberdl.autograd.Tensor;
import org.emberdl.federated.Update;
import org.emberdl.federated.UpdateKind;
import org.emberdl.federated.dp.DpSgd;
import org.emberdl.nn.CrossEntropyLoss;
import org.emberdl.nn.Dropout;
import org.emberdl.nn.MSELoss;
import org.emberdl.nn.Module;
import org.emberdl.nn.Reduction;
import org.emberdl.optim.Optimizer;
import org.emberdl.spark.internal.data.PartitionData;
import org.emberdl.spark.internal.data.TrainRows;
import org.emberdl.spark.internal.plan.TaskKind;
import org.emberdl.spark.internal.train.Optimizers;
import org.emberdl.spark.internal.train.TrainingConfig;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;

/**
 * The executor's side of a round: one partition's share of the global batch (or its {@code
 * localSteps} local steps) on a replica of the network, turned into an {@link Update}; and the
 * forward-only evaluation of held-out rows.
 *
 * <p>A task's work depends only on (seed, epoch, round, partition) and the broadcast weights: the
 * shuffle of a partition's rows is drawn from the counter-based generator keyed by (seed, epoch,
 * partition), dropout masks from the one keyed by (seed, global round, partition). A retried task
 * therefore produces the same update bit for bit.
 */
public final class PartitionTrainer {
  private static final long SHUFFLE_SALT = 0x5348_5546_464c_4545L;
  static final long DROPOUT_SALT = 0x4452_4f50_4f55_5421L;
  private static final long SAMPLE_SALT = 0x5341_4d50_4c45_5f51L;

  private PartitionTrainer() {}

  /**
   * Runs round {@code round} (0-based within {@code epoch}) of one partition. In federated rounds
   * only the clients (dense client indices) with {@code sampledClients[client]} train, each from
   * the round's weights, and the partition returns the sum of their contributions in client order;
   * null samples every client.
   */
  public static Update train(
      TrainingConfig c,
      RoundWeights weights,
      PartitionData data,
      int partition,
      int epoch,
      int round,
      long globalRound,
      boolean[] sampledClients) {
    if (c.localEpochs() > 0 && !anySampled(data, sampledClients)) {
      return ClientTrainer.empty(c, weights);
    }
    return withReplica(
        c,
        (engine, model) -> {
          if (c.localEpochs() > 0) {
            Update total = ClientTrainer.empty(c, weights);
            for (int k = 0; k < data.clients.length; k++) {
              int client = data.clients[k];
              if (sampledClients == null || sampledClients[client]) {
                total.add(clientRound(c, engine, model, weights, data, k, globalRound));
              }
            }
            return total;
          }
          load(model, weights);
          return trainLoaded(
              c,
              engine,
              model,
              weights,
              data,
              epochOrder(c, epoch, partition, data),
              partition,
              epoch,
              round,
              globalRound,
              null);
        });
  }

  /**
   * The epoch's shuffled order of the partition's rows for {@link #trainLoaded}, or null where the
   * update does not use it (DP-SGD samples each step's rows afresh).
   */
  public static int[] epochOrder(TrainingConfig c, int epoch, int partition, PartitionData data) {
    return c.updateKind() == UpdateKind.CLIPPED_GRADIENT_SUM
        ? null
        : shuffle(c.seed(), epoch, partition, data.trainRows);
  }

  /**
   * A round's update on {@code model}, which already holds {@code weights} (a training stage's task
   * keeps its replica and the epoch's {@code order} for all its steps; a round's task loads them
   * each time): the same code, on the same inputs, as either path takes.
   *
   * @param reuse an array a gradient sum is written into when it has the model's size (a stage's
   *     task, which hands its update over and gets it back free with the step's reply), or null
   */
  public static Update trainLoaded(
      TrainingConfig c,
      ExecutorEngine engine,
      Module model,
      RoundWeights weights,
      PartitionData data,
      int[] order,
      int partition,
      int epoch,
      int round,
      long globalRound,
      float[] reuse) {
    setDropoutGenerator(model, Generator.forTask(c.seed() ^ DROPOUT_SALT, globalRound, partition));
    model.train();
    if (c.updateKind() == UpdateKind.CLIPPED_GRADIENT_SUM) {
      return clippedGradientSum(c, engine, model, data, partition, globalRound);
    }
    if (c.updateKind() == UpdateKind.GRADIENT_SUM) {
      return gradientSum(c, engine, model, data, order, round, reuse);
    }
    return localSteps(c, engine, model, weights, data, order, epoch, round);
  }

  /** Client {@code data.clients[k]}'s round from {@code weights} on {@code model}. */
  public static Update clientRound(
      TrainingConfig c,
      ExecutorEngine engine,
      Module model,
      RoundWeights weights,
      PartitionData data,
      int k,
      long globalRound) {
    int client = data.clients[k];
    load(model, weights);
    setDropoutGenerator(model, ClientTrainer.dropout(c, globalRound, client));
    model.train();
    return ClientTrainer.train(
        c, engine, model, weights, data, data.clientRows[k], client, globalRound);
  }

  private static boolean anySampled(PartitionData data, boolean[] sampled) {
    if (sampled == null) {
      return data.clients.length > 0;
    }
    for (int client : data.clients) {
      if (sampled[client]) {
        return true;
      }
    }
    return false;
  }

  /** Work on this executor's replica of the fit's network. */
  public interface ReplicaWork<T> {
    T apply(ExecutorEngine engine, Module model);
  }

  /** Runs {@code work} on a replica borrowed from the executor's pool for this task. */
  public static <T> T withReplica(TrainingConfig c, ReplicaWork<T> work) {
    ExecutorEngine engine = ExecutorEngine.get();
    engine.enterTask(c.device());
    Module model = engine.borrow(c.runKey(), () -> newReplica(c));
    try (MemoryScope scope = MemoryScope.open()) {
      return work.apply(engine, model);
    } finally {
      engine.giveBack(c.runKey(), model);
    }
  }

  private static Module newReplica(TrainingConfig c) {
    Module m = c.network().build(new Generator(c.seed()));
    m.flatParameters();
    return m;
  }

  public static void load(Module model, RoundWeights weights) {
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray values = model.flatParameters().values();
      values.copyFrom(NDArray.of(weights.values(), values.shape()));
    }
    if (weights.buffers().length > 0) {
      ModuleBuffers.write(model, weights.buffers());
    }
  }

  private static void setDropoutGenerator(Module module, Generator gen) {
    if (module instanceof Dropout d) {
      d.setGenerator(gen);
    }
    for (Module child : module.children().values()) {
      setDropoutGenerator(child, gen);
    }
  }

  /** The epoch's order of a partition's training rows. */
  public static int[] shuffle(long seed, int epoch, int partition, int rows) {
    if (rows == 0) {
      return new int[0];
    }
    try (NDArray perm =
        NDArray.randperm(Generator.forTask(seed ^ SHUFFLE_SALT, epoch, partition), rows)) {
      return perm.toIntArray();
    }
  }

  /** Rows {@code [lo, hi)} of the shuffled order for slice {@code chunk} of {@code chunks}. */
  static int chunkStart(int rows, int chunk, int chunks) {
    return (int) ((long) rows * chunk / chunks);
  }

  private static Update gradientSum(
      TrainingConfig c,
      ExecutorEngine engine,
      Module model,
      PartitionData data,
      int[] order,
      int round,
      float[] reuse) {
    int lo = chunkStart(data.trainRows, round, c.chunksPerEpoch());
    int hi = chunkStart(data.trainRows, round + 1, c.chunksPerEpoch());
    int size = Math.toIntExact(model.flatParameters().numel());
    if (hi == lo) {
      return new Update(new float[size], ModuleBuffers.read(model), 0, 0, 0);
    }
    model.zeroGrad();
    StepResult r = step(c, engine, model, data, order, lo, hi, Reduction.SUM);
    float[] grads = model.flatParameters().grads().toFloatArray(reuse);
    return new Update(grads, weightedBuffers(model, hi - lo), hi - lo, r.lossSum, r.correct);
  }

  /**
   * DP-SGD's share of one step: a Poisson sample (rate q, keyed by seed, global round and
   * partition, or by the fit's secret key under secureNoise) of the partition's rows, each
   * example's gradient clipped to C, summed; no noise here (the aggregator adds it once to the
   * total).
   */
  private static Update clippedGradientSum(
      TrainingConfig c,
      ExecutorEngine engine,
      Module model,
      PartitionData data,
      int partition,
      long globalRound) {
    int[] rows =
        c.sampler() != null
            ? c.sampler().poissonSample(data.trainRows, c.samplingRate(), globalRound, partition)
            : DpSgd.poissonSample(
                data.trainRows,
                c.samplingRate(),
                Generator.forTask(c.seed() ^ SAMPLE_SALT, globalRound, partition));
    int size = Math.toIntExact(model.flatParameters().numel());
    if (rows.length == 0) {
      return new Update(new float[size], new float[0], 0, 0, 0);
    }
    double[] lossSum = {0};
    long[] correct = {0};
    try (MemoryScope scope = MemoryScope.open();
        CrossEntropyLoss ce = new CrossEntropyLoss(Reduction.NONE)) {
      TrainRows train = data.train();
      NDArray x = train.gather(rows, 0, rows.length, c.network().inputShape());
      NDArray y = targets(c.kind(), train, rows, x.shape(0));
      DpSgd.PerExampleLoss loss =
          (out, target) -> {
            Tensor l =
                c.kind() == TaskKind.CLASSIFICATION
                    ? ce.apply(out, target)
                    : new MSELoss(Reduction.NONE).apply(out, target.reshape(out.shape()));
            try (NDArray total = l.data().sum()) {
              lossSum[0] += total.item();
            }
            if (c.kind() == TaskKind.CLASSIFICATION) {
              correct[0] += countCorrect(out.data(), target);
            }
            return l;
          };
      try (DpSgd.ClippedSum sum = DpSgd.clippedSum(model, x, y, loss, c.clipNorm())) {
        return new Update(
            sum.sum().toFloatArray(), new float[0], rows.length, lossSum[0], correct[0]);
      }
    } catch (OutOfMemoryException e) {
      throw engine.batchOverBudget(rows.length, "batchSize", e);
    }
  }

  private static NDArray targets(TaskKind kind, TrainRows y, int[] rows, int n) {
    if (kind == TaskKind.CLASSIFICATION) {
      long[] labels = new long[n];
      for (int i = 0; i < n; i++) {
        labels[i] = (long) y.label(rows[i]);
      }
      return NDArray.of(labels, n);
    }
    float[] t = new float[n];
    for (int i = 0; i < n; i++) {
      t[i] = y.label(rows[i]);
    }
    return NDArray.of(t, n);
  }

  private static long countCorrect(NDArray logits, NDArray target) {
    try (NDArray pred = logits.argmax(1, false)) {
      long[] p = pred.toLongArray();
      long[] t = target.toLongArray();
      long n = 0;
      for (int i = 0; i < p.length; i++) {
        if (p[i] == t[i]) {
          n++;
        }
      }
      return n;
    }
  }

  private static Update localSteps(
      TrainingConfig c,
      ExecutorEngine engine,
      Module model,
      RoundWeights start,
      PartitionData data,
      int[] order,
      int epoch,
      int round) {
    double lossSum = 0;
    long correct = 0;
    int used = 0;
    try (Optimizer opt = Optimizers.create(c, model)) {
      for (int k = 0; k < c.localSteps(); k++) {
        int chunk = round * c.localSteps() + k;
        if (chunk >= c.chunksPerEpoch()) {
          break;
        }
        int lo = chunkStart(data.trainRows, chunk, c.chunksPerEpoch());
        int hi = chunkStart(data.trainRows, chunk + 1, c.chunksPerEpoch());
        if (hi == lo) {
          continue;
        }
        opt.zeroGrad();
        StepResult r = step(c, engine, model, data, order, lo, hi, Reduction.MEAN);
        // model averaging: each local step is the fit's step of the global batch it trains on
        c.schedule().applyTo(opt, (long) epoch * c.chunksPerEpoch() + chunk);
        opt.step();
        lossSum += r.lossSum;
        correct += r.correct;
        used += hi - lo;
      }
    }
    float[] delta = model.flatParameters().values().toFloatArray();
    float[] w0 = start.values();
    for (int i = 0; i < delta.length; i++) {
      delta[i] = (delta[i] - w0[i]) * used;
    }
    return new Update(delta, weightedBuffers(model, used), used, lossSum, correct);
  }

  static float[] weightedBuffers(Module model, long examples) {
    float[] b = ModuleBuffers.read(model);
    for (int i = 0; i < b.length; i++) {
      b[i] *= examples;
    }
    return b;
  }

  record StepResult(double lossSum, long correct) {}

  /** Forward and backward on rows {@code order[lo..hi)}; loss summed or averaged. */
  static StepResult step(
      TrainingConfig c,
      ExecutorEngine engine,
      Module model,
      PartitionData data,
      int[] order,
      int lo,
      int hi,
      Reduction reduction) {
    try (MemoryScope scope = MemoryScope.open()) {
      int n = hi - lo;
      TrainRows train = data.train();
      NDArray x = train.gather(order, lo, hi, c.network().inputShape());
      Tensor out = model.forward(Tensor.of(x));
      Tensor loss = loss(c.kind(), out, train, order, lo, hi, reduction);
      loss.backward();
      double value = loss.item();
      double lossSum = reduction == Reduction.SUM ? value : value * n;
      long correct =
          c.kind() == TaskKind.CLASSIFICATION ? countCorrect(out.data(), train, order, lo, hi) : 0;
      return new StepResult(lossSum, correct);
    } catch (OutOfMemoryException e) {
      throw engine.batchOverBudget(hi - lo, "batchSize", e);
    }
  }

  private static Tensor loss(
      TaskKind kind, Tensor out, TrainRows y, int[] order, int lo, int hi, Reduction reduction) {
    int n = hi - lo;
    if (kind == TaskKind.CLASSIFICATION) {
      long[] labels = new long[n];
      for (int i = 0; i < n; i++) {
        labels[i] = (long) y.label(order[lo + i]);
      }
      try (CrossEntropyLoss ce = new CrossEntropyLoss(reduction)) {
        return ce.apply(out, NDArray.of(labels, n));
      }
    }
    float[] targets = new float[n];
    for (int i = 0; i < n; i++) {
      targets[i] = y.label(order[lo + i]);
    }
    return new MSELoss(reduction).apply(out, NDArray.of(targets, out.shape()));
  }

  static long countCorrect(NDArray logits, TrainRows y, int[] order, int lo, int hi) {
    try (NDArray pred = logits.argmax(1, false)) {
      long[] p = pred.dtype() == DType.INT64 ? pred.toLongArray() : toLong(pred.toIntArray());
      long correct = 0;
      for (int i = 0; i < p.length; i++) {
        if (p[i] == (long) y.label(order == null ? lo + i : order[lo + i])) {
          correct++;
        }
      }
      return correct;
    }
  }

  private static long[] toLong(int[] v) {
    long[] out = new long[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = v[i];
    }
    return out;
  }

  /** Loss sum and correct count of the partition's validation rows (forward only, eval mode). */
  public static Update evaluate(
      TrainingConfig c, RoundWeights weights, PartitionData data, int batch) {
    ExecutorEngine engine = ExecutorEngine.get();
    engine.enterTask(c.device());
    Module model = engine.borrow(c.runKey(), () -> newReplica(c));
    double lossSum = 0;
    long correct = 0;
    try (NoGrad ng = NoGrad.enter()) {
      load(model, weights);
      model.eval();
      TrainRows valid = data.validation();
      for (int lo = 0; lo < data.validRows; lo += batch) {
        int hi = Math.min(data.validRows, lo + batch);
        try (MemoryScope scope = MemoryScope.open()) {
          int[] idx = identity(lo, hi);
          NDArray x = valid.gather(idx, 0, hi - lo, c.network().inputShape());
          Tensor out = model.forward(Tensor.of(x));
          lossSum += loss(c.kind(), out, valid, idx, 0, hi - lo, Reduction.SUM).item();
          if (c.kind() == TaskKind.CLASSIFICATION) {
            correct += countCorrect(out.data(), valid, idx, 0, hi - lo);
          }
        }
      }
    } finally {
      engine.giveBack(c.runKey(), model);
    }
    return new Update(new float[0], new float[0], data.validRows, lossSum, correct);
  }

  private static int[] identity(int lo, int hi) {
    int[] idx = new int[hi - lo];
    for (int i = 0; i < idx.length; i++) {
      idx[i] = lo + i;
    }
    return idx;
  }
}
