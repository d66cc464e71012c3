package org.emberdl.examples;

import java.util.List;
import java.util.concurrent.Callable;
import org.emberdl.examples.EmberCli.ConvertArgs;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code convert}: IDX image and label files to Parquet. */
@Command(
    name = "convert",
    sortOptions = false,
    abbreviateSynopsis = true,
    usageHelpWidth = 100,
    description = {
      "IDX image and label files to Parquet (features array<float>, label double)",
      "",
      "Converts Fashion-MNIST (or MNIST) IDX files, gzipped or not, to Parquet with the columns"
          + " features: array<float> (the pixels / 255) and label: double. With --fashion-mnist"
          + " DIR it writes PATH/train.parquet and PATH/test.parquet from DIR's four files (the"
          + " Debian package dataset-fashion-mnist puts them in /usr/share/datasets/fashion-mnist)."
          + " Give either --images and --labels, or --fashion-mnist."
    })
final class ConvertCommand implements Callable<Integer>, EmberCli.SettingsCommand {
  @Spec CommandSpec spec;
  @ParentCommand EmberCli cli;

  @Option(
      names = "--images",
      paramLabel = "FILE",
      description = "IDX image file, e.g. train-images-idx3-ubyte.gz")
  String images;

  @Option(
      names = "--labels",
      paramLabel = "FILE",
      description = "IDX label file, e.g. train-labels-idx1-ubyte.gz")
  String labels;

  @Option(
      names = "--fashion-mnist",
      paramLabel = "DIR",
      description = "directory with all four Fashion-MNIST files")
  String fashionMnist;

  @Option(
      names = "--out",
      required = true,
      paramLabel = "PATH",
      description = "output Parquet path, a directory with --fashion-mnist (required)")
  String out;

  @Option(
      names = "--overwrite",
      description = "replace an existing --out, if convert wrote it (anything else is refused)")
  boolean overwrite;

  @Option(
      names = "--limit",
      paramLabel = "N",
      description = "keep only the first N examples (of each file)")
  Integer limit;

  @Option(
      names = "--clients",
      paramLabel = "K",
      description = "add a 'client' column to the training rows: a non-IID split into K clients")
  Integer clients;

  @Option(
      names = "--split",
      paramLabel = "NAME",
      description =
          "with --clients: shards (default; two label-sorted shards per client, McMahan et al."
              + " 2017) or dirichlet (label skew, NIID-Bench)")
  String split;

  @Option(
      names = "--alpha",
      paramLabel = "X",
      description = "with --split dirichlet: the concentration (default 0.5)")
  Double alpha;

  @Mixin CommonOptions common;

  @Override
  public Integer call() {
    ConvertArgs a = settings();
    return cli.execute("convert", common.verbose, () -> SparkJobs.convert(a, cli.out));
  }

  @Override
  public ConvertArgs settings() {
    boolean files = images != null || labels != null;
    if (files == (fashionMnist != null)) {
      throw new ParameterException(
          spec.commandLine(), "give either --images and --labels, or --fashion-mnist");
    }
    if (files && (images == null || labels == null)) {
      throw new ParameterException(
          spec.commandLine(), "--images and --labels go together: give both");
    }
    return new ConvertArgs(
        EmberCli.path(images),
        EmberCli.path(labels),
        EmberCli.path(fashionMnist),
        out,
        limit == null ? 0 : EmberCli.atLeast(spec, "--limit", limit, 1),
        split(),
        common.master,
        overwrite);
  }

  private NonIidSplit.Spec split() {
    if (clients == null) {
      if (split != null || alpha != null) {
        throw new ParameterException(spec.commandLine(), "--split and --alpha go with --clients");
      }
      return null;
    }
    String kind =
        EmberCli.oneOf(
            spec, "--split", split == null ? "shards" : split, List.of("shards", "dirichlet"));
    return new NonIidSplit.Spec(
        kind,
        EmberCli.atLeast(spec, "--clients", clients, 1),
        alpha == null ? 0.5 : EmberCli.positive(spec, "--alpha", alpha));
  }
}
