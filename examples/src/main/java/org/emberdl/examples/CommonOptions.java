package org.emberdl.examples;

import picocli.CommandLine.Option;

/** The options every command takes: where Spark runs, how much a failure prints, and help. */
final class CommonOptions {
  @Option(
      names = "--master",
      paramLabel = "URL",
      description =
          "Spark master when not run by spark-submit (default local[*]); spark-submit's wins")
  String master;

  @Option(
      names = "--verbose",
      description = "on failure, print the stack trace as well as the one-line error")
  boolean verbose;

  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "print this help and exit")
  boolean help;
}
