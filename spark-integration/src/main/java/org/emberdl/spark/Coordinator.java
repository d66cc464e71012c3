package org.emberdl.spark;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.storage.StorageLevel;
import org.emberdl.autograd.NoGrad;
import org.emberdl.autograd.Tensor;
import org.emberdl.federated.Aggregator;
import org.emberdl.federated.FederatedAveraging;
import org.emberdl.federated.MeanGradientAggregator;
import org.emberdl.federated.ModelAveragingAggregator;
import org.emberdl.federated.ServerOptimizer;
import org.emberdl.federated.Step;
import org.emberdl.federated.Update;
import org.emberdl.federated.dp.RdpAccountant;
import org.emberdl.federated.dp.SecretSampler;
import org.emberdl.nn.Gradients;
import org.emberdl.nn.Module;
import org.emberdl.optim.Optimizer;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The driver's side of training: caches the data on the executors, then runs rounds of broadcast
 * weights -> every partition's update -> {@link Aggregator} -> one optimizer step, with per-epoch
 * metrics, validation, early stopping and checkpoints.
 *
 * <p>Updates come back with {@code collect()}, which returns them in partition order, and are
 * summed in that order. (Spark's {@code treeAggregate} merges results in the order tasks finish,
 * which changes the last bits of a float sum from run to run; summing in a fixed order is what
 * makes training on the same data, seed and partitioning give the same weights every time.)
 */
final class Coordinator {
  private static final Logger LOG = LoggerFactory.getLogger(Coordinator.class);
  private static final int EVAL_BATCH = 1024;

  /** A finished fit: the weights as safetensors bytes, the summary, the output count. */
  record Result(byte[] weights, TrainingSummary summary, int numOutputs) {}

  private Coordinator() {}

  static Result fit(
      Dataset<?> dataset,
      EmberParams<?> p,
      TaskKind kind,
      String featuresCol,
      String labelCol,
      ProgressListener listener) {
    ParamScope.check(p); // before any Spark job: no Param the fit would ignore
    NetworkDefinition network = NetworkDefinition.of(p);
    SparkSession spark = dataset.sparkSession();
    JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    long seed = p.getSeed();
    try (Module model = network.build(new Generator(seed))) {
      int outputs = countOutputs(model, network);
      if (kind == TaskKind.REGRESSION && outputs != 1) {
        throw new IllegalArgumentException(
            "a regressor's network must have 1 output per example, this one has " + outputs);
      }
      String clientCol = p.getClientIdCol();
      boolean skipInvalid = p.getHandleInvalid().equals("skip");
      Dataset<Row> selected;
      int clients = -1; // -1: the partitions are the clients
      if (clientCol.isEmpty()) {
        selected =
            dataset.select(
                functions.col(featuresCol), functions.col(labelCol).cast("double").as(labelCol));
        if (p.getNumPartitions() > 0) {
          selected = selected.repartition(p.getNumPartitions());
        }
      } else {
        ClientIndex.Indexed indexed =
            ClientIndex.attach(
                dataset.select(
                    functions.col(featuresCol),
                    functions.col(labelCol).cast("double").as(labelCol),
                    functions.col(clientCol)),
                featuresCol,
                labelCol,
                clientCol,
                p.getNumPartitions(),
                skipInvalid);
        selected = indexed.data();
        clients = indexed.clients();
      }
      FeatureColumn features =
          FeatureColumn.of(selected.schema(), featuresCol, network.inputSize());
      JavaRDD<PartitionData> data =
          cache(
              selected,
              features,
              labelCol,
              kind,
              outputs,
              p.getValidationFraction(),
              seed,
              skipInvalid,
              clients >= 0);
      String runKey = "fit-" + UUID.randomUUID();
      try {
        return run(sc, data, model, network, kind, outputs, p, runKey, clients, listener);
      } finally {
        data.foreachPartition(it -> ExecutorEngine.get().release(runKey));
        data.unpersist(false);
      }
    }
  }

