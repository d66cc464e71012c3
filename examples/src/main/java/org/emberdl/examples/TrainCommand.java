package org.emberdl.examples;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.emberdl.examples.EmberCli.FederationArgs;
import org.emberdl.examples.EmberCli.TrainArgs;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code train}: fit a classifier on Parquet data with Spark and save it. */
@Command(
    name = "train",
    sortOptions = false,
    abbreviateSynopsis = true,
    usageHelpWidth = 100,
    description = {
      "train a network on Parquet data with Spark and save the model",
      "",
      "Trains an Ember network on a Parquet dataset with Spark (features: array<float> or vector,"
          + " label: class index 0..K-1), prints each epoch's metrics and saves the model. An"
          + " existing --model-out is replaced only with --overwrite, and only when it is an Ember"
          + " model; outputs that are, hold or lie inside an input are refused before training."
    })
final class TrainCommand implements Callable<Integer>, EmberCli.SettingsCommand {
  static final List<String> AGGREGATIONS =
      List.of("sync", "fedavg", "fedprox", "dp-sgd", "dp-fedavg");

  /** The aggregations that add noise; the privacy options mean nothing without one. */
  static final List<String> PRIVATE_AGGREGATIONS = List.of("dp-sgd", "dp-fedavg");

  @Spec CommandSpec spec;
  @ParentCommand EmberCli cli;

  @Option(
      names = "--data",
      required = true,
      paramLabel = "PATH",
      description = "training data, Parquet (required)")
  String data;

  @Option(
      names = "--model-out",
      required = true,
      paramLabel = "DIR",
      description = "where to save the model (required; an existing one only with --overwrite)")
  String modelOut;

  @Option(
      names = "--overwrite",
      description =
          "replace an existing --model-out, if it is an Ember model (anything else is refused)")
  boolean overwrite;

  @Option(
      names = "--layers",
      paramLabel = "N,N,...",
      description = "MLP layer sizes, input to classes (default 784,256,128,10)")
  String layers;

  @Option(
      names = "--network",
      paramLabel = "SPEC",
      description = "network spec instead of --layers, e.g. \"conv(32,k=3,p=1), relu, ...\"")
  String network;

  @Option(
      names = "--input-shape",
      paramLabel = "C,H,W",
      description = "shape of one example for --network, e.g. 1,28,28")
  String inputShape;

  @Option(
      names = "--initial-model",
      paramLabel = "FILE.onnx",
      description =
          "fine-tune: the network and starting weights of this ONNX model (e.g. from"
              + " torch.onnx.export) instead of --layers/--network")
  String initialModel;

  @Option(
      names = "--freeze",
      paramLabel = "PREFIX,...",
      split = ",",
      description =
          "parameter-name prefixes that training leaves unchanged (e.g. features. to train only"
              + " the head of --initial-model)")
  String[] freeze;

  @Option(names = "--epochs", paramLabel = "N", description = "passes over the data (default 5)")
  int epochs = 5;

  @Option(names = "--batch-size", paramLabel = "N", description = "examples per step (default 128)")
  int batchSize = 128;

  @Option(names = "--lr", paramLabel = "X", description = "learning rate (default 1e-3)")
  double lr = 1e-3;

  @Option(
      names = "--optimizer",
      paramLabel = "NAME",
      description = "adam, adamw or sgd (default adam)")
  String optimizer = "adam";

  @Option(
      names = "--seed",
      paramLabel = "N",
      description = "initialization and shuffling seed (default 42)")
  long seed = 42;

  @Option(
      names = "--partitions",
      paramLabel = "N",
      description = "train on N partitions (default: the data's own)")
  Integer partitions;

  @Option(
      names = "--features-col",
      paramLabel = "NAME",
      description = "features column (default features)")
  String featuresCol = "features";

  @Option(names = "--label-col", paramLabel = "NAME", description = "label column (default label)")
  String labelCol = "label";

