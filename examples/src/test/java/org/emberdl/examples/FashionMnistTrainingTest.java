package org.emberdl.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.emberdl.data.FashionMnist;
import org.emberdl.tensor.io.Safetensors;
import org.emberdl.tensor.memory.Allocators;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A short real training run: it learns, saves loadable weights, and leaks nothing. */
class FashionMnistTrainingTest {
  @TempDir Path dir;

  @Test
  void aShortRunLearnsSavesAndFreesEverything() throws Exception {
    assumeTrue(FashionMnist.isAvailable(FashionMnist.DEFAULT_DIR), "dataset-fashion-mnist");
    Path out = dir.resolve("mlp.safetensors");
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    FashionMnistTraining.Result r =
        new FashionMnistTraining(
                Map.of("model", "mlp", "epochs", "1", "limit", "6000", "out", out.toString()),
                new PrintStream(log, true, StandardCharsets.UTF_8))
            .run();
    // 6000 examples, one epoch: far from converged, but well above chance (10%)
    assertTrue(r.testAccuracy() > 0.70, "test accuracy " + r.testAccuracy());
    assertTrue(log.toString(StandardCharsets.UTF_8).contains("epoch 1: train loss"));
    assertTrue(Files.size(out) > 235_146 * 4);
    try (Safetensors.SafetensorsFile f = Safetensors.read(out)) {
      assertEquals(
          java.util.List.of(
              "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"),
          java.util.List.copyOf(f.tensors().keySet()));
    }
    assertEquals(0, Allocators.cpuAllocatedBytes(), "every array of the run was freed");
  }

  @Test
  void theCnnTrainsAFewSteps() throws Exception {
    assumeTrue(FashionMnist.isAvailable(FashionMnist.DEFAULT_DIR), "dataset-fashion-mnist");
    FashionMnistTraining.Result r =
        new FashionMnistTraining(
                Map.of(
                    "model",
                    "cnn",
                    "epochs",
                    "1",
                    "limit",
                    "1024",
                    "batch-size",
                    "128",
                    "out",
                    dir.resolve("cnn.safetensors").toString()),
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8))
            .run();
    assertTrue(r.testAccuracy() > 0.4, "test accuracy " + r.testAccuracy());
    assertEquals(0, Allocators.cpuAllocatedBytes());
  }

  @Test
  void theRowLstmTrainsAFewStepsWithPytorchKeys() throws Exception {
    assumeTrue(FashionMnist.isAvailable(FashionMnist.DEFAULT_DIR), "dataset-fashion-mnist");
    Path out = dir.resolve("lstm.safetensors");
    FashionMnistTraining.Result r =
        new FashionMnistTraining(
                Map.of(
                    "model",
                    "lstm",
                    "epochs",
                    "1",
                    "limit",
                    "3072",
                    "lr",
                    "3e-3",
                    "out",
                    out.toString()),
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8))
            .run();
    // 24 steps: far from converged, but well above chance (10%)
    assertTrue(r.testAccuracy() > 0.3, "test accuracy " + r.testAccuracy());
    try (Safetensors.SafetensorsFile f = Safetensors.read(out)) {
      // the keys of the PyTorch twin in benchmarks/peers/pytorch_fashion_accuracy.py
      assertEquals(
          java.util.List.of(
              "lstm.weight_ih_l0",
              "lstm.weight_hh_l0",
              "lstm.bias_ih_l0",
              "lstm.bias_hh_l0",
              "fc.weight",
              "fc.bias"),
          java.util.List.copyOf(f.tensors().keySet()));
    }
    assertEquals(0, Allocators.cpuAllocatedBytes());
  }
}
