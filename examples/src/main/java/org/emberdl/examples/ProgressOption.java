package org.emberdl.examples;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;

/** {@code --progress}, taken by the commands that train ({@code train}, {@code demo}). */
final class ProgressOption {
  @Option(
      names = "--progress",
      paramLabel = "WHEN",
      description =
          "auto (default: on a terminal), always or never: a live line of epoch, step, samples/s,"
              + " loss and time left, redrawn in place; otherwise one line per epoch")
  String progress = "auto";

  /** The validated mode, or a usage error of {@code spec}'s command. */
  String mode(CommandSpec spec) {
    return EmberCli.oneOf(spec, "--progress", progress, ProgressLine.MODES);
  }
}
