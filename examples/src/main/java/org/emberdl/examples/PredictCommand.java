package org.emberdl.examples;

import java.util.concurrent.Callable;
import org.emberdl.examples.EmberCli.PredictArgs;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code predict}: score Parquet data with a saved model or an ONNX model file. */
@Command(
    name = "predict",
    sortOptions = false,
    abbreviateSynopsis = true,
    usageHelpWidth = 100,
    description = {
      "score Parquet data with a saved model or an ONNX file (and print the accuracy when"
          + " labelled)",
      "",
      "Scores a Parquet dataset with a saved model (--model) or a classifier in an ONNX file"
          + " (--onnx, e.g. written by torch.onnx.export; its logits become the probabilities by"
          + " softmax) and writes Parquet with the data's columns"
          + " (except the features) plus prediction and probability. When the data has a label"
          + " column, prints the accuracy. The output is written beside --out and moved into place"
          + " only when complete: a failed predict leaves an earlier output as it was."
    })
final class PredictCommand implements Callable<Integer>, EmberCli.SettingsCommand {
  @Spec CommandSpec spec;
  @ParentCommand EmberCli cli;

  /** Exactly one of --model and --onnx. */
  static final class ModelSource {
    @Option(
        names = "--model",
        required = true,
        paramLabel = "DIR",
        description = "a model saved by train (this or --onnx is required)")
    String model;

    @Option(
        names = "--onnx",
        required = true,
        paramLabel = "FILE",
        description =
            "an ONNX classifier: one float input (batch, features...) whose other dims are"
                + " fixed, logits out")
    String onnx;
  }

  @ArgGroup(exclusive = true, multiplicity = "1")
  ModelSource source;

  @Option(
      names = "--data",
      required = true,
      paramLabel = "PATH",
      description = "data to score, Parquet (required)")
  String data;

  @Option(
      names = "--out",
      required = true,
      paramLabel = "PATH",
      description = "output Parquet path (required; an existing one only with --overwrite)")
  String out;

  @Option(
      names = "--overwrite",
      description =
          "replace an existing --out, if it holds Ember predictions (anything else is refused)")
  boolean overwrite;

  @Option(
      names = "--batch-size",
      paramLabel = "N",
      description = "inference batch size (default: the model's)")
  Integer batchSize;

  @Option(
      names = "--features-col",
      paramLabel = "NAME",
      description = "features column (default features)")
  String featuresCol = "features";

  @Option(
      names = "--label-col",
      paramLabel = "NAME",
      description = "label column for the accuracy (default label)")
  String labelCol = "label";

  @Mixin CommonOptions common;

  @Override
  public Integer call() {
    PredictArgs a = settings();
    return cli.execute("predict", common.verbose, () -> SparkJobs.predict(a, cli.out));
  }

  @Override
  public PredictArgs settings() {
    return new PredictArgs(
        source.model,
        data,
        out,
        batchSize == null ? 0 : EmberCli.atLeast(spec, "--batch-size", batchSize, 1),
        featuresCol,
        labelCol,
        common.master,
        overwrite,
        source.onnx);
  }
}
