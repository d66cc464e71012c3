package org.emberdl.spark.internal.train;

import org.emberdl.federated.ServerOptimizer;
import org.emberdl.federated.Step;
import org.emberdl.nn.Gradients;
import org.emberdl.nn.Module;
import org.emberdl.optim.Optimizer;
import org.emberdl.spark.internal.io.Checkpoints;
import org.emberdl.spark.internal.local.FrozenParameters;
import org.emberdl.spark.internal.local.ModuleBuffers;
import org.emberdl.spark.internal.local.PartitionTrainer;
import org.emberdl.spark.internal.local.RoundWeights;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;

/**
 * The driver's authoritative training state: the model, its optimizer and (federated) the server
 * optimizer. Steps are applied here; the executors only ever see {@link #snapshot}s.
 */
final class ServerState implements AutoCloseable {
  private final Module model;
  private final Optimizer optimizer;
  private final ServerOptimizer server;
  private final long[] frozen; // flat ranges of frozen parameters (frozenPrefixes)

  /**
   * @param server the federated server optimizer whose state is checkpointed, or null
   */
  ServerState(Module model, Optimizer optimizer, ServerOptimizer server) {
    this.model = model;
    this.optimizer = optimizer;
    this.server = server;
    this.frozen = FrozenParameters.flatRanges(model);
  }

  Module model() {
    return model;
  }

  /** Null unless federated. */
  ServerOptimizer server() {
    return server;
  }

  /** A copy of the current weights and buffers, to send to the executors. */
  RoundWeights snapshot() {
    return new RoundWeights(
        model.flatParameters().values().toFloatArray(), ModuleBuffers.read(model));
  }

  /** Applies an aggregated step: the optimizer's on a gradient, an addition on a delta. */
  void apply(Step step) {
    if (frozen.length > 0) {
      // frozenPrefixes: a delta (with dp-fedavg's noise) must not move frozen parameters either
      FrozenParameters.zeroFrozen(step.values(), frozen);
    }
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray values = NDArray.of(step.values(), step.values().length);
      if (step.kind() == Step.Kind.GRADIENT) {
        try (Gradients g = Gradients.fromFlat(model, values)) {
          optimizer.step(g);
        }
      } else {
        model.flatParameters().values().addInPlace(values);
      }
    }
    if (step.buffers() != null) {
      ModuleBuffers.write(model, step.buffers());
    }
  }

  /** Replaces the weights and buffers with {@code weights} (early stopping's best epoch). */
  void load(RoundWeights weights) {
    PartitionTrainer.load(model, weights);
  }

  /** What a checkpoint writes and restores of this state. */
  Checkpoints.State checkpointed() {
    return new Checkpoints.State(model, optimizer, server);
  }

  /** Closes the optimizer; the model belongs to the caller. */
  @Override
  public void close() {
    optimizer.close();
  }
}
