package org.emberdl.examples;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.HelpCommand;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * Ember's command line for Spark: {@code convert} Fashion-MNIST to Parquet, {@code train} a network
 * on a Parquet dataset, {@code predict} with a saved model or an ONNX file, {@code export} a saved
 * model to ONNX, run the whole {@code demo}, or ask the {@code doctor} what Ember finds on this
 * machine (Java, Spark, OpenBLAS, memory, CUDA). The same jar runs embedded ({@code java ...
 * EmberCli demo}, on {@code local[*]}) and under {@code spark-submit --class
 * org.emberdl.examples.EmberCli <jar> <command> ...}, where spark-submit's master is used.
 *
 * <p>Parsing is picocli's; every command takes {@code --help}. Parsing touches no Spark class, so
 * {@code --help} and usage errors work without Spark on the classpath. The exit statuses are {@link
 * #OK}, {@link #FAILED}, {@link #USAGE}, {@link #OUTPUT_REFUSED}, {@link #INPUT_ERROR} and {@link
 * #INTERNAL_ERROR}; a failure prints one line to stderr (the stack trace only with {@code
 * --verbose}, or in the debug log).
 *
 * <p>Command-line output goes to stdout by design.
 */
@Command(
    name = "EmberCli",
    synopsisSubcommandLabel = "<command>",
    usageHelpWidth = 100,
    description = {
      "Ember's command line for Spark. Run with spark-submit:",
      "  spark-submit --master URL --class org.emberdl.examples.EmberCli"
          + " ember-examples-<version>-spark.jar <command> [options]",
      "or embedded, on local[*], with Spark's jars on the classpath:",
      "  java <Spark's --add-opens> -cp <jar>:<Spark jars> org.emberdl.examples.EmberCli"
          + " <command> [options]",
      ""
    },
    commandListHeading = "%nCommands:%n",
    footerHeading = "%nExit status:%n",
    footer = {
      "  0  success",
      "  1  the command failed while running",
      "  2  usage error (unknown option, bad or missing value)",
      "  3  an output path was refused (it exists, overlaps an input, or is not Ember's output)",
      "  4  an input could not be read (missing, corrupt, or without the needed columns)",
      "  5  internal error of the JVM (out of memory, file system error)"
    },
    subcommands = {
      ConvertCommand.class,
      TrainCommand.class,
      PredictCommand.class,
      ExportCommand.class,
      DemoCommand.class,
      DoctorCommand.class,
      HelpCommand.class
    })
public final class EmberCli implements Callable<Integer> {
  /** Exit status: the command succeeded. */
  static final int OK = 0;

  /** Exit status: the command failed while running (an exception not covered below). */
  static final int FAILED = 1;

  /** Exit status of a command-line mistake (picocli's usage-error status). */
  static final int USAGE = 2;

  /** Exit status: an output path was refused before anything ran; nothing was written. */
  static final int OUTPUT_REFUSED = 3;

  /** Exit status: an input is missing, unreadable or corrupt, or lacks a needed column. */
  static final int INPUT_ERROR = 4;

  /** Exit status: the JVM failed (an {@link Error} such as {@link OutOfMemoryError}). */
  static final int INTERNAL_ERROR = 5;

  static final List<Integer> DEFAULT_LAYERS = List.of(784, 256, 128, 10);

  /** What a command runs once its options are parsed and checked. */
  @FunctionalInterface
  interface Job {
    void run() throws Exception;
  }

