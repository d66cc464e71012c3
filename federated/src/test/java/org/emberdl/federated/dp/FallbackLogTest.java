package org.emberdl.federated.dp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.emberdl.autograd.Tensor;
import org.emberdl.nn.CrossEntropyLoss;
import org.emberdl.nn.Linear;
import org.emberdl.nn.Module;
import org.emberdl.nn.Parameter;
import org.emberdl.nn.Reduction;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;

/** DP-SGD says once, with the reason, when it clips a model one example at a time. */
class FallbackLogTest {
  /** A linear model whose weight is its own parameter: no ghost-norm rule covers it. */
  static final class OwnWeights extends Module {
    private final Parameter weight;

    OwnWeights() {
      weight = registerParameter("weight", NDArray.randn(new Generator(1), DType.FLOAT32, 3, 4));
    }

    @Override
    public Tensor forward(Tensor x) {
      return Linear.linear(x, weight, null);
    }
  }

  @Test
  void theFallbackIsLoggedOncePerModelClassAndReason() {
    String reason = "OwnWeights has parameters and no ghost-norm rule";
    try (OwnWeights model = new OwnWeights();
        CrossEntropyLoss ce = new CrossEntropyLoss(Reduction.NONE);
        NDArray x = NDArray.randn(new Generator(2), DType.FLOAT32, 5, 4);
        NDArray y = NDArray.of(new long[] {0, 1, 2, 0, 1}, 5)) {
      for (int step = 0; step < 3; step++) {
        try (DpSgd.ClippedSum s = DpSgd.clippedSum(model, x, y, ce::apply, 1.0)) {
          assertEquals(DpSgd.Method.MATERIALIZED, s.method());
        }
      }
      // the steps above said it (with exactly this reason), so it is not said again
      assertFalse(FallbackLog.once(model, reason));
      assertTrue(FallbackLog.once(model, "another reason"));
      assertFalse(FallbackLog.once(model, "another reason"));
    }
  }
}
