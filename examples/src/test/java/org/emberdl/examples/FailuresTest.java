package org.emberdl.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.reflect.Constructor;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Every failure of a command becomes one line on stderr and a distinct exit status. */
class FailuresTest {
  private record Outcome(int status, String err) {
    List<String> lines() {
      return err.lines().toList();
    }
  }

  private static Outcome execute(boolean verbose, EmberCli.Job job) {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    EmberCli cli =
        new EmberCli(
            new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    int status = cli.execute("train", verbose, job);
    return new Outcome(status, err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void outOfMemoryIsOneLineWithItsOwnStatus() {
    Outcome o =
        execute(
            false,
            () -> {
              throw new IllegalStateException(
                  "Exception thrown in awaitResult: ", new OutOfMemoryError("Java heap space"));
            });
    assertEquals(EmberCli.INTERNAL_ERROR, o.status());
    assertEquals(
        List.of(
            "error: train failed: out of memory (java.lang.OutOfMemoryError: Java heap space);"
                + " give the driver and executors more memory (--driver-memory,"
                + " --executor-memory) or use a smaller --batch-size",
            "(run with --verbose for the stack trace)"),
        o.lines());
  }

  @Test
  void anExecutorsOutOfMemoryReportedAsTextIsAnInternalErrorToo() {
    Failures.Report r =
        Failures.report(
            "train",
            new RuntimeException(
                "Job aborted due to stage failure: Task 0 in stage 3.0 failed 4 times, most recent"
                    + " failure: Lost task 0.3 in stage 3.0 (TID 9) (10.0.0.2 executor 1):"
                    + " java.lang.OutOfMemoryError: Java heap space\n\tat org.emberdl..."));
    assertEquals(EmberCli.INTERNAL_ERROR, r.status());
    assertEquals(
        "train failed: out of memory in a Spark task (java.lang.OutOfMemoryError: Java heap"
            + " space); give the executors more memory (--executor-memory) or use a smaller"
            + " --batch-size",
        r.message());
  }

  @Test
  void aFileSystemErrorNamesItsCause() throws Exception {
    Constructor<?> c =
        Class.forName("org.apache.hadoop.fs.FSError").getDeclaredConstructor(Throwable.class);
    c.setAccessible(true);
    Error fsError = (Error) c.newInstance(new IOException("No space left on device"));
    Outcome o =
        execute(
            false,
            () -> {
              throw fsError;
            });
    assertEquals(EmberCli.INTERNAL_ERROR, o.status());
    assertEquals(
        "error: train failed: file system error (org.apache.hadoop.fs.FSError:"
            + " java.io.IOException: No space left on device), e.g. the disk is full; cause: No"
            + " space left on device (java.io.IOException)",
        o.lines().get(0));
    assertEquals(2, o.lines().size(), o.err());
  }

  @Test
  void anyOtherErrorIsAnInternalError() {
    Outcome o =
        execute(
            false,
            () -> {
              throw new StackOverflowError();
            });
    assertEquals(EmberCli.INTERNAL_ERROR, o.status());
    assertEquals(
        "error: train failed: internal error (java.lang.StackOverflowError)", o.lines().get(0));
  }

  @Test
  void verbosePrintsTheStackTrace() {
    Outcome quiet =
        execute(
            false,
            () -> {
              throw new IllegalStateException("boom");
            });
    assertEquals(EmberCli.FAILED, quiet.status());
    assertEquals(
        "error: train failed: boom (java.lang.IllegalStateException)", quiet.lines().get(0));
    assertFalse(quiet.err().contains("\tat "), quiet.err());
    Outcome verbose =
        execute(
            true,
            () -> {
              throw new IllegalStateException("boom", new OutOfMemoryError("Java heap space"));
            });
    assertEquals(EmberCli.INTERNAL_ERROR, verbose.status());
    assertTrue(verbose.lines().get(0).startsWith("error: train failed: out of memory"));
    assertTrue(verbose.err().contains("\tat org.emberdl.examples.FailuresTest"), verbose.err());
    assertTrue(verbose.err().contains("Caused by: java.lang.OutOfMemoryError"), verbose.err());
  }

  @Test
  void theNestedFileAndRootCauseComeFirst() {
    String file = "file:/data/train.parquet/part-00001-abc.snappy.parquet";
    Exception nested =
        new RuntimeException(
            "Job aborted due to stage failure: Task 0 in stage 1.0 failed 1 times",
            new RuntimeException(
                "Exception thrown in awaitResult: ",
                new RuntimeException(
                    "[FAILED_READ_FILE.CANNOT_READ_FILE_FOOTER] Encountered error while reading"
                        + " file "
                        + file
                        + ". Could not read footer.",
                    new RuntimeException(
                        file + " is not a Parquet file. Expected magic number at tail"))));
    Failures.Report r = Failures.report("predict", nested);
    assertEquals(EmberCli.INPUT_ERROR, r.status());
    assertEquals(
        "predict: cannot read "
            + file
            + ": is not a Parquet file. Expected magic number at tail"
            + " (java.lang.RuntimeException)",
        r.message());
  }

  @Test
  void refusalsAndInputErrorsKeepTheirMessage() {
    assertEquals(
        new Failures.Report(EmberCli.OUTPUT_REFUSED, "train: refusing to write --model-out m"),
        Failures.report(
            "train",
            new RuntimeException(
                new OutputGuard.RefusedException("refusing to write --model-out m"))));
    assertEquals(
        new Failures.Report(EmberCli.INPUT_ERROR, "train: d has no column 'label'"),
        Failures.report("train", new Failures.InputException("d has no column 'label'")));
  }
}
