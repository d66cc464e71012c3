package org.emberdl.spark.internal.train;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;
import org.emberdl.spark.EpochMetrics;
import org.emberdl.spark.TrainingSummary;

/**
 * Draws a {@link TrainingSummary}'s curves as a self-contained SVG image: loss per epoch (training
 * and validation), accuracy (when a classifier), and epsilon (under differential privacy), one
 * panel each, with axes, ticks and a legend. NaN and infinite values are left out (a line breaks
 * around them); every value is also drawn as a point, so a one-epoch fit shows its points. When
 * early stopping ended the fit, a dashed line marks the epoch whose weights the model holds.
 *
 * <p>Each point carries its series, epoch and value as {@code data-} attributes, so the picture can
 * be checked (and scraped) by machine.
 */
public final class TrainingCurvesSvg {
  private static final int WIDTH = 640;
  private static final int PANEL_HEIGHT = 220;
  private static final int LEFT = 64;
  private static final int RIGHT = 16;
  private static final int TOP = 28;
  private static final int BOTTOM = 40;
  private static final String TRAIN_COLOR = "#1f77b4";
  private static final String VALID_COLOR = "#d62728";
  private static final String EPSILON_COLOR = "#2ca02c";

  /** One line of a panel: its name (as in {@code data-series}), legend label, colour, values. */
  record Series(String name, String label, String color, double[] values) {
    boolean anyFinite() {
      for (double v : values) {
        if (Double.isFinite(v)) {
          return true;
        }
      }
      return false;
    }
  }

  private TrainingCurvesSvg() {}

