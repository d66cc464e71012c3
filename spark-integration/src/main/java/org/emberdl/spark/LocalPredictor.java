package org.emberdl.spark;

import org.apache.spark.ml.linalg.Vector;
import org.emberdl.autograd.NoGrad;
import org.emberdl.autograd.Tensor;
import org.emberdl.nn.Module;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;

/**
 * Spark ML's single-row API ({@code predictRaw}, {@code predict}) on the driver. Each call builds
 * the network, runs it and frees it, so no native memory outlives the call; batch work goes through
 * {@link BatchInference} instead.
 */
final class LocalPredictor {
  private LocalPredictor() {}

  static double[] forward(NetworkDefinition network, byte[] weights, Vector features) {
    int dim = network.inputSize();
    if (features.size() != dim) {
      throw new IllegalArgumentException(
          "features have length " + features.size() + ", expected " + dim);
    }
    float[] x = new float[dim];
    double[] dense = features.toArray();
    for (int i = 0; i < dim; i++) {
      x[i] = (float) dense[i];
    }
    int[] shape = new int[network.inputShape().length + 1];
    shape[0] = 1;
    System.arraycopy(network.inputShape(), 0, shape, 1, shape.length - 1);
    BatchInference builder =
        new BatchInference(
            network, "", BatchInference.Output.REGRESSOR, false, false, false, null, 1, "error");
    try (Module module = builder.newReplica(weights);
        NoGrad ng = NoGrad.enter();
        MemoryScope scope = MemoryScope.open()) {
      float[] out = module.forward(Tensor.of(NDArray.of(x, shape))).data().toFloatArray();
      double[] d = new double[out.length];
      for (int i = 0; i < out.length; i++) {
        d[i] = out[i];
      }
      return d;
    }
  }
}
