package org.emberdl.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.emberdl.federated.dp.RdpAccountant;
import org.emberdl.spark.internal.local.ExecutorEngine;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A fit interrupted after some epochs and resumed from its checkpoint ends with the weights and
 * history of the uninterrupted fit, for every aggregation that keeps state across rounds; and a
 * resume under other settings, or from a damaged checkpoint, is refused with a message naming what
 * differs or which file is damaged.
 *
 * <p>The interruption is simulated as the cluster suite's driver loss leaves it: a fit asked for
 * fewer epochs writes its checkpoints and ends; the rerun with the same checkpointDir resumes.
 */
public class ResumeTest {
  private final SparkSession spark = SparkTestSession.get();

  @TempDir Path dir;

  @AfterEach
  void releaseReplicas() {
    ExecutorEngine.get().releaseAll();
  }

  /**
   * Fits {@code clf} for its maxEpochs uninterrupted, then for {@code first} epochs into a fresh
   * checkpointDir and again resumed from there; asserts the two end alike and returns the resumed.
   */
  private EmberClassificationModel assertResumeMatches(
      EmberClassifier clf, Dataset<Row> data, int first) {
    int total = clf.getMaxEpochs();
    EmberClassificationModel uninterrupted = clf.copy(new ParamMap()).fit(data);
    String ckpt = dir.resolve("ckpt").toString();
    clf.copy(new ParamMap()).setCheckpointDir(ckpt).setMaxEpochs(first).fit(data);
    assertEquals(List.of("epoch-000001"), checkpoints().subList(0, 1));
    EmberClassificationModel resumed = clf.copy(new ParamMap()).setCheckpointDir(ckpt).fit(data);
    assertArrayEquals(uninterrupted.weights(), resumed.weights(), "resumed != uninterrupted");
    List<EpochMetrics> a = uninterrupted.trainingSummary().epochs();
    List<EpochMetrics> b = resumed.trainingSummary().epochs();
    assertEquals(total, b.size());
    for (int e = 0; e < total; e++) {
      assertEquals(a.get(e).loss(), b.get(e).loss(), "training loss of epoch " + (e + 1));
      assertEquals(a.get(e).epsilon(), b.get(e).epsilon(), "epsilon of epoch " + (e + 1));
    }
    assertEquals(String.format("epoch-%06d", total), checkpoints().get(checkpoints().size() - 1));
    return resumed;
  }