  /** The picture of {@code summary}; a summary without epochs gives a picture saying so. */
  public static String render(TrainingSummary summary) {
    List<EpochMetrics> epochs = summary.epochs();
    List<Panel> panels = new ArrayList<>();
    panels.add(
        new Panel(
            "Loss",
            false,
            List.of(
                series("loss", "training", TRAIN_COLOR, epochs, EpochMetrics::loss),
                series(
                    "validationLoss",
                    "validation",
                    VALID_COLOR,
                    epochs,
                    EpochMetrics::validationLoss))));
    panels.add(
        new Panel(
            "Accuracy",
            true,
            List.of(
                series("accuracy", "training", TRAIN_COLOR, epochs, EpochMetrics::accuracy),
                series(
                    "validationAccuracy",
                    "validation",
                    VALID_COLOR,
                    epochs,
                    EpochMetrics::validationAccuracy))));
    panels.add(
        new Panel(
            "Privacy spent (epsilon)",
            false,
            List.of(series("epsilon", "epsilon", EPSILON_COLOR, epochs, EpochMetrics::epsilon))));
    panels.removeIf(p -> p.series.stream().noneMatch(Series::anyFinite));

    int height = Math.max(1, panels.size()) * PANEL_HEIGHT;
    StringBuilder svg = new StringBuilder(4096);
    svg.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
        .append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"")
        .append(WIDTH)
        .append("\" height=\"")
        .append(height)
        .append("\" viewBox=\"0 0 ")
        .append(WIDTH)
        .append(' ')
        .append(height)
        .append("\" font-family=\"sans-serif\" font-size=\"11\">\n")
        .append("<title>Ember training curves</title>\n")
        .append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
    if (panels.isEmpty()) {
      svg.append("<text x=\"")
          .append(WIDTH / 2)
          .append("\" y=\"")
          .append(PANEL_HEIGHT / 2)
          .append("\" text-anchor=\"middle\">no finite metrics to draw</text>\n");
    }
    int bestEpoch = summary.stoppedEarly() ? summary.bestEpoch() : 0;
    for (int i = 0; i < panels.size(); i++) {
      panels.get(i).draw(svg, i * PANEL_HEIGHT, epochs.size(), bestEpoch);
    }
    return svg.append("</svg>\n").toString();
  }

  private static Series series(
      String name,
      String label,
      String color,
      List<EpochMetrics> epochs,
      ToDoubleFunction<EpochMetrics> metric) {
    double[] values = new double[epochs.size()];
    for (int i = 0; i < values.length; i++) {
      values[i] = metric.applyAsDouble(epochs.get(i));
    }
    return new Series(name, label, color, values);
  }

  /** One chart: a title, axes and the series that have any finite value. */
  private static final class Panel {
    final String title;
    final boolean percent;
    final List<Series> series;

    Panel(String title, boolean percent, List<Series> series) {
      this.title = title;
      this.percent = percent;
      this.series = new ArrayList<>(series);
      this.series.removeIf(s -> !s.anyFinite());
    }

    void draw(StringBuilder svg, int top, int epochCount, int bestEpoch) {
      double lo = Double.POSITIVE_INFINITY;
      double hi = Double.NEGATIVE_INFINITY;
      for (Series s : series) {
        for (double v : s.values) {
          if (Double.isFinite(v)) {
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
          }
        }
      }
      Axis y = Axis.of(lo, hi);
      // One epoch: the x axis spans 0.5..1.5 so its point sits in the middle.
      double xMin = epochCount > 1 ? 1 : 0.5;
      double xMax = epochCount > 1 ? epochCount : 1.5;
      double plotLeft = LEFT;
      double plotRight = WIDTH - RIGHT;
      double plotTop = top + TOP;
      double plotBottom = top + PANEL_HEIGHT - BOTTOM;
      Mapper map = new Mapper(xMin, xMax, plotLeft, plotRight, y.min, y.max, plotBottom, plotTop);

      svg.append("<g class=\"panel\" data-title=\"").append(title).append("\">\n");
      svg.append("<text x=\"")
          .append(LEFT)
          .append("\" y=\"")
          .append(top + 18)
          .append("\" font-size=\"13\" font-weight=\"bold\">")
          .append(title)
          .append("</text>\n");
      // grid and y ticks
      for (double t : y.ticks()) {
        double py = map.y(t);
        svg.append(line(plotLeft, py, plotRight, py, "#e5e5e5", false));
        svg.append(
            text(plotLeft - 6, py + 4, "end", percent ? Axis.percent(t, y.step) : Axis.label(t)));
      }
      // x ticks: epochs
      for (int e : epochTicks(epochCount)) {
        double px = map.x(e);
        svg.append(line(px, plotBottom, px, plotBottom + 4, "#333", false));
        svg.append(text(px, plotBottom + 16, "middle", Integer.toString(e)));
      }
      svg.append(text((plotLeft + plotRight) / 2, plotBottom + 32, "middle", "epoch"));
      // axes
      svg.append(line(plotLeft, plotTop, plotLeft, plotBottom, "#333", false));
      svg.append(line(plotLeft, plotBottom, plotRight, plotBottom, "#333", false));
      if (bestEpoch > 0) {
        double px = map.x(bestEpoch);
        svg.append(line(px, plotTop, px, plotBottom, "#888", true));
        svg.append(text(px + 4, plotTop + 10, "start", "best epoch " + bestEpoch));
      }
      for (Series s : series) {
        drawSeries(svg, s, map);
      }
      drawLegend(svg, top);
      svg.append("</g>\n");
    }

    private void drawSeries(StringBuilder svg, Series s, Mapper map) {
      svg.append("<g class=\"series\" data-series=\"")
          .append(s.name)
          .append("\" stroke=\"")
          .append(s.color)
          .append("\" fill=\"")
          .append(s.color)
          .append("\">\n");
      // A polyline per run of finite values: a NaN breaks the line.
      StringBuilder run = new StringBuilder();
      int runLength = 0;
      for (int i = 0; i <= s.values.length; i++) {
        boolean finite = i < s.values.length && Double.isFinite(s.values[i]);
        if (finite) {
          run.append(runLength == 0 ? "" : " ")
              .append(coord(map.x(i + 1)))
              .append(',')
              .append(coord(map.y(s.values[i])));
          runLength++;
        } else {
          if (runLength > 1) {
            svg.append("<polyline fill=\"none\" stroke-width=\"2\" points=\"")
                .append(run)
                .append("\"/>\n");
          }
          run.setLength(0);
          runLength = 0;
        }
      }
      for (int i = 0; i < s.values.length; i++) {
        double v = s.values[i];
        if (Double.isFinite(v)) {
          svg.append("<circle r=\"3\" cx=\"")
              .append(coord(map.x(i + 1)))
              .append("\" cy=\"")
              .append(coord(map.y(v)))
              .append("\" data-epoch=\"")
              .append(i + 1)
              .append("\" data-value=\"")
              .append(v)
              .append("\"/>\n");
        }
      }
      svg.append("</g>\n");
    }

    private void drawLegend(StringBuilder svg, int top) {
      double x = WIDTH - RIGHT - 110.0 * series.size();
      for (Series s : series) {
        double y = top + 14;
        svg.append(
            String.format(
                Locale.ROOT,
                "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"%s\" stroke-width=\"2\"/>\n",
                coord(x),
                coord(y),
                coord(x + 18),
                coord(y),
                s.color));
        svg.append(
            String.format(
                Locale.ROOT,
                "<circle r=\"3\" cx=\"%s\" cy=\"%s\" fill=\"%s\"/>\n",
                coord(x + 9),
                coord(y),
                s.color));
        svg.append(text(x + 24, y + 4, "start", s.label));
        x += 110;
      }
    }
  }

  /** Epoch tick positions: every epoch up to 10, else a round step. */
  static List<Integer> epochTicks(int epochs) {
    List<Integer> ticks = new ArrayList<>();
    if (epochs <= 1) {
      ticks.add(1);
      return ticks;
    }
    int step = epochs <= 10 ? 1 : (int) Math.max(1, Axis.niceStep((epochs - 1) / 6.0));
    ticks.add(1);
    for (int e = step; e <= epochs; e += step) {
      if (e > 1) {
        ticks.add(e);
      }
    }
    return ticks;
  }

  /** A value axis from a round number to a round number, in round steps. */
  record Axis(double min, double max, double step) {
    static Axis of(double lo, double hi) {
      if (!(hi > lo)) { // a single value (or one repeated): a band around it
        double pad = lo == 0 ? 1 : Math.abs(lo) * 0.1;
        lo -= pad;
        hi += pad;
      }
      double step = niceStep((hi - lo) / 5);
      return new Axis(Math.floor(lo / step) * step, Math.ceil(hi / step) * step, step);
    }

    /** 1, 2 or 5 times a power of ten, at least {@code raw}. */
    static double niceStep(double raw) {
      double power = Math.pow(10, Math.floor(Math.log10(raw)));
      double f = raw / power;
      double nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
      return nice * power;
    }

    List<Double> ticks() {
      List<Double> ticks = new ArrayList<>();
      long n = Math.round((max - min) / step);
      for (long i = 0; i <= n; i++) {
        ticks.add(min + i * step);
      }
      return ticks;
    }

    /** A tick's label without float noise (0.30000000000000004 is 0.3). */
    static String label(double v) {
      return new BigDecimal(v)
          .round(new java.math.MathContext(6))
          .stripTrailingZeros()
          .toPlainString();
    }

    static String percent(double v, double step) {
      int decimals = step * 100 >= 1 ? 0 : (int) Math.ceil(-Math.log10(step * 100));
      return String.format(Locale.ROOT, "%." + decimals + "f%%", v * 100);
    }
  }

  /** Data coordinates to picture coordinates. */
  record Mapper(
      double x0, double x1, double px0, double px1, double y0, double y1, double py0, double py1) {
    double x(double v) {
      return px0 + (v - x0) / (x1 - x0) * (px1 - px0);
    }

    double y(double v) {
      return py0 + (v - y0) / (y1 - y0) * (py1 - py0);
    }
  }

  private static String coord(double v) {
    return String.format(Locale.ROOT, "%.1f", v);
  }

  private static String line(
      double x1, double y1, double x2, double y2, String color, boolean dash) {
    return String.format(
        Locale.ROOT,
        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"%s/>\n",
        x1,
        y1,
        x2,
        y2,
        color,
        dash ? " stroke-dasharray=\"4 3\"" : "");
  }

  private static String text(double x, double y, String anchor, String content) {
    return String.format(
        Locale.ROOT,
        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">%s</text>\n",
        x,
        y,
        anchor,
        content);
  }
}
