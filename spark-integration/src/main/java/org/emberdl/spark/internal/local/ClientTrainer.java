package org.emberdl.spark.internal.local;

import org.emberdl.federated.Update;
import org.emberdl.federated.UpdateKind;
import org.emberdl.federated.secagg.DistributedGaussianNoise;
import org.emberdl.nn.Module;
import org.emberdl.nn.Reduction;
import org.emberdl.optim.Optimizer;
import org.emberdl.spark.internal.data.PartitionData;
import org.emberdl.spark.internal.train.Optimizers;
import org.emberdl.spark.internal.train.TrainingConfig;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;

/**
 * One federated client's round on an executor (fedavg, fedprox, dp-fedavg): starting from the
 * round's weights, {@code localEpochs} epochs over the client's rows in mini-batches of {@code
 * batchSize} with a fresh optimizer, FedProx's proximal gradient {@code mu (w - w_round)} added
 * when {@code proximalMu > 0}; the result is the client's model delta, either weighted by its
 * example count (FedAvg) or clipped to L2 norm S (DP-FedAvg).
 *
 * <p>A client's work depends only on (seed, global round, client index) and the weights: its rows
 * are shuffled by the generator keyed by (seed, round * localEpochs + e, client) and dropout by
 * (seed, round, client), so a client gives the same delta on any executor and in a retried task.
 */
public final class ClientTrainer {
  private ClientTrainer() {}

  /**
   * Trains client {@code client} (whose training rows are {@code rows} of {@code data}) on {@code
   * model}, which must hold the round's weights {@code start}.
   */
  static Update train(
      TrainingConfig c,
      ExecutorEngine engine,
      Module model,
      RoundWeights start,
      PartitionData data,
      int[] rows,
      int client,
      long globalRound) {
    double lossSum = 0;
    long correct = 0;
    long seen = 0;
    int n = rows.length;
    int batch = c.batchSize();
    try (Optimizer opt = Optimizers.create(c, model);
        MemoryScope scope = MemoryScope.open()) {
      // the schedule counts rounds: every local step of the round takes the round's rate
      c.schedule().applyTo(opt, globalRound);
      NDArray w0 = NDArray.of(start.values(), start.values().length);
      int[] order = new int[n];
      for (int e = 0; e < c.localEpochs(); e++) {
        int[] perm =
            PartitionTrainer.shuffle(
                c.seed(), (int) (globalRound * c.localEpochs() + e), client, n);
        for (int i = 0; i < n; i++) {
          order[i] = rows[perm[i]];
        }
        for (int lo = 0; lo < n; lo += batch) {
          int hi = Math.min(n, lo + batch);
          opt.zeroGrad();
          PartitionTrainer.StepResult r =
              PartitionTrainer.step(c, engine, model, data, order, lo, hi, Reduction.MEAN);
          if (c.proximalMu() > 0) {
            try (NDArray diff = model.flatParameters().values().sub(w0)) {
              model.flatParameters().grads().addInPlace(diff, c.proximalMu());
            }
          }
          opt.step();
          lossSum += r.lossSum();
          correct += r.correct();
          seen += hi - lo;
        }
      }
    }
    float[] delta = model.flatParameters().values().toFloatArray();
    float[] w0 = start.values();
    boolean clipped = c.updateKind() == UpdateKind.CLIPPED_DELTA_SUM;
    float weight = clipped ? 1 : n;
    for (int i = 0; i < delta.length; i++) {
      delta[i] = (delta[i] - w0[i]) * weight;
    }
    if (clipped) {
      DistributedGaussianNoise.clipToNorm(delta, c.clipNorm());
    }
    // examples = the client's rows (FedAvg's weight); the loss and accuracy average every local
    // step and are scaled to n examples
    float[] buffers = clipped ? new float[0] : PartitionTrainer.weightedBuffers(model, n);
    return new Update(
        delta,
        buffers,
        n,
        lossSum * n / Math.max(1, seen),
        Math.round((double) correct * n / Math.max(1, seen)));
  }

  /** What a partition without sampled clients sends: zeros of the round's shape. */
  public static Update empty(TrainingConfig c, RoundWeights weights) {
    boolean clipped = c.updateKind() == UpdateKind.CLIPPED_DELTA_SUM;
    return new Update(
        new float[weights.values().length],
        new float[clipped ? 0 : weights.buffers().length],
        0,
        0,
        0);
  }

  /** The dropout generator of a client's round. */
  static Generator dropout(TrainingConfig c, long globalRound, int client) {
    return Generator.forTask(c.seed() ^ PartitionTrainer.DROPOUT_SALT, globalRound, client);
  }
}
