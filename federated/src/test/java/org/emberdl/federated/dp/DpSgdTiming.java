package org.emberdl.federated.dp;

import java.util.Arrays;
import java.util.Locale;
import org.emberdl.autograd.Tensor;
import org.emberdl.nn.CrossEntropyLoss;
import org.emberdl.nn.Linear;
import org.emberdl.nn.ReLU;
import org.emberdl.nn.Reduction;
import org.emberdl.nn.Sequential;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.NDArray;

/**
 * Not a test: the time of one DP-SGD gradient (ghost clipping + noise) against one non-private
 * gradient (mean loss, one backward pass), for the MLP 784-256-128-10 at batch 256; both end with
 * the flat gradient in a new array. Medians over repeated steps after a warm-up. Run with
 *
 * <pre>
 * java -cp federated/target/classes:federated/target/test-classes:$(cat cp.txt) \
 *     org.emberdl.federated.dp.DpSgdTiming [steps]
 * </pre>
 */
public final class DpSgdTiming {
  private DpSgdTiming() {}

  public static void main(String[] args) {
    int steps = args.length > 0 ? Integer.parseInt(args[0]) : 40;
    int batch = 256;
    Generator gen = new Generator(0);
    long[] t = new long[batch];
    for (int i = 0; i < batch; i++) {
      t[i] = i % 10;
    }
    try (Sequential model =
            new Sequential(
                new Linear(784, 256, gen),
                new ReLU(),
                new Linear(256, 128, gen),
                new ReLU(),
                new Linear(128, 10, gen));
        CrossEntropyLoss mean = new CrossEntropyLoss();
        CrossEntropyLoss perExample = new CrossEntropyLoss(Reduction.NONE);
        NDArray x = NDArray.randn(gen, DType.FLOAT32, batch, 784);
        NDArray y = NDArray.of(t, batch)) {
      model.flatParameters();
      DpSgd dp = new DpSgd(1.0, 1.1, batch);
      double[] plain = new double[steps];
      double[] priv = new double[steps];
      double[] clip = new double[steps];
      double[] noise = new double[steps];
      for (int round = 0; round < 2; round++) { // round 0 warms up
        for (int s = 0; s < steps; s++) {
          long t0 = System.nanoTime();
          model.zeroGrad();
          try (Tensor in = Tensor.of(x.share());
              Tensor out = model.forward(in);
              Tensor loss = mean.apply(out, y)) {
            loss.backward();
          }
          model.flatParameters().grads().copy().close();
          long t1 = System.nanoTime();
          try (NDArray g =
              dp.noisyGradient(model, x, y, perExample::apply, Generator.forTask(1, s, 0))) {
            g.numel();
          }
          long t2 = System.nanoTime();
          try (DpSgd.ClippedSum c = DpSgd.clippedSum(model, x, y, perExample::apply, 1.0)) {
            long t3 = System.nanoTime();
            dp.privatize(c.sum(), Generator.forTask(2, s, 0)).close();
            clip[s] = (t3 - t2) / 1e6;
            noise[s] = (System.nanoTime() - t3) / 1e6;
          }
          plain[s] = (t1 - t0) / 1e6;
          priv[s] = (t2 - t1) / 1e6;
        }
      }
      Arrays.sort(plain);
      Arrays.sort(priv);
      Arrays.sort(clip);
      Arrays.sort(noise);
      double p = plain[steps / 2];
      double d = priv[steps / 2];
      System.out.printf(
          Locale.ROOT,
          "MLP 784-256-128-10, batch %d, %d steps (median): non-private %.2f ms, DP-SGD (ghost"
              + " clipping + noise) %.2f ms, ratio %.2fx%n",
          batch,
          steps,
          p,
          d,
          d / p);
      System.out.printf(
          Locale.ROOT,
          "  of which: clipped sum (forward + 2 backward passes) %.2f ms, noise and scaling %.2f"
              + " ms%n",
          clip[steps / 2],
          noise[steps / 2]);
    }
  }
}