  @Option(
      names = "--checkpoint-dir",
      paramLabel = "DIR",
      description =
          "write checkpoints there; a rerun with the same DIR resumes from the newest (it may"
              + " hold only Ember checkpoints)")
  String checkpointDir = "";

  @Option(
      names = "--checkpoint-interval",
      paramLabel = "N",
      description = "epochs between checkpoints (default 1)")
  int checkpointInterval = 1;

  @Option(
      names = "--aggregation",
      paramLabel = "NAME",
      description =
          "sync (default), fedavg, fedprox, dp-sgd (example-level DP) or dp-fedavg (client-level"
              + " DP)")
  String aggregation;

  @Option(
      names = "--client-col",
      paramLabel = "NAME",
      description =
          "federated: the column naming each row's client (default: partitions are clients)")
  String clientCol;

  @Option(
      names = "--client-fraction",
      paramLabel = "X",
      description = "federated: clients sampled per round (default 1)")
  Double clientFraction;

  @Option(
      names = "--local-epochs",
      paramLabel = "N",
      description = "federated: local epochs per round (default 1)")
  Integer localEpochs;

  @Option(
      names = "--proximal-mu",
      paramLabel = "X",
      description = "fedprox: proximal weight (default 0.01)")
  Double proximalMu;

  @Option(
      names = "--server-lr",
      paramLabel = "X",
      description = "federated: server learning rate (default 1)")
  Double serverLr;

  @Option(
      names = "--server-optimizer",
      paramLabel = "NAME",
      description = "federated: sgd (default), momentum (FedAvgM) or adam (FedAdam)")
  String serverOptimizer;

  @Option(
      names = "--server-momentum",
      paramLabel = "X",
      description = "federated: the server optimizer's momentum (default 0.9)")
  Double serverMomentum;

  @Option(
      names = "--secure-aggregation",
      arity = "1",
      paramLabel = "true|false",
      description = "federated: sum the clients' updates with secure aggregation (default false)")
  Boolean secureAggregation;

  @Option(
      names = "--secure-noise",
      arity = "1",
      paramLabel = "true|false",
      description =
          "DP: draw the driver's noise from SecureRandom, not from the seed (default false)")
  Boolean secureNoise;

  @Option(
      names = "--noise-multiplier",
      paramLabel = "X",
      description = "DP: noise std / clip norm (default 1)")
  Double noiseMultiplier;

  @Option(
      names = "--target-epsilon",
      paramLabel = "X",
      description = "DP: privacy budget; calibrates the noise unless --noise-multiplier is given")
  Double targetEpsilon;

  @Option(names = "--delta", paramLabel = "X", description = "DP: delta (default 1e-5)")
  Double delta;

  @Option(
      names = "--clip",
      paramLabel = "X",
      description = "DP: L2 clip norm of each example's gradient / client's delta (default 1)")
  Double clip;

  @Option(
      names = "--sampling-rate",
      paramLabel = "X",
      description = "dp-sgd: Poisson sampling rate (default batch-size / rows)")
  Double samplingRate;

  @Option(names = "--momentum", paramLabel = "X", description = "sgd momentum (default 0)")
  Double momentum;

  @Mixin ScheduleOptions schedule;

  @Mixin ProgressOption progress;

  @Mixin CommonOptions common;

  @Override
  public Integer call() {
    TrainArgs a = settings();
    return cli.execute("train", common.verbose, () -> SparkJobs.train(a, cli.out));
  }

