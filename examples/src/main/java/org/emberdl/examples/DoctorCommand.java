package org.emberdl.examples;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/** {@code doctor}: what Ember finds in this JVM and on this machine. */
@Command(
    name = "doctor",
    sortOptions = false,
    abbreviateSynopsis = true,
    usageHelpWidth = 100,
    description = {
      "print what Ember finds here: Java, Spark, OpenBLAS, threads, memory budget, CUDA",
      "",
      "Prints, one aligned line each: the Java version, vendor and max heap; the Spark version;"
          + " OpenBLAS's build configuration, the core type it picked and its threads; Ember's"
          + " kernel threads; the off-heap budget an executor gets from this JVM's Spark settings"
          + " (under spark-submit, its --conf); and CUDA: the driver and runtime versions and each"
          + " device with its memory, or why CUDA is unavailable. Starts no Spark job: under"
          + " spark-submit it describes the driver's machine. Exits 0."
    })
final class DoctorCommand implements Callable<Integer>, EmberCli.SettingsCommand {
  @ParentCommand EmberCli cli;

  @Option(
      names = "--verbose",
      description = "on failure, print the stack trace as well as the one-line error")
  boolean verbose;

  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "print this help and exit")
  boolean help;

  @Override
  public Integer call() {
    return cli.execute(
        "doctor", verbose, () -> cli.out.print(DoctorReport.format(DoctorReport.gather())));
  }

  @Override
  public Object settings() {
    return "doctor"; // nothing to parse
  }
}
