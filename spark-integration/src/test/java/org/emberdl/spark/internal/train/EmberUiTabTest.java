package org.emberdl.spark.internal.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import org.apache.spark.SparkContext;
import org.apache.spark.ui.SparkUI;
import org.emberdl.spark.SparkTestSession;
import org.emberdl.spark.TrainingProgress;
import org.emberdl.spark.internal.data.SparkInternals;
import org.junit.jupiter.api.Test;
import scala.Option;

/**
 * Pins the Spark internals behind the Ember tab ({@link SparkInternals#attachUiTab}): a tab added
 * to a running web UI is served at {@code /ember/} inside Spark's own page, and shows the board as
 * it is at each request. The test session runs without a UI, so this test binds one of its own.
 */
class EmberUiTabTest {
  private static String get(String url) throws Exception {
    HttpURLConnection c = (HttpURLConnection) new URL(url).openConnection();
    c.setConnectTimeout(10_000);
    c.setReadTimeout(10_000);
    assertEquals(200, c.getResponseCode(), url);
    try (InputStream in = c.getInputStream()) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } finally {
      c.disconnect();
    }
  }

  @Test
  void theEmberTabShowsTheBoardLiveInsideSparksPage() throws Exception {
    SparkContext sc = SparkTestSession.get().sparkContext();
    SparkUI ui =
        SparkUI.create(
            Option.apply(sc),
            sc.statusStore(),
            sc.conf(),
            sc.env().securityManager(),
            "ember-ui-test",
            "",
            System.currentTimeMillis(),
            sc.version());
    ui.bind();
    try {
      // As SparkContext does once started; the tab is added later, when a fit begins.
      ui.setAppId(sc.applicationId());
      ui.attachAllHandlers();
      ProgressBoard board = ProgressBoard.of(sc);
      SparkInternals.attachUiTab(ui, "ember", board::xhtml);
      ProgressBoard.Fit fit = board.start("emberClassifier_ui: linear(4) <live>", 3, 10);
      fit.step(new TrainingProgress(1, 3, 2, 10, 256, 0.75, 1));
      String page = get(ui.webUrl() + "/ember/");
      // Spark's page chrome, with the tab in its navigation bar, around the board's table
      assertTrue(page.contains("<title>"), page);
      assertTrue(page.contains(">Ember<"), page);
      assertTrue(page.contains("emberClassifier_ui: linear(4) &lt;live&gt;"), page);
      assertTrue(page.contains("<td>2/10</td>"), page);
      // the next request shows the next step: the page is live while a stage runs
      fit.step(new TrainingProgress(1, 3, 7, 10, 896, 0.5, 3.5));
      String later = get(ui.webUrl() + "/ember/");
      assertTrue(later.contains("<td>7/10</td>"), later);
      assertTrue(later.contains("<td>0.5000</td>"), later);
      fit.end();
    } finally {
      ui.stop();
    }
  }
}
