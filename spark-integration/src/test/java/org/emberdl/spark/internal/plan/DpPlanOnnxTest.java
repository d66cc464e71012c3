package org.emberdl.spark.internal.plan;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.emberdl.onnx.Onnx;
import org.emberdl.onnx.OnnxModule;
import org.junit.jupiter.api.Test;

/** DP refuses batch norm in an imported ONNX graph as it does BatchNorm modules. */
class DpPlanOnnxTest {
  private static final Path FIXTURES =
      Path.of("../onnx/src/test/resources/org/emberdl/onnx/fixtures");

  @Test
  void batchNormalizationNodesAreRefusedNamingTheNode() throws Exception {
    try (OnnxModule resnet = Onnx.load(FIXTURES.resolve("resnet.onnx"))) {
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> DpPlan.refuseOnnxBatchNorm(resnet));
      assertTrue(e.getMessage().startsWith("the ONNX node '"), e.getMessage());
      assertTrue(
          e.getMessage().contains("(BatchNormalization) is not allowed under DP-SGD"),
          e.getMessage());
    }
    try (OnnxModule mlp = Onnx.load(FIXTURES.resolve("fashion_mlp.onnx"))) {
      DpPlan.refuseOnnxBatchNorm(mlp); // no batch norm: accepted
    }
  }
}
