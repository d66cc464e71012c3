package org.emberdl.examples;

import java.util.List;
import org.emberdl.examples.EmberCli.ScheduleArgs;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/**
 * {@code --schedule}, {@code --warmup-steps} and {@code --min-lr}, taken by the commands that train
 * ({@code train}, {@code demo}): the estimator's {@code lrSchedule}, {@code warmupSteps} and {@code
 * minLearningRate} Params, spelled as {@code FashionMnistTraining --schedule}.
 */
final class ScheduleOptions {
  static final List<String> SCHEDULES = List.of("constant", "cosine");

  @Option(
      names = "--schedule",
      paramLabel = "NAME",
      description =
          "learning-rate schedule over all the fit's steps: constant (default) or cosine"
              + " (annealing from --lr to --min-lr, as FashionMnistTraining --schedule cosine)")
  String schedule = "constant";

  @Option(
      names = "--warmup-steps",
      paramLabel = "N",
      description = "steps of linear warmup from lr/3 to --lr before the schedule (default 0)")
  int warmupSteps;

  @Option(
      names = "--min-lr",
      paramLabel = "X",
      description = "--schedule cosine: the learning rate at the end (default 0)")
  Double minLr;

  /** The validated options, or a usage error of {@code spec}'s command. */
  ScheduleArgs settings(CommandSpec spec) {
    String name = EmberCli.oneOf(spec, "--schedule", schedule, SCHEDULES);
    int warmup = EmberCli.atLeast(spec, "--warmup-steps", warmupSteps, 0);
    Double min = EmberCli.nonNegative(spec, "--min-lr", minLr);
    if (min != null && !name.equals("cosine")) {
      throw new ParameterException(
          spec.commandLine(), "--min-lr needs --schedule cosine (the " + name + " schedule)");
    }
    return new ScheduleArgs(name, warmup, min == null ? 0 : min);
  }
}