  private List<String> checkpoints() {
    try (Stream<Path> s = Files.list(dir.resolve("ckpt"))) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void syncSgdWithMomentumResumesExactly() {
    Dataset<Row> data = TestData.blobs(spark, 200, 8, 3, 61, 2);
    assertResumeMatches(
        EmberClassifierTest.mlp()
            .setOptimizer("sgd")
            .setMomentum(0.9)
            .setLearningRate(0.05)
            .setMaxEpochs(3),
        data,
        1);
  }

  @Test
  void dpSgdResumesExactlyAndAccountsEveryEpoch() {
    // 300 rows, batch 30: q = 0.1, 10 steps per epoch.
    Dataset<Row> data = TestData.blobs(spark, 300, 8, 3, 62, 2);
    EmberClassificationModel resumed =
        assertResumeMatches(
            EmberClassifierTest.mlp()
                .setAggregation("dp-sgd")
                .setBatchSize(30)
                .setL2NormClip(1.0)
                .setNoiseMultiplier(0.8)
                .setLearningRate(0.05)
                .setMaxEpochs(3),
            data,
            1);
    // Epoch e has composed 10 e steps at (0.1, 0.8), the checkpoint's as well as the resumed ones.
    List<EpochMetrics> epochs = resumed.trainingSummary().epochs();
    for (int e = 1; e <= 3; e++) {
      double expected = new RdpAccountant().withSteps(0.1, 0.8, 10L * e).epsilon(1e-5);
      assertEquals(expected, epochs.get(e - 1).epsilon(), 1e-12);
    }
  }

  @Test
  void fedAvgWithServerMomentumResumesExactly() {
    Dataset<Row> data = TestData.blobs(spark, 200, 8, 3, 63, 4);
    EmberClassifier fedAvgM =
        EmberClassifierTest.mlp()
            .setNumPartitions(4)
            .setAggregation("fedavg")
            .setClientFraction(0.5)
            .setLocalEpochs(1)
            .setBatchSize(20)
            .setLearningRate(0.02)
            .setServerOptimizer("momentum")
            .setServerMomentum(0.9)
            .setMaxEpochs(3);
    assertResumeMatches(fedAvgM, data, 2);
    // The momentum matters here: without it (a restart at zero) epoch 3 ends elsewhere.
    EmberClassificationModel noMomentum =
        fedAvgM.copy(new ParamMap()).setServerMomentum(0.0).fit(data);
    assertFalse(
        Arrays.equals(fedAvgM.copy(new ParamMap()).fit(data).weights(), noMomentum.weights()));
  }

  @Test
  void dpFedAvgWithFedAdamResumesExactlyAndAccountsEveryRound() {
    Dataset<Row> data = TestData.clientBlobs(spark, 240, 8, 3, 4, 64);
    EmberClassificationModel resumed =
        assertResumeMatches(
            ClientLevelTrainingTest.federated()
                .setAggregation("dp-fedavg")
                .setClientFraction(0.75)
                .setL2NormClip(0.5)
                .setNoiseMultiplier(0.3)
                .setServerOptimizer("adam")
                .setServerLearningRate(0.05)
                .setServerMomentum(0.9)
                .setMaxEpochs(3),
            data,
            1);
    List<EpochMetrics> epochs = resumed.trainingSummary().epochs();
    for (int e = 1; e <= 3; e++) {
      double expected = new RdpAccountant().withSteps(0.75, 0.3, e).epsilon(1e-5);
      assertEquals(expected, epochs.get(e - 1).epsilon(), 1e-12);
    }
  }

  @Test
  void secureFedAvgWithServerMomentumResumesExactly() {
    // The masks cancel exactly in the fixed-point sum, so a secure round is as deterministic as a
    // plain one and the resumed fit must end on the same bits.
    Dataset<Row> data = TestData.clientBlobs(spark, 240, 8, 3, 2, 69);
    assertResumeMatches(
        ClientLevelTrainingTest.federated()
            .setSecureAggregation(true)
            .setServerOptimizer("momentum")
            .setServerMomentum(0.9)
            .setMaxEpochs(2),
        data,
        1);
  }

  @Test
  void aNonPrivateCheckpointIsNotResumedPrivately() {
    Dataset<Row> data = TestData.blobs(spark, 300, 8, 3, 65, 2);
    String ckpt = dir.resolve("ckpt").toString();
    EmberClassifier sync =
        EmberClassifierTest.mlp().setBatchSize(30).setCheckpointDir(ckpt).setMaxEpochs(1);
    sync.fit(data);
    IllegalStateException e =
        assertThrows(
            IllegalStateException.class,
            () ->
                sync.copy(new ParamMap())
                    .setAggregation("dp-sgd")
                    .setNoiseMultiplier(0.8)
                    .setL2NormClip(1.0)
                    .setMaxEpochs(3)
                    .fit(data));
    String m = e.getMessage();
    assertTrue(m.contains(dir.resolve("ckpt/epoch-000001").toString()), m);
    assertTrue(m.contains("aggregation: checkpoint sync, now dp-sgd"), m);
    assertTrue(m.contains("noiseMultiplier: checkpoint none, now 0.8"), m);
    assertTrue(m.contains("l2NormClip: checkpoint none, now 1.0"), m);
    assertTrue(m.contains("use another checkpointDir"), m);
    assertEquals(List.of("epoch-000001"), checkpoints(), "nothing trained");
  }

  @Test
  void otherPrivacyOrTrainingSettingsAreRefusedNamingEachDifference() {
    Dataset<Row> data = TestData.blobs(spark, 300, 8, 3, 66, 2);
    String ckpt = dir.resolve("ckpt").toString();
    EmberClassifier dp =
        EmberClassifierTest.mlp()
            .setAggregation("dp-sgd")
            .setBatchSize(30)
            .setL2NormClip(1.0)
            .setNoiseMultiplier(0.8)
            .setCheckpointDir(ckpt)
            .setMaxEpochs(2);
    dp.fit(data);
    String noise =
        assertThrows(
                IllegalStateException.class,
                () -> dp.copy(new ParamMap()).setNoiseMultiplier(1.0).setMaxEpochs(3).fit(data))
            .getMessage();
    assertTrue(noise.contains("(noiseMultiplier: checkpoint 0.8, now 1.0)"), noise);
    String several =
        assertThrows(
                IllegalStateException.class,
                () ->
                    dp.copy(new ParamMap())
                        .setLearningRate(0.02)
                        .setDelta(1e-6)
                        .setSecureNoise(true)
                        .setMaxEpochs(3)
                        .fit(data))
            .getMessage();
    assertTrue(
        several.contains(
            "(learningRate: checkpoint 0.01, now 0.02; delta: checkpoint 1.0E-5, now 1.0E-6;"
                + " secureNoise: checkpoint false, now true)"),
        several);
    // A noise multiplier calibrated for 2 epochs is not the one for 3: refused, with the way out.
    EmberClassifier target = dp.copy(new ParamMap());
    target.clear(target.noiseMultiplier());
    target.setTargetEpsilon(50).setCheckpointDir(dir.resolve("ckpt2").toString());
    target.fit(data);
    String calibrated =
        assertThrows(IllegalStateException.class, () -> target.setMaxEpochs(3).fit(data))
            .getMessage();
    assertTrue(calibrated.contains("noiseMultiplier: checkpoint "), calibrated);
    assertTrue(calibrated.contains("set noiseMultiplier to the checkpoint's value"), calibrated);
    // Fewer epochs than the checkpoint holds would return a model trained longer than asked.
    String fewer =
        assertThrows(
                IllegalStateException.class,
                () -> dp.copy(new ParamMap()).setMaxEpochs(1).fit(data))
            .getMessage();
    assertTrue(fewer.contains("holds 2 epochs, more than maxEpochs = 1"), fewer);
    assertEquals(List.of("epoch-000001", "epoch-000002"), checkpoints(), "nothing trained");
  }

  @Test
  void aDamagedCheckpointIsAnErrorNamingTheFile() throws IOException {
    Dataset<Row> data = TestData.blobs(spark, 200, 8, 3, 67, 2);
    String ckpt = dir.resolve("ckpt").toString();
    EmberClassifier clf = EmberClassifierTest.mlp().setCheckpointDir(ckpt).setMaxEpochs(2);
    clf.fit(data);
    EmberClassifier rerun = clf.copy(new ParamMap()).setMaxEpochs(3);
    Path latest = dir.resolve("ckpt/epoch-000002");

    // Hadoop's local file system keeps a checksum beside each file, which finds the damage first.
    Path model = latest.resolve("model.safetensors");
    byte[] bytes = Files.readAllBytes(model);
    Files.write(model, Arrays.copyOf(bytes, bytes.length / 2)); // truncated
    String checksum = assertThrows(IllegalStateException.class, () -> rerun.fit(data)).getMessage();
    assertTrue(
        checksum.startsWith("checkpoint file file:" + model + " is missing or corrupt (Checksum"),
        checksum);
    assertTrue(checksum.contains("move file:" + latest + " out of "), checksum);
    // Where no checksum is kept (or it was lost), the safetensors reader finds it.
    Files.delete(latest.resolve(".model.safetensors.crc"));
    String truncated =
        assertThrows(IllegalStateException.class, () -> rerun.fit(data)).getMessage();
    assertTrue(
        truncated.startsWith("checkpoint file file:" + model + " is missing or corrupt ("),
        truncated);
    Files.write(model, bytes);

    Path optimizer = latest.resolve("optimizer.safetensors");
    byte[] optimizerBytes = Files.readAllBytes(optimizer);
    Files.delete(optimizer);
    String missing = assertThrows(IllegalStateException.class, () -> rerun.fit(data)).getMessage();
    assertTrue(missing.contains(optimizer + " is missing or corrupt (it is missing)"), missing);
    Files.write(optimizer, optimizerBytes);

    Path progress = latest.resolve("progress.json");
    byte[] progressBytes = Files.readAllBytes(progress);
    Files.delete(latest.resolve(".progress.json.crc"));
    Files.writeString(progress, "{\"format\": 2, \"epochsDone\": ");
    String json = assertThrows(IllegalStateException.class, () -> rerun.fit(data)).getMessage();
    assertTrue(json.contains(progress + " is missing or corrupt"), json);

    Files.writeString(progress, "{\"epochsDone\": 2}"); // as an earlier Ember wrote it
    String old = assertThrows(IllegalStateException.class, () -> rerun.fit(data)).getMessage();
    assertTrue(old.contains(progress + " is missing or corrupt (written by an earlier Ember"), old);

    // A privacy ledger in a non-private fit's checkpoint: it does not describe this fit.
    String ledger =
        new String(progressBytes, StandardCharsets.UTF_8)
            .replace(
                "\"privacy\":[]",
                "\"privacy\":[{\"samplingRate\":\"0.1\",\"noiseMultiplier\":\"0.8\",\"steps\":10}]");
    assertFalse(Arrays.equals(progressBytes, ledger.getBytes(StandardCharsets.UTF_8)));
    Files.writeString(progress, ledger);
    String steps = assertThrows(IllegalStateException.class, () -> rerun.fit(data)).getMessage();
    assertTrue(
        steps.contains(
            latest
                + " records 10 private steps for 2 epochs of non-private training, not 0; it cannot"
                + " be resumed with an honest privacy account"),
        steps);

    // Repaired, it resumes: the errors above changed nothing.
    Files.write(progress, progressBytes);
    EmberClassificationModel resumed = rerun.fit(data);
    assertEquals(3, resumed.trainingSummary().epochs().size());
    assertArrayEquals(
        clf.copy(new ParamMap()).setCheckpointDir("").setMaxEpochs(3).fit(data).weights(),
        resumed.weights());
  }

  /**
   * Rows whose labels are drawn at random, independently of the features: nothing generalizes, so
   * the validation loss rises once the network starts to memorize and early stopping stops.
   */
  static Dataset<Row> randomLabels(SparkSession spark) {
    return TestData.blobs(spark, 200, 8, 3, 68, 2)
        .withColumn("label", functions.floor(functions.rand(68).multiply(3)).cast("double"));
  }

  public static EmberClassifier earlyStopping() {
    return EmberClassifierTest.mlp()
        .setLayers(new int[] {8, 32, 3})
        .setValidationFraction(0.3)
        .setEarlyStoppingPatience(2)
        .setLearningRate(0.05)
        .setMaxEpochs(40);
  }

  @Test
  void earlyStoppingResumesWithItsBestWeights() throws IOException {
    Dataset<Row> data = randomLabels(spark).cache();
    EmberClassificationModel uninterrupted = earlyStopping().fit(data);
    TrainingSummary s = uninterrupted.trainingSummary();
    assertTrue(s.stoppedEarly(), "did not stop early: " + s.epochs().size() + " epochs");
    int best = s.bestEpoch();
    assertEquals(best + 2, s.epochs().size());

    // Interrupted one epoch after the best: the checkpoint must hold the best weights, since the
    // resumed fit stops after one more epoch and returns them.
    String ckpt = dir.resolve("ckpt").toString();
    earlyStopping().setCheckpointDir(ckpt).setMaxEpochs(best + 1).fit(data);
    EmberClassificationModel resumed = earlyStopping().setCheckpointDir(ckpt).fit(data);
    assertTrue(resumed.trainingSummary().stoppedEarly());
    assertEquals(best, resumed.trainingSummary().bestEpoch());
    assertArrayEquals(uninterrupted.weights(), resumed.weights());

    // Rerun once more, from the checkpoint written when it stopped: it stays stopped, trains
    // nothing, and still returns the best weights.
    EmberClassificationModel again = earlyStopping().setCheckpointDir(ckpt).fit(data);
    assertTrue(again.trainingSummary().stoppedEarly());
    assertEquals(best + 2, again.trainingSummary().epochs().size());
    assertArrayEquals(uninterrupted.weights(), again.weights());
    assertEquals(
        String.format("epoch-%06d", best + 2), checkpoints().get(checkpoints().size() - 1));

    // Without its best weights the checkpoint cannot give the early-stopped answer: refused.
    Path bestFile = dir.resolve(String.format("ckpt/epoch-%06d/best.safetensors", best + 2));
    Files.delete(bestFile);
    String m =
        assertThrows(
                IllegalStateException.class, () -> earlyStopping().setCheckpointDir(ckpt).fit(data))
            .getMessage();
    assertTrue(m.contains(bestFile + " is missing or corrupt (it is missing)"), m);
  }
}
