package org.emberdl.spark.internal.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import javax.xml.parsers.DocumentBuilderFactory;
import org.apache.spark.SparkContext;
import org.emberdl.spark.EpochMetrics;
import org.emberdl.spark.SparkTestSession;
import org.emberdl.spark.TrainingProgress;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

public class ProgressBoardTest {
  /** The cells of the row whose first cell is {@code name}, parsed as XML (as Spark's UI does). */
  public static List<String> row(String xhtml, String name) {
    try {
      Document doc =
          DocumentBuilderFactory.newInstance()
              .newDocumentBuilder()
              .parse(new ByteArrayInputStream(xhtml.getBytes(StandardCharsets.UTF_8)));
      NodeList rows = doc.getElementsByTagName("tr");
      for (int i = 0; i < rows.getLength(); i++) {
        NodeList cells = ((Element) rows.item(i)).getElementsByTagName("td");
        List<String> out = new ArrayList<>();
        for (int j = 0; j < cells.getLength(); j++) {
          out.add(cells.item(j).getTextContent());
        }
        if (!out.isEmpty() && out.get(0).equals(name)) {
          return out;
        }
      }
      throw new AssertionError("no row for " + name + " in " + xhtml);
    } catch (Exception e) {
      throw new AssertionError("not well-formed: " + xhtml, e);
    }
  }

  @Test
  void showsEachFitsLatestStepAndEpochEscaped() {
    SparkContext sc = SparkTestSession.get().sparkContext();
    ProgressBoard board = ProgressBoard.of(sc);
    String name = "emberClassifier_x: conv(4,k=3) <&> \"net\"";
    ProgressBoard.Fit fit = board.start(name, 5, 10);
    assertEquals(List.of(name, "running", "", "", "", "", "", "", ""), row(board.xhtml(), name));
    // epoch 2, step 4: 512 examples in 2 s; 2 s a step, 6 + 3 * 10 = 36 steps left: 72 s
    fit.step(new TrainingProgress(2, 5, 4, 10, 512, 0.123456, 8));
    fit.epoch(new EpochMetrics(1, 0.5, 0.75, 100, Double.NaN, Double.NaN, 10, 1.5));
    assertEquals(
        List.of(
            name,
            "running",
            "2/5",
            "4/10",
            "512",
            "64",
            "0.1235",
            "0:01:12",
            "epoch 1: loss 0.5000, accuracy 75.00%, epsilon 1.500"),
        row(board.xhtml(), name));
    fit.end();
    assertEquals("ended", row(board.xhtml(), name).get(1));
    assertEquals("", row(board.xhtml(), name).get(7), "no time left once ended");
  }

  @Test
  void keepsRunningFitsAndTheLastEndedOnes() {
    ProgressBoard board = ProgressBoard.of(SparkTestSession.get().sparkContext());
    ProgressBoard.Fit running = board.start("still running", 1, 1);
    for (int i = 0; i < ProgressBoard.KEEP_ENDED + 5; i++) {
      board.start("ended " + i, 1, 1).end();
    }
    board.start("last", 1, 1);
    List<String> names = board.fits().stream().map(f -> f.name).toList();
    assertEquals("last", names.get(0));
    assertEquals(ProgressBoard.KEEP_ENDED, board.fits().stream().filter(f -> f.ended).count());
    assertFalse(names.contains("ended 0"), "the oldest ended fits go");
    assertEquals(true, names.contains("still running"));
    running.end();
  }
}