  @Override
  public TrainArgs settings() {
    if (layers != null && network != null) {
      throw new ParameterException(
          spec.commandLine(), "give either --layers or --network, not both");
    }
    if (initialModel != null && (layers != null || network != null)) {
      throw new ParameterException(
          spec.commandLine(),
          "--initial-model gives the network: leave out "
              + (layers != null ? "--layers" : "--network"));
    }
    if (inputShape != null && network == null && initialModel == null) {
      throw new ParameterException(
          spec.commandLine(), "--input-shape goes with --network or --initial-model");
    }
    if (freeze != null) {
      for (String prefix : freeze) {
        if (prefix.isBlank()) {
          throw new ParameterException(
              spec.commandLine(), "--freeze needs non-empty parameter-name prefixes");
        }
      }
    }
    String opt =
        EmberCli.oneOf(
            spec,
            "--optimizer",
            optimizer.toLowerCase(Locale.ROOT),
            List.of("adam", "adamw", "sgd"));
    int[] sizes = EmberCli.intList(spec, "--layers", layers, 2);
    if (sizes == null && network == null && initialModel == null) {
      sizes = EmberCli.DEFAULT_LAYERS.stream().mapToInt(Integer::intValue).toArray();
    }
    return new TrainArgs(
        data,
        modelOut,
        sizes,
        network,
        initialModel,
        freeze == null ? new String[0] : freeze,
        EmberCli.intList(spec, "--input-shape", inputShape, 1),
        EmberCli.atLeast(spec, "--epochs", epochs, 1),
        EmberCli.atLeast(spec, "--batch-size", batchSize, 1),
        EmberCli.positive(spec, "--lr", lr),
        schedule.settings(spec),
        opt,
        seed,
        partitions == null ? 0 : EmberCli.atLeast(spec, "--partitions", partitions, 1),
        featuresCol,
        labelCol,
        checkpointDir,
        EmberCli.atLeast(spec, "--checkpoint-interval", checkpointInterval, 1),
        federation(),
        common.master,
        overwrite,
        progress.mode(spec));
  }

  private FederationArgs federation() {
    EmberCli.oneOf(spec, "--aggregation", aggregation, AGGREGATIONS);
    EmberCli.oneOf(spec, "--server-optimizer", serverOptimizer, List.of("sgd", "momentum", "adam"));
    refusePrivacyWithoutPrivateAggregation();
    if (localEpochs != null) {
      EmberCli.atLeast(spec, "--local-epochs", localEpochs, 1);
    }
    return new FederationArgs(
        aggregation,
        clientCol,
        EmberCli.fraction(spec, "--client-fraction", clientFraction),
        localEpochs,
        EmberCli.nonNegative(spec, "--proximal-mu", proximalMu),
        serverLr == null ? null : EmberCli.positive(spec, "--server-lr", serverLr),
        serverOptimizer,
        EmberCli.nonNegative(spec, "--server-momentum", serverMomentum),
        secureAggregation,
        secureNoise,
        EmberCli.nonNegative(spec, "--noise-multiplier", noiseMultiplier),
        targetEpsilon == null ? null : EmberCli.positive(spec, "--target-epsilon", targetEpsilon),
        EmberCli.fraction(spec, "--delta", delta),
        clip == null ? null : EmberCli.positive(spec, "--clip", clip),
        EmberCli.fraction(spec, "--sampling-rate", samplingRate),
        EmberCli.nonNegative(spec, "--momentum", momentum));
  }

  /**
   * Privacy options only take effect under a private aggregation; accepting them otherwise would
   * train without privacy while the model's metadata records privacy settings.
   */
  private void refusePrivacyWithoutPrivateAggregation() {
    if (aggregation != null && PRIVATE_AGGREGATIONS.contains(aggregation)) {
      return;
    }
    List<String> given = new ArrayList<>();
    addIf(given, "--noise-multiplier", noiseMultiplier);
    addIf(given, "--target-epsilon", targetEpsilon);
    addIf(given, "--delta", delta);
    addIf(given, "--clip", clip);
    addIf(given, "--secure-noise", secureNoise);
    addIf(given, "--sampling-rate", samplingRate);
    if (!given.isEmpty()) {
      throw new ParameterException(
          spec.commandLine(),
          String.join(", ", given)
              + (given.size() == 1
                  ? " is a privacy option and needs"
                  : " are privacy options and need")
              + " --aggregation dp-sgd or dp-fedavg; the aggregation "
              + (aggregation == null ? "sync (the default)" : aggregation)
              + " adds no noise, so the model would not be private");
    }
  }

  private static void addIf(List<String> given, String option, Object value) {
    if (value != null) {
      given.add(option);
    }
  }
}
