package org.emberdl.spark.internal.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.xml.parsers.DocumentBuilderFactory;
import org.emberdl.spark.EpochMetrics;
import org.emberdl.spark.TrainingSummary;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

public class TrainingCurvesSvgTest {
  private static final double NaN = Double.NaN;

  /** Parses {@code svg} with the JDK's XML parser: it must be well-formed SVG. */
  public static Document parse(String svg) throws Exception {
    DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
    f.setNamespaceAware(true);
    Document doc =
        f.newDocumentBuilder()
            .parse(new ByteArrayInputStream(svg.getBytes(StandardCharsets.UTF_8)));
    assertEquals("svg", doc.getDocumentElement().getLocalName());
    assertEquals("http://www.w3.org/2000/svg", doc.getDocumentElement().getNamespaceURI());
    return doc;
  }

  /** Series name -> its points as "epoch:value@cx,cy". */
  public static Map<String, List<String>> points(Document doc) {
    Map<String, List<String>> out = new LinkedHashMap<>();
    NodeList groups = doc.getElementsByTagName("g");
    for (int i = 0; i < groups.getLength(); i++) {
      Element g = (Element) groups.item(i);
      if (!g.getAttribute("class").equals("series")) {
        continue;
      }
      List<String> pts = new ArrayList<>();
      NodeList circles = g.getElementsByTagName("circle");
      for (int j = 0; j < circles.getLength(); j++) {
        Element c = (Element) circles.item(j);
        pts.add(
            c.getAttribute("data-epoch")
                + ":"
                + c.getAttribute("data-value")
                + "@"
                + c.getAttribute("cx")
                + ","
                + c.getAttribute("cy"));
      }
      out.put(g.getAttribute("data-series"), pts);
    }
    return out;
  }

  /** The non-empty values of {@code attribute} on every {@code tag}, in document order. */
  static List<String> attributes(Document doc, String tag, String attribute) {
    List<String> out = new ArrayList<>();
    NodeList nodes = doc.getElementsByTagName(tag);
    for (int i = 0; i < nodes.getLength(); i++) {
      String v = ((Element) nodes.item(i)).getAttribute(attribute);
      if (!v.isEmpty()) {
        out.add(v);
      }
    }
    return out;
  }

  private static EpochMetrics epoch(
      int n, double loss, double acc, double vLoss, double vAcc, double eps) {
    return new EpochMetrics(n, loss, acc, 1000, vLoss, vAcc, 1, eps);
  }

