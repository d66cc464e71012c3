package org.emberdl.spark.internal.train;

import org.emberdl.federated.ServerOptimizer;
import org.emberdl.federated.Step;
import org.emberdl.nn.Module;
import org.emberdl.optim.Optimizer;
import org.emberdl.spark.internal.io.Checkpoints;
import org.emberdl.spark.internal.local.ModuleBuffers;
import org.emberdl.spark.internal.local.PartitionTrainer;
import org.emberdl.spark.internal.local.RoundWeights;
import org.emberdl.spark.internal.plan.LrSchedule;

/**
 * The driver's authoritative training state: the model, its optimizer and (federated) the server
 * optimizer. Steps are applied here; the executors only ever see {@link #snapshot}s.
 */
final class ServerState implements AutoCloseable {
  private final Module model;
  private final Optimizer optimizer;
  private final ServerOptimizer server;
  private final LrSchedule schedule;

  /**
   * @param server the federated server optimizer whose state is checkpointed, or null
   * @param schedule the rate of each of {@code optimizer}'s steps
   */
  ServerState(Module model, Optimizer optimizer, ServerOptimizer server, LrSchedule schedule) {
    this.model = model;
    this.optimizer = optimizer;
    this.server = server;
    this.schedule = schedule;
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

  /** The optimizer whose state a replica of the driver's state starts from. */
  Optimizer optimizer() {
    return optimizer;
  }

  /** Applies the aggregated step of global round {@code globalRound} ({@link Steps#apply}). */
  void apply(Step step, long globalRound) {
    Steps.apply(model, optimizer, step, schedule, globalRound);
  }

  /** The step of global round {@code globalRound}, for a path to apply ahead of this thread. */
  RoundExecutor.DriverStep stepAt(long globalRound) {
    return new RoundExecutor.DriverStep() {
      @Override
      public void apply(Step step) {
        ServerState.this.apply(step, globalRound);
      }

      @Override
      public Module model() {
        return model;
      }
    };
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
