package org.emberdl.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.emberdl.spark.internal.local.ExecutorEngine;
import org.emberdl.spark.internal.train.FitProgress;
import org.emberdl.spark.internal.train.ProgressBoard;
import org.emberdl.spark.internal.train.ProgressBoardTest;
import org.emberdl.spark.internal.train.TrainingCurvesSvgTest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;

class ProgressListenerTest {
  private final SparkSession spark = SparkTestSession.get();

  @AfterEach
  void releaseReplicas() {
    ExecutorEngine.get().releaseAll();
  }

  /** Records every call as a line, and the progress records themselves. */
  static final class Recorder implements ProgressListener {
    final List<String> calls = new ArrayList<>();
    final List<TrainingProgress> steps = new ArrayList<>();
    final List<EpochMetrics> epochs = new ArrayList<>();

    @Override
    public void onStep(TrainingProgress p) {
      calls.add(
          "step " + p.epoch() + "/" + p.maxEpochs() + " " + p.step() + "/" + p.stepsPerEpoch());
      steps.add(p);
    }

    @Override
    public void onEpoch(EpochMetrics m) {
      calls.add("epoch " + m.epoch());
      epochs.add(m);
    }
  }

  @Test
  void everyStepThenEachEpochIsReportedInOrderWithTheEpochsCounts(@TempDir Path dir)
      throws Exception {
    // 300 rows, batch 64: ceil(300 / 64) = 5 steps per epoch; 3 epochs.
    Dataset<Row> data = TestData.blobs(spark, 300, 4, 3, 7, 2);
    Recorder recorder = new Recorder();
    EmberClassifier clf =
        new EmberClassifier()
            .setLayers(new int[] {4, 8, 3})
            .setBatchSize(64)
            .setMaxEpochs(3)
            .setSeed(3)
            .setProgressListener(recorder);
    List<String> jobs = new CopyOnWriteArrayList<>();
    SparkListener descriptions =
        new SparkListener() {
          @Override
          public void onJobStart(SparkListenerJobStart start) {
            String d = start.properties().getProperty("spark.job.description");
            if (d != null && d.startsWith("Ember")) {
              jobs.add(d);
            }
          }
        };
    spark.sparkContext().addSparkListener(descriptions);
    EmberClassificationModel model;
    try {
      model = clf.fit(data);
      spark.sparkContext().listenerBus().waitUntilEmpty();
    } finally {
      spark.sparkContext().removeSparkListener(descriptions);
    }

    List<String> expected = new ArrayList<>();
    for (int e = 1; e <= 3; e++) {
      for (int s = 1; s <= 5; s++) {
        expected.add("step " + e + "/3 " + s + "/5");
      }
      expected.add("epoch " + e);
    }
    assertEquals(expected, recorder.calls);
    TrainingSummary summary = model.trainingSummary();
    assertEquals(5, summary.roundsPerEpoch());
    assertEquals(summary.epochs(), recorder.epochs);
    for (int e = 0; e < 3; e++) {
      List<TrainingProgress> epoch = recorder.steps.subList(e * 5, e * 5 + 5);
      long previous = 0;
      double seconds = 0;
      for (TrainingProgress p : epoch) {
        assertTrue(p.examples() > previous, "examples grow within an epoch: " + epoch);
        assertTrue(p.seconds() >= seconds, "time grows within an epoch: " + epoch);
        previous = p.examples();
        seconds = p.seconds();
      }
      TrainingProgress last = epoch.get(4);
      // The last step has seen every training row, and its running loss is the epoch's loss.
      assertEquals(300, last.examples());
      assertEquals(summary.epochs().get(e).loss(), last.loss());
      // Time left at an epoch's last step: 5 steps per later epoch at this epoch's pace.
      assertEquals(last.seconds() / 5 * (5 * (2 - e)), last.etaSeconds(), 1e-9);
    }

    // In the default executionMode=stage each epoch is one Spark job (a barrier stage) that says
    // which epoch it trains; the per-step progress above comes from the driver's step exchange.
    assertEquals(
        List.of(
            "Ember epoch 1/3: training stage of 5 steps on 2 partitions",
            "Ember epoch 2/3: training stage of 5 steps on 2 partitions",
            "Ember epoch 3/3: training stage of 5 steps on 2 partitions"),
        jobs);

    // The Ember tab of the web UI (off in these tests, so only its board) shows the ended fit.
    ProgressBoard board = ProgressBoard.of(spark.sparkContext());
    assertFalse(board.inUi());
    ProgressBoard.Fit fit =
        board.fits().stream().filter(f -> f.name.startsWith(clf.uid() + ": ")).findFirst().get();
    assertTrue(fit.ended);
    assertSame(recorder.steps.get(14), fit.step);
    assertEquals(summary.epochs().get(2), fit.epoch);
    assertEquals(
        List.of("3/3", "5/5", "300"), ProgressBoardTest.row(board.xhtml(), fit.name).subList(2, 5));

    // The saved model has its curves beside it, drawn from this summary.
    Path saved = dir.resolve("model");
    model.write().save(saved.toString());
    String svg = Files.readString(saved.resolve("data/training.svg"));
    Document doc = TrainingCurvesSvgTest.parse(svg);
    List<String> loss = TrainingCurvesSvgTest.points(doc).get("loss");
    assertEquals(3, loss.size());
    for (int e = 0; e < 3; e++) {
      assertTrue(
          loss.get(e).startsWith((e + 1) + ":" + summary.epochs().get(e).loss() + "@"),
          loss.toString());
    }
  }

