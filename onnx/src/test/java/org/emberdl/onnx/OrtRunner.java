package org.emberdl.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.Arrays;
import java.util.Map;
import org.emberdl.autograd.NoGrad;
import org.emberdl.autograd.Tensor;
import org.emberdl.nn.Module;
import org.emberdl.tensor.NDArray;

/** Runs an exported model in ONNX Runtime and compares it with Ember's own forward. */
final class OrtRunner {
  private OrtRunner() {}

  /** Output values and shape. */
  record Output(float[] values, long[] shape) {}

  static Output run(byte[] model, NDArray input) throws OrtException {
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    long[] shape = Arrays.stream(input.shape()).asLongStream().toArray();
    try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions()) {
      opts.setIntraOpNumThreads(1);
      try (OrtSession session = env.createSession(model, opts);
          OnnxTensor x =
              switch (input.dtype()) {
                case FLOAT32 ->
                    OnnxTensor.createTensor(env, FloatBuffer.wrap(input.toFloatArray()), shape);
                case INT64 ->
                    OnnxTensor.createTensor(env, LongBuffer.wrap(input.toLongArray()), shape);
                default -> throw new IllegalArgumentException("input dtype " + input.dtype());
              };
          OrtSession.Result result = session.run(Map.of("input", x))) {
        OnnxTensor y = (OnnxTensor) result.get("output").orElseThrow();
        FloatBuffer fb = y.getFloatBuffer();
        float[] values = new float[fb.remaining()];
        fb.get(values);
        return new Output(values, y.getInfo().getShape());
      }
    }
  }

  /** Ember's eval-mode output on {@code input} (the module's mode is restored). */
  static Output ember(Module model, NDArray input) {
    boolean training = model.isTraining();
    model.eval();
    try (NoGrad ng = NoGrad.enter();
        Tensor x = Tensor.of(input.share());
        Tensor y = model.forward(x)) {
      return new Output(y.data().toFloatArray(), Arrays.stream(y.shape()).asLongStream().toArray());
    } finally {
      if (training) {
        model.train();
      }
    }
  }

  /**
   * ONNX Runtime's output on {@code input} equals Ember's: same shape, every value within 1e-5
   * (relative to the value's magnitude where that exceeds 1).
   */
  static void assertSameOutput(byte[] model, Module ember, NDArray input) throws OrtException {
    assertSameOutput(model, ember, input, 1e-5);
  }

  /** As above, within {@code tolerance} (relative above 1, absolute below). */
  static void assertSameOutput(byte[] model, Module ember, NDArray input, double tolerance)
      throws OrtException {
    Output expected = ember(ember, input);
    Output actual = run(model, input);
    assertArrayEquals(expected.shape(), actual.shape(), "output shape");
    float[] e = expected.values();
    float[] a = actual.values();
    assertEquals(e.length, a.length);
    double worst = 0;
    int at = -1;
    for (int i = 0; i < e.length; i++) {
      double err = Math.abs(e[i] - a[i]) / Math.max(1, Math.abs(e[i]));
      if (!(err <= worst)) {
        worst = err;
        at = i;
      }
    }
    if (!(worst <= tolerance)) {
      throw new AssertionError(
          "ONNX Runtime and Ember differ by "
              + worst
              + " at "
              + at
              + ": "
              + a[at]
              + " vs "
              + e[at]);
    }
  }
}