  @Test
  void drawsEachSeriesAtItsValuesAndBreaksLinesAtNaN() throws Exception {
    TrainingSummary s =
        new TrainingSummary(
            List.of(
                epoch(1, 1.0, 0.5, 0.9, 0.6, NaN),
                epoch(2, 0.5, 0.75, NaN, NaN, NaN),
                epoch(3, 0.25, 0.875, 0.7, 0.8, NaN)),
            true,
            3,
            100,
            10,
            2,
            5,
            1.0);
    Document doc = parse(TrainingCurvesSvg.render(s));

    // No epsilon (not private): two panels, 640 x 440.
    assertEquals(List.of("Loss", "Accuracy"), attributes(doc, "g", "data-title"));
    assertEquals("440", doc.getDocumentElement().getAttribute("height"));
    Map<String, List<String>> pts = points(doc);
    assertEquals(
        List.of("loss", "validationLoss", "accuracy", "validationAccuracy"),
        new ArrayList<>(pts.keySet()));
    // Loss panel: values 0.25..1.0 (validation 0.7..0.9 within) -> step 0.2, axis 0.2..1.0 drawn
    // from y 180 (0.2) to y 28 (1.0), 190 px per unit; epochs 1..3 from x 64 to x 624.
    // 0.5 -> 180 - 0.3 * 190 = 123; 0.25 -> 180 - 0.05 * 190 = 170.5; 0.9 -> 47; 0.7 -> 85.
    assertEquals(
        List.of("1:1.0@64.0,28.0", "2:0.5@344.0,123.0", "3:0.25@624.0,170.5"), pts.get("loss"));
    assertEquals(List.of("1:0.9@64.0,47.0", "3:0.7@624.0,85.0"), pts.get("validationLoss"));
    // Accuracy panel (top 220): 0.5..0.875 -> step 0.1, axis 0.5..0.9, y 400 (0.5) to 248 (0.9),
    // 380 px per unit: 0.75 -> 305, 0.875 -> 257.5, 0.6 -> 362, 0.8 -> 286.
    assertEquals(
        List.of("1:0.5@64.0,400.0", "2:0.75@344.0,305.0", "3:0.875@624.0,257.5"),
        pts.get("accuracy"));
    assertEquals(List.of("1:0.6@64.0,362.0", "3:0.8@624.0,286.0"), pts.get("validationAccuracy"));

    // One polyline per unbroken run of two or more values: training loss and accuracy only (the
    // validation series is broken by its NaN into single points).
    List<String> lines = attributes(doc, "polyline", "points");
    assertEquals(
        List.of("64.0,28.0 344.0,123.0 624.0,170.5", "64.0,400.0 344.0,305.0 624.0,257.5"), lines);
    String svg = TrainingCurvesSvg.render(s);
    // Ticks: loss 0.2, 0.4, ..., 1; accuracy 50%..90%; the early-stopping marker.
    for (String tick : List.of(">0.2<", ">0.4<", ">0.6<", ">0.8<", ">1<", ">50%<", ">90%<")) {
      assertTrue(svg.contains(tick), tick);
    }
    assertTrue(svg.contains(">best epoch 3<"));
    assertTrue(svg.contains(">training<") && svg.contains(">validation<"), "legend");
  }

  @Test
  void aOneEpochPrivateRegressionIsDrawnAsPoints() throws Exception {
    TrainingSummary s =
        new TrainingSummary(List.of(epoch(1, 2.0, NaN, NaN, NaN, 0.5)), false, 1, 10, 0, 1, 1, 1.0);
    Document doc = parse(TrainingCurvesSvg.render(s));
    assertEquals(List.of("Loss", "Privacy spent (epsilon)"), attributes(doc, "g", "data-title"));
    Map<String, List<String>> pts = points(doc);
    assertEquals(List.of("loss", "epsilon"), new ArrayList<>(pts.keySet()));
    // One epoch sits mid-axis: x = (64 + 624) / 2. A single value gets a band of +-10% around it:
    // loss 1.8..2.2 -> step 0.1, so 2.0 is mid-height: (28 + 180) / 2 = 104.
    assertEquals(List.of("1:2.0@344.0,104.0"), pts.get("loss"));
    // epsilon 0.45..0.55 -> step 0.02, axis 0.44..0.56: 0.5 mid-height of panel 2: 324.
    assertEquals(List.of("1:0.5@344.0,324.0"), pts.get("epsilon"));
    assertEquals(List.of(), attributes(doc, "polyline", "points"));
  }

  @Test
  void aSummaryWithNothingFiniteSaysSo() throws Exception {
    TrainingSummary s =
        new TrainingSummary(List.of(epoch(1, NaN, NaN, NaN, NaN, NaN)), false, 1, 10, 0, 1, 1, 1.0);
    String svg = TrainingCurvesSvg.render(s);
    parse(svg);
    assertTrue(svg.contains("no finite metrics to draw"), svg);
  }

  @Test
  void epochTicksAreEveryEpochUpToTenThenRound() {
    assertEquals(List.of(1), TrainingCurvesSvg.epochTicks(1));
    assertEquals(List.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), TrainingCurvesSvg.epochTicks(10));
    // 49 / 6 = 8.2 -> step 10
    assertEquals(List.of(1, 10, 20, 30, 40, 50), TrainingCurvesSvg.epochTicks(50));
  }
}
