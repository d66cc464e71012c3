package org.emberdl.onnx;

import static org.emberdl.onnx.OnnxFixtureTest.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import org.emberdl.autograd.NoGrad;
import org.emberdl.autograd.Tensor;
import org.emberdl.data.Batch;
import org.emberdl.data.DataLoader;
import org.emberdl.data.Dataset;
import org.emberdl.data.FashionMnist;
import org.emberdl.nn.CrossEntropyLoss;
import org.emberdl.optim.Sgd;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.io.Safetensors;
import org.junit.jupiter.api.Test;

/**
 * A Fashion-MNIST MLP trained by PyTorch (src/test/python/make_fashion_mlp.py) imports with
 * PyTorch's logits and test accuracy, fine-tunes for an epoch in Ember without losing accuracy, and
 * exports again with its new weights in a file ONNX Runtime runs to Ember's outputs.
 */
class OnnxFashionMnistTest {
  private static final org.slf4j.Logger LOG =
      org.slf4j.LoggerFactory.getLogger(OnnxFashionMnistTest.class);

  @Test
  void importReproducesPyTorchLogits() throws Exception {
    try (OnnxModule mlp = Onnx.load(OnnxFixtureTest.fixture("fashion_mlp.onnx"));
        Safetensors.SafetensorsFile ref =
            Safetensors.read(OnnxFixtureTest.fixture("fashion_mlp.safetensors"));
        NoGrad ng = NoGrad.enter();
        MemoryScope s = MemoryScope.open()) {
      assertEquals(
          List.of("0.weight", "0.bias", "2.weight", "2.bias"),
          List.copyOf(mlp.namedParameters().keySet()));
      Tensor y = mlp.forward(Tensor.of(ref.tensors().get("input").share()));
      assertClose(
          ref.tensors().get("output").toFloatArray(), y.data().toFloatArray(), 1e-5, "logits");
    }
  }

  @Test
  void fineTuneOneEpochKeepsAccuracyAndExportsForOnnxRuntime() throws Exception {
    assumeTrue(
        FashionMnist.isAvailable(FashionMnist.DEFAULT_DIR),
        "Fashion-MNIST is not in "
            + FashionMnist.DEFAULT_DIR
            + " (Debian's dataset-fashion-mnist)");
    int pytorchCorrect;
    try (Safetensors.SafetensorsFile ref =
        Safetensors.read(OnnxFixtureTest.fixture("fashion_mlp.safetensors"))) {
      pytorchCorrect = Integer.parseInt(ref.metadata().get("test_correct"));
    }
    try (OnnxModule mlp = Onnx.load(OnnxFixtureTest.fixture("fashion_mlp.onnx"));
        Dataset trainImages = FashionMnist.train();
        Dataset testImages = FashionMnist.test();
        Dataset train = trainImages.flattened();
        Dataset test = testImages.flattened();
        CrossEntropyLoss loss = new CrossEntropyLoss()) {
      int before = correct(mlp, test);
      // the same function on other hardware: a handful of near-ties may flip
      assertTrue(
          Math.abs(before - pytorchCorrect) <= 3,
          "Ember " + before + " vs PyTorch " + pytorchCorrect + " correct of 10000");

      mlp.train();
      DataLoader loader = new DataLoader(train, 64, true, false, 7);
      try (Sgd sgd = new Sgd(mlp, 0.02, 0.9)) {
        for (Batch b : loader.epoch(0)) {
          try (b;
              MemoryScope s = MemoryScope.open()) {
            mlp.zeroGrad();
            loss.apply(mlp.forward(Tensor.of(b.x().share())), b.y()).backward();
            sgd.step();
          }
        }
      }
      mlp.eval();
      int after = correct(mlp, test);
      LOG.info(
          "Fashion-MNIST test accuracy: PyTorch {}, imported {}, after one Ember epoch {}",
          pytorchCorrect / 1e4,
          before / 1e4,
          after / 1e4);
      assertTrue(after >= before, "accuracy dropped from " + before + " to " + after);

      byte[] onnx = mlp.exportOnnxBytes();
      try (NDArray x = test.features().narrow(0, 0, 256);
          NDArray xc = x.contiguous()) {
        OrtRunner.assertSameOutput(onnx, mlp, xc);
      }
      try (OnnxModule again = Onnx.load(onnx)) {
        assertEquals(after, correct(again, test), "the exported weights are the tuned ones");
      }
    }
  }

  private static int correct(OnnxModule model, Dataset data) {
    int correct = 0;
    try (NoGrad ng = NoGrad.enter()) {
      for (int at = 0; at < data.size(); at += 1000) {
        try (MemoryScope s = MemoryScope.open()) {
          int n = Math.min(1000, data.size() - at);
          Tensor y = model.forward(Tensor.of(data.features().narrow(0, at, n)));
          long[] predicted = y.data().argmax(1, false).toLongArray();
          long[] labels = data.labels().narrow(0, at, n).toLongArray();
          for (int i = 0; i < n; i++) {
            correct += predicted[i] == labels[i] ? 1 : 0;
          }
        }
      }
    }
    return correct;
  }
}
