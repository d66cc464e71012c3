package org.emberdl.spark.internal.infer;

import java.util.Arrays;
import org.apache.spark.ml.linalg.Vector;
import org.emberdl.autograd.NoGrad;
import org.emberdl.autograd.Tensor;
import org.emberdl.nn.Module;
import org.emberdl.spark.internal.data.FeatureColumn;
import org.emberdl.spark.internal.data.SparkInternals;
import org.emberdl.spark.internal.io.EmberModel;
import org.emberdl.spark.internal.local.NetworkDefinition;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;

/**
 * Spark ML's single-row API ({@code predictRaw}, {@code predict}) on the driver. Each call builds
 * the network, runs it and frees it, so no native memory outlives the call; batch work goes through
 * {@link BatchInference} instead.
 *
 * <p>The features are checked as {@code transform} checks a row (a sparse vector's indices too),
 * and so are the outputs. There is no row to drop, so under {@code handleInvalid} error and skip an
 * invalid input or a non-finite output throws; under keep every output is NaN.
 */
public final class LocalPredictor {
  private LocalPredictor() {}

  /** The network's outputs (logits, or the regression value) for one example. */
  public static double[] forward(EmberModel<?> model, Vector features) {
    NetworkDefinition network = NetworkDefinition.of(model);
    BatchInference.Invalid policy = BatchInference.Invalid.of(model.getHandleInvalid());
    int dim = network.inputSize();
    float[] x = new float[dim];
    String problem =
        FeatureColumn.vector("features", dim).copy(SparkInternals.vectorRow(features), 0, x, 0);
    if (problem != null) {
      if (policy == BatchInference.Invalid.KEEP) {
        return nan(model.numOutputs());
      }
      throw new IllegalArgumentException(
          "invalid features for model '"
              + model.uid()
              + "' (expected "
              + dim
              + " finite values): "
              + problem
              + hint(policy));
    }
    int[] shape = new int[network.inputShape().length + 1];
    shape[0] = 1;
    System.arraycopy(network.inputShape(), 0, shape, 1, shape.length - 1);
    float[] out;
    try (Module module = BatchInference.newReplica(network, model.weights());
        NoGrad ng = NoGrad.enter();
        MemoryScope scope = MemoryScope.open()) {
      out = module.forward(Tensor.of(NDArray.of(x, shape))).data().toFloatArray();
    }
    int bad = BatchInference.firstNonFinite(out, 0, out.length);
    if (bad >= 0) {
      if (policy == BatchInference.Invalid.KEEP) {
        return nan(out.length);
      }
      throw new IllegalStateException(
          BatchInference.nonFiniteOutput(model.uid(), "the given features", bad, out[bad])
              + hint(policy));
    }
    double[] d = new double[out.length];
    for (int i = 0; i < out.length; i++) {
      d[i] = out[i];
    }
    return d;
  }

  private static String hint(BatchInference.Invalid policy) {
    return policy == BatchInference.Invalid.SKIP
        ? "; handleInvalid 'skip' drops rows in transform, but a single prediction cannot be"
            + " dropped: set it to 'keep' to get NaN"
        : "; set handleInvalid to 'keep' to get NaN";
  }

  private static double[] nan(int n) {
    double[] d = new double[n];
    Arrays.fill(d, Double.NaN);
    return d;
  }
}
