package org.emberdl.spark.internal.train;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import org.emberdl.federated.Aggregator;
import org.emberdl.federated.Update;
import org.emberdl.spark.EpochMetrics;
import org.emberdl.spark.TrainingSummary;
import org.emberdl.spark.internal.io.Checkpoints;
import org.emberdl.spark.internal.plan.DataSizes;
import org.emberdl.spark.internal.plan.TaskKind;
import org.emberdl.spark.internal.plan.TrainingPlan;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The epochs of a fit on the driver: restore, then per epoch check the privacy budget, run the
 * rounds, validate, record, decide whether to stop, checkpoint; finally return the best weights
 * when early stopping asks for them. Which transport carries the rounds is the {@link
 * RoundExecutor}'s business: the loop never touches Spark.
 */
public final class TrainingLoop {
  private static final Logger LOG = LoggerFactory.getLogger(TrainingLoop.class);

  private final TrainingPlan plan;
  private final RoundExecutor rounds;
  private final ServerState state;
  private final TrainingCheckpoints checkpoints;
  private final FitProgress progress;
  private final Consumer<String> describe;
  private final EarlyStopping stopping;
  private final PrivacyBudget budget;
  private final List<EpochMetrics> history = new ArrayList<>();
  private Aggregator aggregator;
  private int startEpoch;
  private double roundMillis;
  private long roundCount;
  private long skippedRounds;
  private double lastLoss = Double.NaN;
  private double lastEpochLoss;

  /**
   * @param describe shows what runs now (Spark's job description); null clears it
   */
  TrainingLoop(
      TrainingPlan plan,
      RoundExecutor rounds,
      ServerState state,
      TrainingCheckpoints checkpoints,
      FitProgress progress,
      Consumer<String> describe) {
    this.plan = plan;
    this.rounds = rounds;
    this.state = state;
    this.checkpoints = checkpoints;
    this.progress = progress;
    this.describe = describe;
    this.stopping = new EarlyStopping(plan.earlyStoppingPatience());
    this.budget = new PrivacyBudget(plan.dp(), plan.roundsPerEpoch());
  }

  /** Trains from the latest checkpoint (if any) to the end; the weights end up in the state. */
  TrainingSummary run() {
    restore();
    // A fit that had already stopped early when its checkpoint was written stays stopped.
    boolean stoppedEarly = stopping.stopped();
    for (int epoch = startEpoch; !stoppedEarly && epoch < plan.maxEpochs(); epoch++) {
      if (!budget.affordable(history.isEmpty())) {
        stoppedEarly = true;
        break;
      }
      long start = System.nanoTime();
      Update trained = runEpoch(epoch);
      double seconds = (System.nanoTime() - start) / 1e9;
      Update validated = validate(epoch);
      EpochMetrics m = record(epoch, trained, validated, seconds);
      boolean stop =
          validated != null
              ? stopping.record(m.epoch(), m.validationLoss(), state::snapshot)
              : stopping.stopped();
      checkpoint(m.epoch(), stop);
      if (stop) {
        stoppedEarly = true;
        LOG.info(
            "early stopping after epoch {}: best validation loss {} at epoch {}",
            m.epoch(),
            stopping.bestLoss(),
            stopping.bestEpoch());
        break;
      }
    }
    return finish(stoppedEarly);
  }

  /** Continues from the newest checkpoint, if any; then builds the aggregator for what is left. */
  private void restore() {
    Checkpoints.Restored restored = checkpoints.restore();
    if (restored != null) {
      Checkpoints.Progress r = restored.progress();
      startEpoch = r.epochsDone();
      history.addAll(r.history());
      stopping.restore(r, restored.best());
      budget.restore(r.privacy(), startEpoch, restored.path());
    }
    // DP noise is keyed by global round: a resumed fit goes on with the rounds it has not run.
    aggregator = plan.aggregator(state.server(), (long) startEpoch * plan.roundsPerEpoch());
  }

