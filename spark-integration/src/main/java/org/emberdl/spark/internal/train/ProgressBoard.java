package org.emberdl.spark.internal.train;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import org.apache.spark.SparkContext;
import org.emberdl.spark.EpochMetrics;
import org.emberdl.spark.TrainingProgress;
import org.emberdl.spark.internal.data.SparkInternals;

/**
 * The fits of one Spark application, live, for the "Ember" tab of its web UI ({@code /ember/}):
 * each fit's epoch, step, examples, samples/s, loss and time left, updated after every step and
 * shown on each request. It is how a fit's progress stays visible while a single long Spark stage
 * runs, which Spark's own pages only describe when the stage starts and ends. Running fits and the
 * last {@link #KEEP_ENDED} ended ones are shown, newest first.
 */
public final class ProgressBoard {
  static final int KEEP_ENDED = 20;

  private static final Map<SparkContext, ProgressBoard> BOARDS = new WeakHashMap<>();

  private final ConcurrentLinkedDeque<Fit> fits = new ConcurrentLinkedDeque<>();
  private final boolean inUi;

  private ProgressBoard(boolean inUi) {
    this.inUi = inUi;
  }

  /** The board of {@code sc}, made (and its UI tab added, if the UI is on) on first use. */
  public static synchronized ProgressBoard of(SparkContext sc) {
    ProgressBoard board = BOARDS.get(sc);
    if (board == null) {
      ProgressBoard[] made = new ProgressBoard[1];
      boolean attached = SparkInternals.attachUiTab(sc, "ember", () -> made[0].xhtml());
      made[0] = new ProgressBoard(attached);
      board = made[0];
      BOARDS.put(sc, board);
    }
    return board;
  }

  /** Whether the board is shown in the web UI (false with {@code spark.ui.enabled=false}). */
  public boolean inUi() {
    return inUi;
  }

  /** Adds a running fit, named (e.g. by its estimator's uid and network), first on the board. */
  public Fit start(String name, int maxEpochs, int stepsPerEpoch) {
    Fit fit = new Fit(name, maxEpochs, stepsPerEpoch);
    fits.addFirst(fit);
    int ended = 0;
    for (Iterator<Fit> it = fits.iterator(); it.hasNext(); ) {
      if (it.next().ended && ++ended > KEEP_ENDED) {
        it.remove();
      }
    }
    return fit;
  }

  /** The fits shown, newest first. */
  public List<Fit> fits() {
    return new ArrayList<>(fits);
  }

  /** One fit's latest state; written by the fit's thread, read by the UI's. */
  public static final class Fit {
    public final String name;
    final int maxEpochs;
    final int stepsPerEpoch;
    final long startMillis = System.currentTimeMillis();
    public volatile TrainingProgress step;
    public volatile EpochMetrics epoch;
    public volatile boolean ended;

    private Fit(String name, int maxEpochs, int stepsPerEpoch) {
      this.name = name;
      this.maxEpochs = maxEpochs;
      this.stepsPerEpoch = stepsPerEpoch;
    }

    void step(TrainingProgress p) {
      step = p;
    }

    void epoch(EpochMetrics m) {
      epoch = m;
    }

    void end() {
      ended = true;
    }
  }

  /** The tab's body: a table of the fits (one XHTML element, as {@link SparkInternals} needs). */
  public String xhtml() {
    StringBuilder h = new StringBuilder(1024);
    h.append("<div>")
        .append("<p>Ember fits in this application, newest first: where each is now (updated")
        .append(" after every step) and its last finished epoch. Reload to refresh.</p>")
        .append("<table class=\"table table-bordered table-sm\" id=\"ember-fits\"><thead><tr>");
    for (String c :
        List.of(
            "Fit",
            "Status",
            "Epoch",
            "Step",
            "Examples",
            "Samples/s",
            "Loss",
            "ETA",
            "Last epoch")) {
      h.append("<th>").append(c).append("</th>");
    }
    h.append("</tr></thead><tbody>");
    for (Fit f : fits) {
      TrainingProgress p = f.step;
      EpochMetrics m = f.epoch;
      h.append("<tr>");
      cell(h, f.name);
      cell(h, f.ended ? "ended" : "running");
      cell(h, p == null ? "" : p.epoch() + "/" + f.maxEpochs);
      cell(h, p == null ? "" : p.step() + "/" + f.stepsPerEpoch);
      cell(h, p == null ? "" : Long.toString(p.examples()));
      cell(h, p == null ? "" : String.format(Locale.ROOT, "%.0f", p.samplesPerSecond()));
      cell(h, p == null ? "" : String.format(Locale.ROOT, "%.4f", p.loss()));
      cell(h, p == null || f.ended ? "" : eta(p.etaSeconds()));
      cell(h, m == null ? "" : "epoch " + m.epoch() + ": " + m.describe());
      h.append("</tr>");
    }
    return h.append("</tbody></table></div>").toString();
  }

  private static String eta(double seconds) {
    if (!Double.isFinite(seconds)) {
      return "";
    }
    long s = Math.round(seconds);
    return String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
  }

  private static void cell(StringBuilder h, String text) {
    h.append("<td>");
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      switch (c) {
        case '&' -> h.append("&amp;");
        case '<' -> h.append("&lt;");
        case '>' -> h.append("&gt;");
        case '"' -> h.append("&quot;");
        default -> h.append(c);
      }
    }
    h.append("</td>");
  }
}