  @Spec CommandSpec spec;

  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "print this help and exit")
  boolean help;

  final PrintStream out;
  final PrintStream err;

  EmberCli(PrintStream out, PrintStream err) {
    this.out = out;
    this.err = err;
  }

  @Override
  public Integer call() {
    throw new ParameterException(spec.commandLine(), "a command is required");
  }

  // ---------------------------------------------------------------------------------------------
  // The commands' settings, as parsed (tests build and compare these).

  /** {@code convert}: IDX files to Parquet. */
  record ConvertArgs(
      Path images,
      Path labels,
      Path fashionMnist,
      String out,
      int limit,
      NonIidSplit.Spec split,
      String master,
      boolean overwrite) {}

  /**
   * {@code train}'s federated-learning and privacy settings; null (or 0 for booleans' absence)
   * leaves the stage's default.
   */
  record FederationArgs(
      String aggregation,
      String clientCol,
      Double clientFraction,
      Integer localEpochs,
      Double proximalMu,
      Double serverLearningRate,
      String serverOptimizer,
      Double serverMomentum,
      Boolean secureAggregation,
      Boolean secureNoise,
      Double noiseMultiplier,
      Double targetEpsilon,
      Double delta,
      Double clipNorm,
      Double samplingRate,
      Double momentum) {
    static final FederationArgs NONE =
        new FederationArgs(
            null, null, null, null, null, null, null, null, null, null, null, null, null, null,
            null, null);
  }

  /** {@code train}: fit a classifier on Parquet data and save it. */
  record TrainArgs(
      String data,
      String modelOut,
      int[] layers,
      String network,
      String initialModel,
      String[] frozenPrefixes,
      int[] inputShape,
      int epochs,
      int batchSize,
      double learningRate,
      ScheduleArgs schedule,
      String optimizer,
      long seed,
      int partitions,
      String featuresCol,
      String labelCol,
      String checkpointDir,
      int checkpointInterval,
      FederationArgs federation,
      String master,
      boolean overwrite,
      String progress) {
    @Override
    public String toString() {
      return "TrainArgs[data="
          + data
          + ", modelOut="
          + modelOut
          + ", layers="
          + Arrays.toString(layers)
          + ", network="
          + network
          + ", initialModel="
          + initialModel
          + ", frozenPrefixes="
          + Arrays.toString(frozenPrefixes)
          + ", inputShape="
          + Arrays.toString(inputShape)
          + ", epochs="
          + epochs
          + ", batchSize="
          + batchSize
          + ", lr="
          + learningRate
          + ", schedule="
          + schedule
          + ", optimizer="
          + optimizer
          + ", seed="
          + seed
          + ", partitions="
          + partitions
          + ", featuresCol="
          + featuresCol
          + ", labelCol="
          + labelCol
          + ", checkpointDir="
          + checkpointDir
          + ", checkpointInterval="
          + checkpointInterval
          + ", master="
          + master
          + ", overwrite="
          + overwrite
          + ", progress="
          + progress
          + "]";
    }
  }

  /** {@code predict}: score Parquet data with a saved model (or, with {@code onnx}, a file). */
  record PredictArgs(
      String model,
      String data,
      String out,
      int batchSize,
      String featuresCol,
      String labelCol,
      String master,
      boolean overwrite,
      String onnx) {}

  /** {@code export}: a saved model as an ONNX file. */
  record ExportArgs(String model, String onnx, String master, boolean overwrite) {}

  /** {@code demo}: convert, train, save, score. */
  /**
   * The learning-rate schedule of {@code train} and {@code demo} ({@link ScheduleOptions}): the
   * {@code lrSchedule}, {@code warmupSteps} and {@code minLearningRate} Params.
   */
  record ScheduleArgs(String schedule, int warmupSteps, double minLearningRate) {
    static final ScheduleArgs CONSTANT = new ScheduleArgs("constant", 0, 0);

    /** How the training line prints it, e.g. ", cosine schedule to 0, 100 warmup steps". */
    String describe() {
      return (schedule.equals("constant")
              ? ""
              : ", " + schedule + " schedule to " + minLearningRate)
          + (warmupSteps > 0 ? ", " + warmupSteps + " warmup steps" : "");
    }
  }

  record DemoArgs(
      Path fashionMnist,
      Path work,
      int epochs,
      int limit,
      int partitions,
      int batchSize,
      double learningRate,
      ScheduleArgs schedule,
      long seed,
      String master,
      boolean overwrite,
      String progress,
      String model) {}

  /** Runs a command and exits with its status (see {@link EmberCli}). */
  public static void main(String[] args) {
    int status = run(args, System.out, System.err);
    if (status != 0) {
      System.exit(status);
    }
  }

  /**
   * Runs {@code args} and returns the exit status, writing user-facing output (and help) to {@code
   * out}, and errors to {@code err}.
   */
  static int run(String[] args, PrintStream out, PrintStream err) {
    try {
      return commandLine(out, err).execute(args);
    } catch (Throwable t) { // anything the commands' own handler did not see: still one line
      Failures.Report r = Failures.report("EmberCli", t);
      err.println("error: " + r.message());
      return r.status();
    }
  }

  /** The parser for {@code args}, with help to {@code out} and errors to {@code err}. */
  static CommandLine commandLine(PrintStream out, PrintStream err) {
    CommandLine cl = new CommandLine(new EmberCli(out, err));
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    cl.setParameterExceptionHandler(
        (ex, args) -> {
          CommandLine c = ex.getCommandLine();
          PrintWriter w = c.getErr();
          w.println("error: " + ex.getMessage());
          UnmatchedArgumentException.printSuggestions(ex, w);
          w.println();
          c.usage(w);
          w.flush();
          return USAGE;
        });
    return cl;
  }

  /**
   * Parses {@code args} (a command and its options) into the command's settings record without
   * running anything; a mistake is a {@link ParameterException}. For tests.
   */
  static Object parse(String... args) {
    CommandLine cl = commandLine(System.out, System.err);
    CommandLine.ParseResult result = cl.parseArgs(args);
    if (!result.hasSubcommand()) {
      throw new ParameterException(cl, "a command is required");
    }
    CommandLine sub = result.subcommand().commandSpec().commandLine();
    return ((SettingsCommand) sub.getCommand()).settings();
  }

  /** A subcommand that turns its parsed options into a settings record. */
  interface SettingsCommand {
    /** The checked settings; a mistake is a {@link ParameterException}. */
    Object settings();
  }

  /**
   * Runs {@code command}'s job and turns every failure, {@link Error}s included, into one line on
   * stderr and an exit status; the stack trace goes to stderr only with {@code verbose}, and to the
   * debug log always.
   */
  int execute(String command, boolean verbose, Job job) {
    try {
      job.run();
      return OK;
    } catch (Throwable t) {
      Failures.Report r = Failures.report(command, t);
      err.println("error: " + r.message());
      if (verbose) {
        t.printStackTrace(err);
      } else if (r.status() != OUTPUT_REFUSED) { // a refusal is the whole story
        err.println("(run with --verbose for the stack trace)");
      }
      try {
        // (the logger only now: help and usage errors need no logging library on the classpath)
        LoggerFactory.getLogger(EmberCli.class).debug("{} failed", command, t);
      } catch (Throwable ignored) {
        // a JVM out of memory may fail here too; the message is already out
      }
      return r.status();
    }
  }

  /** Parses {@code text} as comma-separated positive ints (e.g. {@code 784, 256,10}). */
  static int[] intList(CommandSpec spec, String option, String text, int minLength) {
    if (text == null) {
      return null;
    }
    String[] parts = text.split(",", -1);
    int[] sizes = new int[parts.length];
    for (int i = 0; i < parts.length; i++) {
      try {
        sizes[i] = Integer.parseInt(parts[i].trim());
      } catch (NumberFormatException e) {
        throw new ParameterException(
            spec.commandLine(), option + " needs comma-separated integers, got '" + text + "'");
      }
      if (sizes[i] < 1) {
        throw new ParameterException(
            spec.commandLine(), option + " needs sizes >= 1, got '" + text + "'");
      }
    }
    if (sizes.length < minLength) {
      throw new ParameterException(
          spec.commandLine(),
          option + " needs at least " + minLength + " sizes, got '" + text + "'");
    }
    return sizes;
  }

  /** Requires {@code value >= min}. */
  static int atLeast(CommandSpec spec, String option, int value, int min) {
    if (value < min) {
      throw new ParameterException(
          spec.commandLine(), option + " must be at least " + min + ", got " + value);
    }
    return value;
  }

  /** Requires a finite number > 0. */
  static double positive(CommandSpec spec, String option, double value) {
    if (!(value > 0) || Double.isInfinite(value)) {
      throw new ParameterException(
          spec.commandLine(), option + " must be a number > 0, got " + value);
    }
    return value;
  }

  /** Requires a finite number >= 0 (null passes: the option was not given). */
  static Double nonNegative(CommandSpec spec, String option, Double value) {
    if (value != null && (!(value >= 0) || Double.isInfinite(value))) {
      throw new ParameterException(
          spec.commandLine(), option + " must be a number >= 0, got " + value);
    }
    return value;
  }

  /** Requires a number in (0, 1] (null passes). */
  static Double fraction(CommandSpec spec, String option, Double value) {
    if (value != null && !(value > 0 && value <= 1)) {
      throw new ParameterException(
          spec.commandLine(), option + " must be a number in (0, 1], got " + value);
    }
    return value;
  }

  /** Requires {@code value} to be one of {@code allowed} (null passes). */
  static String oneOf(CommandSpec spec, String option, String value, List<String> allowed) {
    if (value != null && !allowed.contains(value)) {
      throw new ParameterException(
          spec.commandLine(),
          option + " must be one of " + String.join(", ", allowed) + ", got '" + value + "'");
    }
    return value;
  }

  static Path path(String p) {
    return p == null ? null : Path.of(p);
  }
}