  /** Outputs per example, from a forward pass of one zero example. */
  private static int countOutputs(Module model, NetworkDefinition network) {
    int[] shape = new int[network.inputShape().length + 1];
    shape[0] = 1;
    System.arraycopy(network.inputShape(), 0, shape, 1, shape.length - 1);
    try (NoGrad ng = NoGrad.enter();
        MemoryScope scope = MemoryScope.open()) {
      model.eval();
      Tensor out = model.forward(Tensor.of(NDArray.zeros(DType.FLOAT32, shape)));
      model.train();
      return Math.toIntExact(out.data().numel());
    }
  }

  private static JavaRDD<PartitionData> cache(
      Dataset<Row> selected,
      FeatureColumn features,
      String labelCol,
      TaskKind kind,
      int numClasses,
      double validationFraction,
      long seed,
      boolean skipInvalid,
      boolean withClients) {
    JavaRDD<PartitionData> data =
        PartitionData.readAll(
            selected,
            features,
            labelCol,
            kind,
            numClasses,
            validationFraction,
            seed,
            skipInvalid,
            withClients);
    return data.persist(StorageLevel.MEMORY_AND_DISK());
  }

  private static Result run(
      JavaSparkContext sc,
      JavaRDD<PartitionData> data,
      Module model,
      NetworkDefinition network,
      TaskKind kind,
      int outputs,
      EmberParams<?> p,
      String runKey,
      int clientCount,
      ProgressListener listener) {
    List<long[]> sizes = data.map(d -> new long[] {d.trainRows, d.validRows, d.skipped}).collect();
    long trainRows = 0;
    long validRows = 0;
    long skipped = 0;
    long maxPartitionRows = 0;
    for (long[] s : sizes) {
      trainRows += s[0];
      validRows += s[1];
      skipped += s[2];
      maxPartitionRows = Math.max(maxPartitionRows, s[0]);
    }
    int clients = clientCount >= 0 ? clientCount : sizes.size();
    if (trainRows == 0) {
      throw new IllegalArgumentException(
          "no training rows" + (skipped > 0 ? " (" + skipped + " invalid rows skipped)" : ""));
    }
    if (p.getEarlyStoppingPatience() > 0 && validRows == 0) {
      throw new IllegalArgumentException("earlyStoppingPatience needs validationFraction > 0");
    }
    int batchSize = p.getBatchSize();
    int localSteps = p.getLocalSteps();
    int chunks = Math.toIntExact((trainRows + batchSize - 1) / batchSize);
    int rounds = (chunks + localSteps - 1) / localSteps;
    DpPlan dp = DpPlan.of(p, model, trainRows, clients);
    if (dp != null) {
      rounds = dp.roundsPerEpoch();
    }
    boolean federated = Federation.isFederated(p.getAggregation());
    if (federated) {
      rounds = 1; // one round per "epoch": every sampled client trains localEpochs epochs
    }
    boolean secure = p.getSecureAggregation(); // only when federated (ParamScope)
    if (secure) {
      SecureRound.checkExpectedSample(p.getAggregation(), p.getClientFraction(), clients);
      SecureRound.warnOfLoneClientRounds(
          p.getAggregation(),
          p.getClientFraction(),
          clients,
          p.getMaxEpochs(),
          p.getAllowUnmaskedSmallRounds());
    }
    SecureRound.Plan securePlan =
        secure
            ? new SecureRound.Plan(
                dp != null,
                Math.max(1, maxPartitionRows),
                dp == null ? 0 : dp.sigma(),
                dp == null ? 0 : dp.clipNorm(),
                p.getAllowUnmaskedSmallRounds())
            : null;
    // The server optimizer of a federated fit: its state (momentum, moments) goes into checkpoints.
    ServerOptimizer server =
        !federated ? null : dp != null ? dp.server() : Federation.serverOptimizer(p);
    SecretSampler sampler = dp == null ? null : dp.sampler();
    Aggregator aggregator =
        dp != null
            ? dp.aggregator(p.getSeed(), 0)
            : federated
                ? new FederatedAveraging(server)
                : localSteps == 1 ? new MeanGradientAggregator() : new ModelAveragingAggregator();
    TrainingConfig config =
        new TrainingConfig(
            runKey,
            network,
            kind,
            p.getSeed(),
            p.getOptimizer(),
            p.getLearningRate(),
            p.getMomentum(),
            p.getWeightDecay(),
            localSteps,
            chunks,
            aggregator.updateKind(),
            dp == null || dp.clientLevel() ? 0 : dp.samplingRate(),
            dp == null ? 0 : dp.clipNorm(),
            federated ? p.getLocalEpochs() : 0,
            p.getAggregation().equals("fedprox") ? p.getProximalMu() : 0,
            batchSize,
            dp == null || dp.clientLevel() ? null : sampler);
    LOG.info(
        "Ember fit: {} on {} partitions ({} clients), {} training and {} validation rows ({}"
            + " skipped), {} rounds per epoch, aggregation {}{}",
        network,
        sizes.size(),
        clients,
        trainRows,
        validRows,
        skipped,
        rounds,
        aggregator.name(),
        secure ? " with secure aggregation" : "");

    // executionMode=stage: one barrier stage per epoch instead of a job per round (StageTraining)
    boolean staged = ExecutionMode.of(p) == ExecutionMode.STAGE;
    try (Optimizer optimizer = Optimizers.create(config, model);
        FitProgress progress =
            FitProgress.start(sc.sc(), p, network, p.getMaxEpochs(), rounds, listener);
        StageTraining stage =
            staged
                ? StageTraining.openOrFallBack(
                    sc, data, config, sizes.size(), rounds, p.isSet(p.executionMode()))
                : null) {
      Checkpoints checkpoints =
          p.getCheckpointDir().isEmpty()
              ? null
              : new Checkpoints(p.getCheckpointDir(), sc.hadoopConfiguration());
      List<EpochMetrics> history = new ArrayList<>();
      int startEpoch = 0;
      double bestLoss = Double.POSITIVE_INFINITY;
      int bestEpoch = 0;
      int sinceBest = 0;
      RoundWeights best = null;
      List<Checkpoints.PrivacySteps> privacy = List.of();
      Map<String, String> settings =
          TrainingSettings.of(p, kind, network, trainRows, validRows, sizes.size(), clients, dp);
      Checkpoints.State state = new Checkpoints.State(model, optimizer, server);
      int maxEpochs = p.getMaxEpochs();
      if (checkpoints != null) {
        Checkpoints.Restored restored = checkpoints.restoreLatest(state, settings, maxEpochs);
        if (restored != null) {
          Checkpoints.Progress r = restored.progress();
          startEpoch = r.epochsDone();
          history.addAll(r.history());
          bestLoss = r.bestValidationLoss();
          bestEpoch = r.bestEpoch();
          sinceBest = r.epochsWithoutImprovement();
          best = restored.best();
          privacy = r.privacy();
          long expectedSteps = dp == null ? 0 : (long) startEpoch * rounds;
          if (Checkpoints.PrivacySteps.totalSteps(privacy) != expectedSteps) {
            throw new IllegalStateException(
                "the checkpoint "
                    + restored.path()
                    + " records "
                    + Checkpoints.PrivacySteps.totalSteps(privacy)
                    + " private steps for "
                    + startEpoch
                    + " epochs of "
                    + (dp == null ? "non-private training" : rounds + " steps")
                    + ", not "
                    + expectedSteps
                    + "; it cannot be resumed with an honest privacy account");
          }
        }
      }
      if (dp != null) {
        aggregator = dp.aggregator(p.getSeed(), (long) startEpoch * rounds);
      }
      // Rebuilt from the steps actually taken, as the checkpoint recorded them.
      RdpAccountant accountant = dp == null ? null : Checkpoints.PrivacySteps.accountant(privacy);
      // A fit that had already stopped early when its checkpoint was written stays stopped.
      boolean stoppedEarly =
          p.getEarlyStoppingPatience() > 0 && sinceBest >= p.getEarlyStoppingPatience();
      double roundMillis = 0;
      long roundCount = 0;
      double lastLoss = Double.NaN;
      long skippedRounds = 0;
      double lastEpochLoss = 0;
      for (int epoch = startEpoch; !stoppedEarly && epoch < maxEpochs; epoch++) {
        if (dp != null && !dp.affordable(accountant, rounds, history.isEmpty())) {
          stoppedEarly = true;
          break;
        }
        long start = System.nanoTime();
        progress.epochStarted(epoch);
        Update epochTotal = Update.zero(0, 0);
        if (stage != null) {
          stage.beginEpoch(epoch, snapshot(model), maxEpochs);
        }
        for (int round = 0; round < rounds; round++) {
          long roundStart = System.nanoTime();
          sc.setJobDescription(
              String.format(
                  "Ember epoch %d/%d, round %d/%d, loss %.4f",
                  epoch + 1, maxEpochs, round + 1, rounds, lastLoss));
          long globalRound = (long) epoch * rounds + round;
          boolean[] sampled =
              federated
                  ? Federation.sample(
                      p.getAggregation(),
                      p.getSeed(),
                      globalRound,
                      clients,
                      p.getClientFraction(),
                      sampler)
                  : null;
          Update total =
              secure
                  ? SecureRound.run(
                      sc, data, config, snapshot(model), globalRound, sampled, securePlan)
                  : stage != null
                      ? stage.awaitStep(round)
                      : runRound(
                          sc, data, config, snapshot(model), epoch, round, globalRound, sampled);
          if (total == null) { // a secure round of one client, skipped (SecureRound)
            skippedRounds++;
            progress.step(epoch, round, epochTotal.examples(), epochTotal.lossSum());
            continue;
          }
          apply(aggregator.combine(total), model, optimizer);
          if (stage != null) {
            stage.publish(snapshot(model));
          }
          epochTotal.add(
              new Update(
                  new float[0], new float[0], total.examples(), total.lossSum(), total.correct()));
          lastLoss = total.lossSum() / Math.max(1, total.examples());
          roundMillis += (System.nanoTime() - roundStart) / 1e6;
          roundCount++;
          progress.step(epoch, round, epochTotal.examples(), epochTotal.lossSum());
        }
        if (stage != null) {
          stage.endEpoch();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        double validLoss = Double.NaN;
        double validAcc = Double.NaN;
        if (validRows > 0) {
          sc.setJobDescription(
              String.format("Ember epoch %d/%d, validation", epoch + 1, maxEpochs));
          RoundWeights w = snapshot(model);
          Update v =
              sum(
                  data.mapPartitions(
                          it -> single(PartitionTrainer.evaluate(config, w, it.next(), EVAL_BATCH)))
                      .collect());
          validLoss = v.lossSum() / v.examples();
          validAcc =
              kind == TaskKind.CLASSIFICATION ? (double) v.correct() / v.examples() : Double.NaN;
        }
        EpochMetrics m =
            new EpochMetrics(
                epoch + 1,
                epochTotal.lossSum() / epochTotal.examples(),
                kind == TaskKind.CLASSIFICATION
                    ? (double) epochTotal.correct() / epochTotal.examples()
                    : Double.NaN,
                epochTotal.examples() / seconds,
                validLoss,
                validAcc,
                seconds,
                accountant == null
                    ? Double.NaN
                    : (accountant = accountant.withSteps(dp.samplingRate(), dp.sigma(), rounds))
                        .epsilon(dp.delta()));
        if (dp != null) {
          privacy = Checkpoints.PrivacySteps.append(privacy, dp.samplingRate(), dp.sigma(), rounds);
        }
        history.add(m);
        progress.epochEnded(m);
        LOG.info(
            "epoch {}/{}: loss {} accuracy {} validation loss {} validation accuracy {} "
                + "({} samples/s, {} s)",
            m.epoch(),
            maxEpochs,
            String.format("%.4f", m.loss()),
            String.format("%.4f", m.accuracy()),
            String.format("%.4f", validLoss),
            String.format("%.4f", validAcc),
            String.format("%.0f", m.samplesPerSecond()),
            String.format("%.1f", seconds));
        if (!Double.isFinite(m.loss()) && Double.isFinite(lastEpochLoss)) {
          // Training goes on (as PyTorch's would), but say it once: such a model won't save.
          LOG.warn(
              "epoch {}: the training loss is {}: training has diverged (lower learningRate);"
                  + " the model will not save without write().option(\"allowNonFinite\", \"true\")",
              m.epoch(),
              m.loss());
        }
        lastEpochLoss = m.loss();
        if (validRows > 0) {
          if (validLoss < bestLoss) {
            bestLoss = validLoss;
            bestEpoch = epoch + 1;
            sinceBest = 0;
            best = p.getEarlyStoppingPatience() > 0 ? snapshot(model) : null;
          } else {
            sinceBest++;
          }
        }
        boolean stop =
            p.getEarlyStoppingPatience() > 0 && sinceBest >= p.getEarlyStoppingPatience();
        if (checkpoints != null
            && ((epoch + 1) % p.getCheckpointInterval() == 0 || epoch + 1 == maxEpochs || stop)) {
          checkpoints.write(
              state,
              new Checkpoints.Progress(
                  epoch + 1, settings, bestLoss, bestEpoch, sinceBest, history, privacy),
              best);
        }
        if (stop) {
          stoppedEarly = true;
          LOG.info(
              "early stopping after epoch {}: best validation loss {} at epoch {}",
              epoch + 1,
              bestLoss,
              bestEpoch);
          break;
        }
      }
      sc.setJobDescription(null);
      if (skippedRounds > 0) {
        LOG.warn(
            "secure aggregation: {} of {} rounds skipped because they sampled a single client",
            skippedRounds,
            roundCount + skippedRounds);
      }
      int finalEpoch = history.isEmpty() ? 0 : history.get(history.size() - 1).epoch();
      if (stoppedEarly && best != null) {
        PartitionTrainer.load(model, best);
        finalEpoch = bestEpoch;
      }
      TrainingSummary summary =
          new TrainingSummary(
              history,
              stoppedEarly,
              finalEpoch,
              trainRows,
              validRows,
              sizes.size(),
              rounds,
              roundCount == 0 ? Double.NaN : roundMillis / roundCount);
      byte[] weights = StateDicts.toBytes(model.stateDict());
      return new Result(weights, summary, outputs);
    }
  }

  private static Update runRound(
      JavaSparkContext sc,
      JavaRDD<PartitionData> data,
      TrainingConfig config,
      RoundWeights weights,
      int epoch,
      int round,
      long globalRound,
      boolean[] sampled) {
    Broadcast<RoundWeights> bc = sc.broadcast(weights);
    try {
      List<Update> updates =
          data.mapPartitionsWithIndex(
                  (partition, it) ->
                      single(
                          PartitionTrainer.train(
                              config,
                              bc.value(),
                              it.next(),
                              partition,
                              epoch,
                              round,
                              globalRound,
                              sampled)),
                  true)
              .collect();
      return sum(updates);
    } finally {
      bc.destroy();
    }
  }

  /** The updates summed in list (= partition) order. */
  static Update sum(List<Update> updates) {
    Update first = updates.get(0);
    Update total = Update.zero(first.values().length, first.buffers().length);
    for (Update u : updates) {
      total.add(u);
    }
    return total;
  }

  private static <T> Iterator<T> single(T value) {
    return Collections.singletonList(value).iterator();
  }

  private static RoundWeights snapshot(Module model) {
    return new RoundWeights(
        model.flatParameters().values().toFloatArray(), ModuleBuffers.read(model));
  }

  private static void apply(Step step, Module model, Optimizer optimizer) {
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
}
