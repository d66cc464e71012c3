package org.emberdl.examples;

import java.io.FileNotFoundException;
import java.nio.file.NoSuchFileException;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Turns whatever a command threw into its exit status and one line that says what went wrong. A
 * Spark job's failure nests the useful part several causes deep ({@code Job aborted ... Exception
 * thrown in awaitResult: ...}); the line names the file and the root cause instead. Refers to no
 * Spark or Hadoop class, so it works whatever failed to load.
 */
final class Failures {
  /** A command's outcome: the exit status and the one-line message for stderr. */
  record Report(int status, String message) {}

  /** A problem with a command's input (unreadable, missing, or without the needed columns). */
  static final class InputException extends Exception {
    private static final long serialVersionUID = 1L;

    InputException(String message) {
      super(message);
    }

    InputException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** A file named in Spark's or Parquet's messages: a URI, or an absolute path, ending a word. */
  private static final Pattern FILE =
      Pattern.compile(
          "((?:file|hdfs|s3a?|gs|abfss?|wasbs?|viewfs|maprfs|oss):/[^\\s,;'\"\\]}]*"
              + "|/[^\\s,;'\"\\]}:]+\\.(?:parquet|orc|json|csv|avro|txt))");

  /** Messages (or their parts) that mean the input could not be read. */
  private static final Pattern READ_FAILURE =
      Pattern.compile(
          "FAILED_READ_FILE|CANNOT_READ_FILE_FOOTER|is not a Parquet file|Could not read footer"
              + "|PATH_NOT_FOUND|UNABLE_TO_INFER_SCHEMA|ParquetDecodingException"
              + "|Can not read value at|footer is too large");

  private Failures() {}

  /** The exit status and message for {@code command}'s failure {@code t}. */
  static Report report(String command, Throwable t) {
    Throwable root = t;
    for (Throwable c = t; c != null; c = c.getCause()) {
      root = c;
      if (c instanceof OutputGuard.RefusedException) {
        return new Report(EmberCli.OUTPUT_REFUSED, command + ": " + c.getMessage());
      }
      if (c instanceof InputException) {
        return new Report(EmberCli.INPUT_ERROR, command + ": " + c.getMessage());
      }
    }
    Error error = firstError(t);
    if (error != null) {
      return new Report(EmberCli.INTERNAL_ERROR, command + " failed: " + describeError(error));
    }
    String remote = remoteOutOfMemory(t);
    if (remote != null) {
      return new Report(
          EmberCli.INTERNAL_ERROR,
          command
              + " failed: out of memory in a Spark task ("
              + remote
              + "); give the executors more memory (--executor-memory) or use a smaller"
              + " --batch-size");
    }
    String file = failedFile(t);
    if (file != null && root.getMessage() != null && root.getMessage().contains("PATH_NOT_FOUND")) {
      return new Report(EmberCli.INPUT_ERROR, command + ": no such file or directory: " + file);
    }
    if (file != null) {
      return new Report(
          EmberCli.INPUT_ERROR,
          String.format(Locale.ROOT, "%s: cannot read %s: %s", command, file, oneLine(root, file)));
    }
    if (root instanceof NoSuchFileException || root instanceof FileNotFoundException) {
      return new Report(
          EmberCli.INPUT_ERROR, command + ": no such file or directory: " + root.getMessage());
    }
    String line = oneLine(root, null);
    if (root != t) {
      line = line + " (in " + t.getClass().getSimpleName() + ")";
    }
    return new Report(EmberCli.FAILED, command + " failed: " + line);
  }

  private static Error firstError(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof Error e) {
        return e;
      }
    }
    return null;
  }

  /**
   * The line naming an {@link OutOfMemoryError} that an executor reported in a message (a remote
   * task's error reaches the driver as text, not as a cause), or null.
   */
  private static String remoteOutOfMemory(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      String m = c.getMessage();
      int at = m == null ? -1 : m.indexOf("java.lang.OutOfMemoryError");
      if (at >= 0) {
        int end = m.indexOf('\n', at);
        return m.substring(at, end < 0 ? m.length() : end).strip();
      }
    }
    return null;
  }

  /** E.g. {@code out of memory (java.lang.OutOfMemoryError: Java heap space); ...}. */
  private static String describeError(Error e) {
    String what = e.getClass().getName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
    String line;
    if (e instanceof OutOfMemoryError) {
      line =
          "out of memory ("
              + what
              + "); give the driver and executors more memory (--driver-memory,"
              + " --executor-memory) or use a smaller --batch-size";
    } else if (e.getClass().getName().equals("org.apache.hadoop.fs.FSError")) {
      line = "file system error (" + what + "), e.g. the disk is full";
    } else {
      line = "internal error (" + what + ")";
    }
    Throwable cause = e.getCause();
    if (cause != null && cause != e) {
      line += "; cause: " + oneLine(cause, null);
    }
    return line;
  }

  /**
   * The file an input failure names, or null when {@code t} is no such failure: the file in the
   * first message that reports a read failure.
   */
  static String failedFile(Throwable t) {
    String found = null;
    for (Throwable c = t; c != null; c = c.getCause()) {
      String m = c.getMessage();
      if (m == null) {
        continue;
      }
      boolean readFailure =
          READ_FAILURE.matcher(m).find()
              || c.getClass().getName().endsWith("ParquetDecodingException");
      if (!readFailure) {
        continue;
      }
      Matcher f = FILE.matcher(m);
      if (f.find()) {
        found = stripEnd(f.group(1)); // keep walking: deeper messages name the file more exactly
      }
    }
    return found;
  }

  private static String stripEnd(String file) {
    String s = file;
    while (s.endsWith(".") || s.endsWith(")")) {
      s = s.substring(0, s.length() - 1);
    }
    return s;
  }

  /** The throwable's class and first message line, without a repeat of {@code file}. */
  static String oneLine(Throwable t, String file) {
    String m = t.getMessage();
    if (m == null || m.isBlank()) {
      return t.getClass().getName();
    }
    m = m.strip();
    int nl = m.indexOf('\n');
    if (nl >= 0) {
      m = m.substring(0, nl).strip();
    }
    if (file != null && m.startsWith(file)) {
      m = m.substring(file.length()).strip();
    }
    return m + " (" + t.getClass().getName() + ")";
  }
}
