package org.emberdl.examples;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.emberdl.examples.EmberCli.DemoArgs;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code demo}: convert, train, save, score. */
@Command(
    name = "demo",
    sortOptions = false,
    abbreviateSynopsis = true,
    usageHelpWidth = 100,
    description = {
      "convert Fashion-MNIST, train the MLP, save it, score the test set",
      "",
      "The whole story on one Spark: converts Fashion-MNIST to Parquet, trains the MLP"
          + " 784-256-128-10 (Adam), saves it, scores the 10,000 test images and prints the test"
          + " accuracy. Everything goes to --work; a rerun over an earlier demo's work directory"
          + " needs --overwrite (any other non-empty directory is refused)."
    })
final class DemoCommand implements Callable<Integer>, EmberCli.SettingsCommand {
  @Spec CommandSpec spec;
  @ParentCommand EmberCli cli;

  @Option(
      names = "--fashion-mnist",
      paramLabel = "DIR",
      description = "Fashion-MNIST IDX files (default /usr/share/datasets/fashion-mnist)")
  String fashionMnist = "/usr/share/datasets/fashion-mnist";

  @Option(
      names = "--work",
      paramLabel = "DIR",
      description = "where the Parquet files and the model go (default target/ember-demo)")
  String work = "target/ember-demo";

  @Option(
      names = "--overwrite",
      description = "replace the outputs of an earlier demo in --work (anything else is refused)")
  boolean overwrite;

  @Option(names = "--epochs", paramLabel = "N", description = "passes over the data (default 5)")
  int epochs = 5;

  @Option(
      names = "--model",
      paramLabel = "NAME",
      description =
          "network: mlp (784-256-128-10, default), lstm (each image as 28 rows of 28 pixels:"
              + " lstm(128), lastStep, linear(10)) or vit (a patch transformer on 7x7 patches,"
              + " PatchTransformer.SPEC)")
  String model = "mlp";

  @Option(
      names = "--limit",
      paramLabel = "N",
      description = "train on the first N training images only (default all)")
  Integer limit;

  @Option(
      names = "--partitions",
      paramLabel = "N",
      description = "train on N partitions (default: Spark's parallelism)")
  Integer partitions;

  @Option(names = "--batch-size", paramLabel = "N", description = "examples per step (default 128)")
  int batchSize = 128;

  @Option(names = "--lr", paramLabel = "X", description = "Adam learning rate (default 1e-3)")
  double lr = 1e-3;

  @Option(
      names = "--seed",
      paramLabel = "N",
      description = "initialization and shuffling seed (default 42)")
  long seed = 42;

  @Mixin ScheduleOptions schedule;

  @Mixin ProgressOption progress;

  @Mixin CommonOptions common;

  @Override
  public Integer call() {
    DemoArgs a = settings();
    return cli.execute("demo", common.verbose, () -> SparkJobs.demo(a, cli.out));
  }

  private static String model(CommandSpec spec, String name) {
    try {
      return ExampleNetworks.of(name).cliName();
    } catch (IllegalArgumentException e) {
      throw new picocli.CommandLine.ParameterException(
          spec.commandLine(), "--model: " + e.getMessage());
    }
  }

  @Override
  public DemoArgs settings() {
    return new DemoArgs(
        Path.of(fashionMnist),
        Path.of(work),
        EmberCli.atLeast(spec, "--epochs", epochs, 1),
        limit == null ? 0 : EmberCli.atLeast(spec, "--limit", limit, 1),
        partitions == null ? 0 : EmberCli.atLeast(spec, "--partitions", partitions, 1),
        EmberCli.atLeast(spec, "--batch-size", batchSize, 1),
        EmberCli.positive(spec, "--lr", lr),
        schedule.settings(spec),
        seed,
        common.master,
        overwrite,
        progress.mode(spec),
        model(spec, model));
  }
}
