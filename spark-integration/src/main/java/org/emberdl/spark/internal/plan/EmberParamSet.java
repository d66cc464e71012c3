package org.emberdl.spark.internal.plan;

import java.io.Serializable;
import org.apache.spark.ml.param.BooleanParam;
import org.apache.spark.ml.param.DoubleParam;
import org.apache.spark.ml.param.IntArrayParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.LongParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamValidators;
import org.apache.spark.ml.param.Params;
import org.apache.spark.ml.param.StringArrayParam;
import org.emberdl.spark.EmberParams;
import scala.Function1;

/**
 * The {@code Param} objects of one Ember stage (every Spark {@code Param} belongs to one owner's
 * uid, so each stage instance holds its own set). {@link EmberParams} exposes them; defaults are
 * set once in {@link EmberParams#initEmberDefaults()}.
 */
public final class EmberParamSet implements Serializable {
  private static final long serialVersionUID = 1L;

  public final IntArrayParam layers;
  public final Param<String> network;
  public final IntArrayParam inputShape;
  public final Param<String> moduleFactory;
  public final Param<String> initialModel;
  public final StringArrayParam frozenPrefixes;
  public final Param<String> loss;
  public final Param<String> optimizer;
  public final DoubleParam learningRate;
  public final Param<String> lrSchedule;
  public final DoubleParam minLearningRate;
  public final IntParam warmupSteps;
  public final DoubleParam momentum;
  public final DoubleParam weightDecay;
  public final IntParam batchSize;
  public final IntParam maxEpochs;
  public final LongParam seed;
  public final IntParam numPartitions;
  public final IntParam localSteps;
  public final Param<String> checkpointDir;
  public final IntParam checkpointInterval;
  public final DoubleParam validationFraction;
  public final IntParam earlyStoppingPatience;
  public final IntParam inferenceBatchSize;
  public final Param<String> handleInvalid;
  public final Param<String> aggregation;
  public final Param<String> executionMode;
  public final Param<String> device;
  public final DoubleParam noiseMultiplier;
  public final DoubleParam targetEpsilon;
  public final DoubleParam delta;
  public final DoubleParam l2NormClip;
  public final DoubleParam samplingRate;
  public final DoubleParam clientFraction;
  public final IntParam localEpochs;
  public final DoubleParam proximalMu;
  public final DoubleParam serverLearningRate;
  public final Param<String> serverOptimizer;
  public final DoubleParam serverMomentum;
  public final Param<String> clientIdCol;
  public final BooleanParam secureAggregation;
  public final BooleanParam secureNoise;
  public final BooleanParam allowUnmaskedSmallRounds;

