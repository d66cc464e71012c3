package org.emberdl.examples;

import java.io.PrintStream;
import java.util.List;
import java.util.Locale;
import java.util.function.LongSupplier;
import org.emberdl.spark.EpochMetrics;
import org.emberdl.spark.ProgressListener;
import org.emberdl.spark.TrainingProgress;

/**
 * The live line {@code train} and {@code demo} show on a terminal: epoch, step, samples/s, loss and
 * time left, redrawn in place (carriage return) at most every {@link #REDRAW_NANOS}; each finished
 * epoch replaces it with that epoch's permanent line, as printed without a terminal.
 */
final class ProgressLine implements ProgressListener {
  /** Redraws at most 4 times a second: faster is flicker, and costs the training thread. */
  static final long REDRAW_NANOS = 250_000_000L;

  /** Whether the live line is shown: {@code auto} on a terminal only. */
  static final List<String> MODES = List.of("auto", "always", "never");

  private final PrintStream out;
  private final int epochs;
  private final LongSupplier clock;
  private long lastDraw;
  private boolean drawn;
  private int width; // of the line on screen, to blank what a shorter line leaves

  ProgressLine(PrintStream out, int epochs, LongSupplier clock) {
    this.out = out;
    this.epochs = epochs;
    this.clock = clock;
  }

  /**
   * Whether {@code mode} shows the live line on {@code out}: {@code auto} when {@code out} is the
   * process's standard output and that is a terminal.
   */
  static boolean live(String mode, PrintStream out) {
    return switch (mode) {
      case "always" -> true;
      case "never" -> false;
      default -> out == System.out && System.console() != null;
    };
  }

  @Override
  public void onStep(TrainingProgress p) {
    long now = clock.getAsLong();
    if (drawn && now - lastDraw < REDRAW_NANOS) {
      return;
    }
    lastDraw = now;
    draw(format(p));
  }

  @Override
  public void onEpoch(EpochMetrics m) {
    clear();
    out.println(SparkJobs.describe(m, epochs));
    out.flush();
  }

  /** Blanks the live line, if one is showing, so what follows starts on a clean line. */
  void clear() {
    if (drawn) {
      out.print("\r" + " ".repeat(width) + "\r");
      out.flush();
      drawn = false;
      width = 0;
    }
  }

  private void draw(String line) {
    int pad = Math.max(0, width - line.length());
    out.print("\r" + line + " ".repeat(pad));
    out.flush();
    width = line.length();
    drawn = true;
  }

  /** E.g. {@code epoch 2/5, step 120/469: 4812 samples/s, loss 0.4123, ETA 1m05s}. */
  static String format(TrainingProgress p) {
    return String.format(
        Locale.ROOT,
        "epoch %d/%d, step %d/%d: %.0f samples/s, loss %.4f, ETA %s",
        p.epoch(),
        p.maxEpochs(),
        p.step(),
        p.stepsPerEpoch(),
        p.samplesPerSecond(),
        p.loss(),
        duration(p.etaSeconds()));
  }

  /** {@code 42s}, {@code 3m07s}, {@code 1h02m}; {@code ?} when unknown. */
  static String duration(double seconds) {
    if (!Double.isFinite(seconds) || seconds < 0) {
      return "?";
    }
    long s = Math.round(seconds);
    if (s < 60) {
      return s + "s";
    }
    if (s < 3600) {
      return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
    }
    return String.format(Locale.ROOT, "%dh%02dm", s / 3600, (s % 3600) / 60);
  }
}