  @Test
  void copiesKeepTheListenerAndPersistenceDropsIt(@TempDir Path dir) throws Exception {
    ProgressListener listener = p -> {};
    EmberClassifier clf =
        new EmberClassifier().setLayers(new int[] {4, 3}).setProgressListener(listener);
    assertSame(listener, clf.copy(new ParamMap()).getProgressListener());
    EmberRegressor reg =
        new EmberRegressor().setLayers(new int[] {4, 1}).setProgressListener(listener);
    assertSame(listener, reg.copy(new ParamMap()).getProgressListener());

    // Saved and loaded: the Params only; nothing about the listener is written.
    Path saved = dir.resolve("clf");
    clf.write().save(saved.toString());
    assertNull(EmberClassifier.load(saved.toString()).getProgressListener());
    try (Stream<Path> files = Files.walk(saved)) {
      for (Path f : files.filter(Files::isRegularFile).toList()) {
        String text = new String(Files.readAllBytes(f), StandardCharsets.ISO_8859_1);
        assertFalse(text.toLowerCase(Locale.ROOT).contains("listener"), f.toString());
      }
    }
    // Java serialization (Spark ships estimators in closures, CrossValidator copies): dropped.
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(clf);
    }
    try (ObjectInputStream in =
        new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      assertNull(((EmberClassifier) in.readObject()).getProgressListener());
    }
  }

  @Test
  void aListenerThatThrowsIsLoggedOnceAndTrainingGoesOn() {
    Dataset<Row> data = TestData.linear(spark, 120, 3, 5);
    int[] calls = {0};
    EmberRegressor reg =
        new EmberRegressor()
            .setLayers(new int[] {3, 4, 1})
            .setBatchSize(40)
            .setMaxEpochs(2)
            .setProgressListener(
                p -> {
                  calls[0]++;
                  throw new IllegalStateException("display closed");
                });
    try (LogCapture log = new LogCapture(FitProgress.class)) {
      EmberRegressionModel model = reg.fit(data);
      assertEquals(2, model.trainingSummary().epochs().size());
      // 120 rows, batch 40: 3 steps an epoch, every one still reported.
      assertEquals(6, calls[0]);
      assertEquals(
          List.of("WARN the progress listener threw; training goes on (reported once per fit)"),
          log.containing("progress listener"));
    }
  }

  @Test
  void inRoundsModeEachRoundsJobSaysWhereTheFitIs() throws Exception {
    Dataset<Row> data = TestData.blobs(spark, 300, 4, 3, 7, 2);
    List<String> jobs = new CopyOnWriteArrayList<>();
    SparkListener descriptions =
        new SparkListener() {
          @Override
          public void onJobStart(SparkListenerJobStart start) {
            String d = start.properties().getProperty("spark.job.description");
            if (d != null && d.startsWith("Ember")) {
              jobs.add(d);
            }
          }
        };
    spark.sparkContext().addSparkListener(descriptions);
    try {
      new EmberClassifier()
          .setLayers(new int[] {4, 8, 3})
          .setBatchSize(64)
          .setMaxEpochs(3)
          .setSeed(3)
          .setExecutionMode("rounds")
          .fit(data);
      spark.sparkContext().listenerBus().waitUntilEmpty();
    } finally {
      spark.sparkContext().removeSparkListener(descriptions);
    }
    // Its epoch, its round, and the last round's loss.
    assertEquals(15, jobs.size(), jobs.toString());
    assertEquals("Ember epoch 1/3, round 1/5, loss NaN", jobs.get(0));
    for (int i = 1; i < 15; i++) {
      String pattern =
          "Ember epoch " + (i / 5 + 1) + "/3, round " + (i % 5 + 1) + "/5, loss \\d\\.\\d{4}";
      assertTrue(jobs.get(i).matches(pattern), jobs.get(i));
    }
  }
}