  public EmberParamSet(Params owner) {
    layers =
        new IntArrayParam(
            owner,
            "layers",
            "MLP layer sizes from input to output, e.g. [784, 256, 128, 10] (ReLU between); "
                + "ignored when network is set",
            positiveSizes(2));
    network =
        new Param<>(
            owner,
            "network",
            "layer spec, e.g. 'conv(32,k=3,p=1), relu, maxpool(2), flatten, linear(10)' "
                + "(see org.emberdl.nn.NetworkSpec); needs inputShape");
    inputShape =
        new IntArrayParam(
            owner,
            "inputShape",
            "shape of one example without the batch dim, e.g. [1, 28, 28]; features are reshaped "
                + "to it",
            positiveSizes(1));
    moduleFactory =
        new Param<>(
            owner,
            "moduleFactory",
            "class name of an org.emberdl.spark.ModuleFactory that builds the network (overrides "
                + "layers and network; needs inputShape)");
    initialModel =
        new Param<>(
            owner,
            "initialModel",
            "path of an ONNX model (e.g. exported by torch.onnx.export) whose graph is the network"
                + " and whose weights training starts from (fine-tuning); excludes layers, network"
                + " and moduleFactory; inputShape defaults to the graph's input shape; empty ="
                + " none",
            (Function1<String, Object> & Serializable) v -> v != null);
    frozenPrefixes =
        new StringArrayParam(
            owner,
            "frozenPrefixes",
            "parameter-name prefixes (state-dict keys, e.g. '0.' or 'fc1') whose parameters"
                + " training leaves unchanged, bit for bit; each must match a parameter; empty ="
                + " train every parameter",
            (Function1<String[], Object> & Serializable)
                v ->
                    v != null
                        && java.util.Arrays.stream(v).noneMatch(x -> x == null || x.isEmpty()));
    loss =
        new Param<>(
            owner,
            "loss",
            "loss function: cross_entropy (classifiers) or mse (regressors)",
            ParamValidators.inArray(TaskKind.lossNames()));
    optimizer =
        new Param<>(
            owner,
            "optimizer",
            "optimizer: adam, adamw or sgd",
            ParamValidators.inArray(OptimizerName.names()));
    learningRate =
        new DoubleParam(owner, "learningRate", "learning rate (> 0)", ParamValidators.gt(0));
    lrSchedule =
        new Param<>(
            owner,
            "lrSchedule",
            "how the learning rate changes over the fit's optimizer steps (maxEpochs times the"
                + " steps of an epoch; federated aggregations: rounds), after warmupSteps:"
                + " constant (learningRate throughout) or cosine (cosine annealing from"
                + " learningRate to minLearningRate, as PyTorch's CosineAnnealingLR)",
            ParamValidators.inArray(LrScheduleName.names()));
    minLearningRate =
        new DoubleParam(
            owner,
            "minLearningRate",
            "lrSchedule=cosine: the rate at the end of the fit, in [0, learningRate]",
            ParamValidators.gtEq(0));
    warmupSteps =
        new IntParam(
            owner,
            "warmupSteps",
            "optimizer steps (federated aggregations: rounds) of linear warmup from learningRate"
                + " / 3 to learningRate before lrSchedule begins, as PyTorch's LinearLR (>= 0;"
                + " 0 = none)",
            ParamValidators.gtEq(0));
    momentum =
        new DoubleParam(
            owner,
            "momentum",
            "SGD momentum in [0, 1)",
            ParamValidators.inRange(0, 1, true, false));
    weightDecay =
        new DoubleParam(
            owner,
            "weightDecay",
            "weight decay (L2 for adam/sgd, decoupled for adamw), >= 0",
            ParamValidators.gtEq(0));
    batchSize =
        new IntParam(
            owner,
            "batchSize",
            "global mini-batch size per step, whatever the number of partitions (>= 1)",
            ParamValidators.gtEq(1));
    maxEpochs =
        new IntParam(
            owner, "maxEpochs", "passes over the training data (>= 1)", ParamValidators.gtEq(1));
    seed = new LongParam(owner, "seed", "random seed of weights, shuffling and dropout");
    numPartitions =
        new IntParam(
            owner,
            "numPartitions",
            "partitions to train on (0 = keep the input's partitioning)",
            ParamValidators.gtEq(0));
    localSteps =
        new IntParam(
            owner,
            "localSteps",
            "optimizer steps each partition takes per round; 1 = synchronous SGD, more = local "
                + "SGD with model averaging",
            ParamValidators.gtEq(1));
    checkpointDir =
        new Param<>(
            owner,
            "checkpointDir",
            "directory (any Hadoop file system) for training checkpoints; fit resumes from the "
                + "latest one found there; empty = no checkpoints");
    checkpointInterval =
        new IntParam(
            owner,
            "checkpointInterval",
            "write a checkpoint every this many epochs (>= 1)",
            ParamValidators.gtEq(1));
    validationFraction =
        new DoubleParam(
            owner,
            "validationFraction",
            "fraction of the rows held out for validation each epoch, in [0, 1)",
            ParamValidators.inRange(0, 1, true, false));
    earlyStoppingPatience =
        new IntParam(
            owner,
            "earlyStoppingPatience",
            "stop after this many epochs without a better validation loss and keep the best "
                + "weights (0 = never stop early; needs validationFraction > 0)",
            ParamValidators.gtEq(0));
    inferenceBatchSize =
        new IntParam(
            owner,
            "inferenceBatchSize",
            "rows per forward pass in transform (>= 1)",
            ParamValidators.gtEq(1));
    handleInvalid =
        new Param<>(
            owner,
            "handleInvalid",
            "what to do with rows whose features are null, of the wrong size, not finite or a"
                + " sparse vector with indices out of range or order, and (in transform and"
                + " predict) rows whose network outputs are NaN or infinite: error (fail naming"
                + " the row and the model), skip (drop the row) or keep (transform and predict"
                + " only: every output column NaN)",
            ParamValidators.inArray(HandleInvalid.names()));
    aggregation =
        new Param<>(
            owner,
            "aggregation",
            "how partitions' updates become a step: sync (synchronous SGD; model averaging with"
                + " localSteps > 1), fedavg / fedprox (each client, a partition or the rows"
                + " sharing a clientIdCol value, is sampled with clientFraction and trains"
                + " localEpochs epochs; the server averages the example-weighted deltas; fedprox"
                + " adds proximalMu/2 ||w - w_round||^2 to the local loss), dp-sgd (example-level"
                + " differential privacy: Poisson sampling, per-example clipping to l2NormClip,"
                + " Gaussian noise on the sum) or dp-fedavg (client-level differential privacy:"
                + " clients Poisson-sampled with clientFraction, deltas clipped to l2NormClip,"
                + " Gaussian noise on the sum, fixed denominator)",
            ParamValidators.inArray(Aggregation.names()));
    executionMode =
        new Param<>(
            owner,
            "executionMode",
            "how sync and dp-sgd fits run on Spark: stage (the default: one gang-scheduled"
                + " barrier stage per epoch whose tasks keep their partition and exchange each"
                + " step with the driver over Spark's RPC; needs a task slot per partition, else"
                + " an explicit stage fails and the default falls back to rounds with a WARN) or"
                + " rounds (one Spark job per step); both give the same weights bit for bit."
                + " fedavg, fedprox and dp-fedavg always run in rounds",
            ParamValidators.inArray(ExecutionMode.names()));
    device =
        new Param<>(
            owner,
            "device",
            "where tasks run their tensors: auto (the GPU Spark assigned the task, from"
                + " spark.task.resource.gpu.amount, where this build can use it; else the CPU,"
                + " with one WARN per executor saying why), cpu, or cuda (fail, naming the"
                + " executor and the reason, where CUDA cannot be used). This build has no CUDA"
                + " backend: auto runs on the CPU and cuda fails",
            ParamValidators.inArray(DeviceChoice.names()));
    noiseMultiplier =
        new DoubleParam(
            owner,
            "noiseMultiplier",
            "DP noise std divided by l2NormClip (>= 0); calibrated from targetEpsilon when that"
                + " is set and this is not",
            ParamValidators.gtEq(0));
    targetEpsilon =
        new DoubleParam(
            owner,
            "targetEpsilon",
            "privacy budget epsilon at delta (0 = none): training refuses to start or stops before"
                + " an epoch would exceed it",
            ParamValidators.gtEq(0));
    delta = new DoubleParam(owner, "delta", "DP delta, in (0, 1)", openUnit());
    l2NormClip =
        new DoubleParam(
            owner,
            "l2NormClip",
            "per-example gradient L2 norm bound C (> 0)",
            ParamValidators.gt(0));
    samplingRate =
        new DoubleParam(
            owner,
            "samplingRate",
            "DP-SGD Poisson sampling rate q per step, in [0, 1]; 0 = batchSize / rows",
            ParamValidators.inRange(0, 1, true, true));
    clientFraction =
        new DoubleParam(
            owner,
            "clientFraction",
            "fedavg/fedprox: fraction of the clients sampled each round, in (0, 1]; dp-fedavg:"
                + " each client's sampling probability",
            ParamValidators.inRange(0, 1, false, true));
    localEpochs =
        new IntParam(
            owner,
            "localEpochs",
            "fedavg/fedprox: local epochs each sampled client trains per round (>= 1); maxEpochs"
                + " counts rounds",
            ParamValidators.gtEq(1));
    proximalMu =
        new DoubleParam(
            owner,
            "proximalMu",
            "fedprox: weight mu of the proximal term (>= 0)",
            ParamValidators.gtEq(0));
    serverLearningRate =
        new DoubleParam(
            owner,
            "serverLearningRate",
            "fedavg/fedprox/dp-fedavg: the server's step on the averaged delta (> 0; 1 = plain"
                + " averaging)",
            ParamValidators.gt(0));
    serverOptimizer =
        new Param<>(
            owner,
            "serverOptimizer",
            "fedavg/fedprox/dp-fedavg: the server's step on the averaged delta: sgd (w +="
                + " serverLearningRate * delta), momentum (FedAvgM, with serverMomentum) or adam"
                + " (FedAdam: beta1 = serverMomentum, beta2 0.99, tau 1e-3)",
            ParamValidators.inArray(ServerOptimizerName.names()));
    serverMomentum =
        new DoubleParam(
            owner,
            "serverMomentum",
            "the server optimizer's momentum (FedAvgM's beta, FedAdam's beta1), in [0, 1)",
            ParamValidators.inRange(0, 1, true, false));
    clientIdCol =
        new Param<>(
            owner,
            "clientIdCol",
            "federated aggregations: the column naming each row's client (rows of one client stay"
                + " together on one partition); empty = each partition is a client",
            (Function1<String, Object> & Serializable) v -> v != null);
    secureNoise =
        new BooleanParam(
            owner,
            "secureNoise",
            "dp-sgd/dp-fedavg: draw the DP noise and the Poisson sampling (of examples under"
                + " dp-sgd, of clients under dp-fedavg) from SecureRandom (not reproducible)"
                + " instead of from the generator keyed by seed, which anyone who knows the seed"
                + " can recompute");
    secureAggregation =
        new BooleanParam(
            owner,
            "secureAggregation",
            "fedavg/fedprox/dp-fedavg: sum the clients' updates and training metrics with secure"
                + " aggregation (Bonawitz et al. 2017), so the driver only learns their sums; under"
                + " dp-fedavg the clients add the noise. Needs at least 2 clients per round"
                + " (clientFraction * clients >= 2); a round that samples one client is skipped"
                + " unless allowUnmaskedSmallRounds");
    allowUnmaskedSmallRounds =
        new BooleanParam(
            owner,
            "allowUnmaskedSmallRounds",
            "secureAggregation: a round that samples a single client sends that client's update"
                + " to the driver unmasked (under dp-fedavg with the whole noise) and logs a WARN;"
                + " false (default) skips such a round: no client trains, the weights stay");
  }

  private static Function1<Object, Object> openUnit() {
    return ParamValidators.inRange(0, 1, false, false);
  }

  private static Function1<int[], Object> positiveSizes(int minLength) {
    return (Function1<int[], Object> & Serializable)
        sizes -> {
          if (sizes.length < minLength) {
            return false;
          }
          for (int s : sizes) {
            if (s <= 0) {
              return false;
            }
          }
          return true;
        };
  }
}