  /** The rounds of {@code epoch}; their examples, loss and correct counts summed. */
  private Update runEpoch(int epoch) {
    progress.epochStarted(epoch);
    Update epochTotal = Update.zero(0, 0);
    rounds.beginEpoch(epoch, state::snapshot);
    int perEpoch = plan.roundsPerEpoch();
    for (int round = 0; round < perEpoch; round++) {
      long roundStart = System.nanoTime();
      describe.accept(
          String.format(
              "Ember epoch %d/%d, round %d/%d, loss %.4f",
              epoch + 1, plan.maxEpochs(), round + 1, perEpoch, lastLoss));
      long globalRound = (long) epoch * perEpoch + round;
      RoundExecutor.Combined combined =
          rounds.runAndCombine(
              new Round(epoch, round, globalRound, plan.sample(globalRound)),
              state::snapshot,
              aggregator,
              state.stepAt(globalRound));
      if (combined == null) { // a secure round of one client, skipped (SecureRound)
        skippedRounds++;
        progress.step(epoch, round, epochTotal.examples(), epochTotal.lossSum());
        continue;
      }
      Update total = combined.total();
      // a gradient step of sync or dp-sgd is the fit's optimizer step number globalRound
      if (!combined.applied()) {
        state.apply(combined.step(), globalRound);
      }
      rounds.stepApplied(state::snapshot);
      epochTotal.add(
          new Update(
              new float[0], new float[0], total.examples(), total.lossSum(), total.correct()));
      lastLoss = total.lossSum() / Math.max(1, total.examples());
      roundMillis += (System.nanoTime() - roundStart) / 1e6;
      roundCount++;
      progress.step(epoch, round, epochTotal.examples(), epochTotal.lossSum());
    }
    rounds.endEpoch();
    return epochTotal;
  }

  /** The validation sums after {@code epoch}, or null when there are no validation rows. */
  private Update validate(int epoch) {
    if (plan.sizes().validRows() == 0) {
      return null;
    }
    describe.accept(String.format("Ember epoch %d/%d, validation", epoch + 1, plan.maxEpochs()));
    return rounds.evaluate(state.snapshot());
  }

  /** The metrics of {@code epoch}, charged to the privacy budget, kept and reported. */
  private EpochMetrics record(int epoch, Update trained, Update validated, double seconds) {
    boolean classifies = plan.kind() == TaskKind.CLASSIFICATION;
    double validLoss = Double.NaN;
    double validAcc = Double.NaN;
    if (validated != null) {
      validLoss = validated.lossSum() / validated.examples();
      validAcc = classifies ? (double) validated.correct() / validated.examples() : Double.NaN;
    }
    EpochMetrics m =
        new EpochMetrics(
            epoch + 1,
            trained.lossSum() / trained.examples(),
            classifies ? (double) trained.correct() / trained.examples() : Double.NaN,
            trained.examples() / seconds,
            validLoss,
            validAcc,
            seconds,
            budget.spendEpoch());
    history.add(m);
    progress.epochEnded(m);
    LOG.info(
        "epoch {}/{}: {} ({} samples/s, {} s)",
        m.epoch(),
        plan.maxEpochs(),
        m.describe(),
        String.format(Locale.ROOT, "%.0f", m.samplesPerSecond()),
        String.format(Locale.ROOT, "%.1f", seconds));
    if (!Double.isFinite(m.loss()) && Double.isFinite(lastEpochLoss)) {
      // Training goes on (as PyTorch's would), but say it once: such a model won't save.
      LOG.warn(
          "epoch {}: the training loss is {}: training has diverged (lower learningRate);"
              + " the model will not save without write().option(\"allowNonFinite\", \"true\")",
          m.epoch(),
          m.loss());
    }
    lastEpochLoss = m.loss();
    return m;
  }

  /** Writes the checkpoint after {@code epochsDone} epochs when one is due. */
  private void checkpoint(int epochsDone, boolean stopsHere) {
    checkpoints.afterEpoch(
        new Checkpoints.Progress(
            epochsDone,
            checkpoints.settings(),
            stopping.bestLoss(),
            stopping.bestEpoch(),
            stopping.epochsWithoutImprovement(),
            history,
            budget.ledger()),
        stopsHere,
        stopping.bestWeights());
  }

  /** Returns to the best epoch's weights when training stopped early; the summary. */
  private TrainingSummary finish(boolean stoppedEarly) {
    describe.accept(null);
    if (skippedRounds > 0) {
      LOG.warn(
          "secure aggregation: {} of {} rounds skipped because they sampled a single client",
          skippedRounds,
          roundCount + skippedRounds);
    }
    int finalEpoch = history.isEmpty() ? 0 : history.get(history.size() - 1).epoch();
    if (stoppedEarly && stopping.bestWeights() != null) {
      state.load(stopping.bestWeights());
      finalEpoch = stopping.bestEpoch();
    }
    DataSizes sizes = plan.sizes();
    return new TrainingSummary(
        history,
        stoppedEarly,
        finalEpoch,
        sizes.trainRows(),
        sizes.validRows(),
        sizes.partitions(),
        plan.roundsPerEpoch(),
        roundCount == 0 ? Double.NaN : roundMillis / roundCount);
  }
}
