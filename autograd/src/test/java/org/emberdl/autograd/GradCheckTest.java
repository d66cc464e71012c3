package org.emberdl.autograd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Device;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Finite-difference gradient checks of every differentiable op of {@link Tensor}. The table must
 * name every public Tensor method that returns a Tensor: a new op without a case fails {@link
 * #everyOpHasACase}.
 */
class GradCheckTest {
  /** Inputs of one case: shapes and value ranges, built inside the test's scope. */
  record Case(GradCheck.Fn fn, Input... inputs) {}

  record Input(int[] shape, double low, double high) {}

  static Input in(double low, double high, int... shape) {
    return new Input(shape, low, high);
  }

  static Input any(int... shape) {
    return new Input(shape, -2, 2);
  }

  /** Away from 0 (|x| in [0.2, 2]): for abs, relu and other kinks. */
  static Input nonZero(int... shape) {
    return new Input(shape, Double.NaN, 0);
  }

  /**
   * The device the cases' constant arrays (indices, masks) live on: the CPU here, {@code cuda:0} in
   * {@link DeviceGradCheckTest}'s device runs.
   */
  static final ThreadLocal<Device> DEVICE = ThreadLocal.withInitial(() -> Device.CPU);

  /** {@code a} on the current {@link #DEVICE}. */
  static NDArray on(NDArray a) {
    return a.to(DEVICE.get());
  }

  static NDArray idx(long... v) {
    return on(NDArray.of(v));
  }

  static final Map<String, Case> CASES = new LinkedHashMap<>();

  static void add(String name, GradCheck.Fn fn, Input... inputs) {
    CASES.put(name, new Case(fn, inputs));
  }

  static {
    add("neg", t -> t[0].neg(), any(3, 4));
    add("abs", t -> t[0].abs(), nonZero(3, 4));
    add("sign", t -> t[0].sign(), nonZero(5));
    add("exp", t -> t[0].exp(), any(3, 4));
    add("log", t -> t[0].log(), in(0.2, 3, 3, 4));
    add("log1p", t -> t[0].log1p(), in(-0.5, 3, 3, 4));
    add("sqrt", t -> t[0].sqrt(), in(0.2, 3, 3, 4));
    add("rsqrt", t -> t[0].rsqrt(), in(0.2, 3, 3, 4));
    add("tanh", t -> t[0].tanh(), any(3, 4));
    add("sigmoid", t -> t[0].sigmoid(), any(3, 4));
    add("relu", t -> t[0].relu(), nonZero(3, 4));
    add("gelu", t -> t[0].gelu(), any(3, 4));
    add("erf", t -> t[0].erf(), any(3, 4));
    add("leakyRelu", t -> t[0].leakyRelu(0.1), nonZero(3, 4));
    add("square", t -> t[0].square(), any(3, 4));
    // broadcasting in both directions: (3, 1) op (4)
    add("add", t -> t[0].add(t[1]).add(1.5), any(3, 1), any(4));
    add("sub", t -> t[0].sub(t[1]).sub(0.5).rsub(2), any(3, 1), any(4));
    add("rsub", t -> t[0].rsub(3), any(2, 3));
    add("mul", t -> t[0].mul(t[1]).mul(-1.5), any(3, 1), any(4));
    add("div", t -> t[0].div(t[1]).div(2), any(2, 3), in(0.5, 2, 3));
    add("rdiv", t -> t[0].rdiv(2), in(0.5, 2, 2, 3));
    add("pow", t -> t[0].pow(t[1]).add(t[0].pow(2.5)), in(0.5, 2, 2, 3), any(3));
    add("maximum", t -> t[0].maximum(t[1]), any(3, 4), any(4));
    add("minimum", t -> t[0].minimum(t[1]), any(3, 4), any(3, 1));
    add("clamp", t -> t[0].clamp(-0.95, 1.05), any(3, 4));
    add(
        "where",
        t -> Tensor.where(on(NDArray.of(new boolean[] {true, false, true, true})), t[0], t[1]),
        any(3, 4),
        any(1));
    add(
        "maskedFill",
        t -> t[0].maskedFill(on(NDArray.of(new boolean[] {false, true, false}, 3, 1)), 7),
        any(3, 2));
    add("cast", t -> t[0].cast(DType.FLOAT64).mul(3), any(2, 2));
    add("reshape", t -> t[0].reshape(4, -1), any(2, 3, 2));
    add("view", t -> t[0].view(6, 2), any(2, 3, 2));
    add("transpose", t -> t[0].transpose(0, 2).exp(), any(2, 3, 2));
    add("t", t -> t[0].t().matmul(t[1]), any(3, 2), any(3, 4));
    add("permute", t -> t[0].permute(2, 0, 1).tanh(), any(2, 3, 4));
    add("expand", t -> t[0].expand(3, 4, 2).mul(t[1]), any(4, 1), any(3, 4, 2));
    add("narrow", t -> t[0].narrow(1, 1, 2), any(3, 4));
    add("slice", t -> t[0].slice(1, 0, 4, 2), any(3, 4));
    add("select", t -> t[0].select(0, -1), any(3, 4));
    add("squeeze", t -> t[0].squeeze().add(t[0].squeeze(1).mul(2)), any(3, 1, 2));
    add("unsqueeze", t -> t[0].unsqueeze(1).mul(t[1]), any(3), any(3, 3));
    add("flatten", t -> t[0].flatten().add(t[0].flatten(1, 2).flatten()), any(2, 2, 3));
    add("contiguous", t -> t[0].t().contiguous().exp(), any(3, 4));
    add("cat", t -> Tensor.cat(1, t[0], t[1]).exp(), any(2, 3), any(2, 2));
    add("stack", t -> Tensor.stack(0, t[0], t[1]).exp(), any(2, 3), any(2, 3));
    add("split", t -> t[0].split(2, 1).get(1).exp(), any(2, 5));
    add("chunk", t -> t[0].chunk(2, 0).get(0).exp(), any(3, 2));
    add("sum", t -> t[0].sum(new int[] {0, 2}, false).exp().add(t[0].sum()), any(2, 3, 2));
    add("mean", t -> t[0].mean(new int[] {1}, true).exp().add(t[0].mean()), any(2, 3));
    add("var", t -> t[0].var(new int[] {1}, 1, false), any(3, 4));
    add("std", t -> t[0].std(new int[] {0}, 0, true), any(3, 4));
    add("amax", t -> t[0].amax(new int[] {1}, false), any(3, 4));
    add("amin", t -> t[0].amin(new int[] {0, 1}, true), any(3, 4));
    add("max", t -> t[0].max(1, false), any(3, 4));
    add("min", t -> t[0].min(0, true), any(3, 4));
    add("logsumexp", t -> t[0].logsumexp(new int[] {1}, false), any(3, 4));
    add("softmax", t -> t[0].softmax(1), any(3, 4));
    add("logSoftmax", t -> t[0].logSoftmax(0), any(3, 4));
    add("norm", t -> t[0].norm().add(t[0].norm(1, new int[] {1}, false).sum()), nonZero(3, 4));
    add("indexSelect", t -> t[0].indexSelect(0, idx(2, 0, 2)), any(3, 4));
    add(
        "gather",
        t -> t[0].gather(1, on(NDArray.of(new long[] {0, 3, 1, 1, 2, 2}, 3, 2))),
        any(3, 4));
    add(
        "scatterAdd",
        t -> t[0].scatterAdd(1, on(NDArray.of(new long[] {0, 0, 3, 1}, 2, 2)), t[1]),
        any(2, 4),
        any(2, 3));
    add(
        "matmul",
        t -> t[0].matmul(t[1]).add(t[2].matmul(t[3])),
        any(2, 3, 4),
        any(4, 5),
        any(4),
        any(4));
    // a Linear's weight.t() shared by a 4-d batch, a transposed (seq-first) input, and attention's
    // strided per-head views: dB is one folded GEMM, dA comes back in each input's own layout
    add("matmul shared transposed B", t -> t[0].matmul(t[1].t()), any(2, 2, 3, 4), any(5, 4));
    add("matmul strided A", t -> t[0].transpose(0, 1).matmul(t[1]), any(3, 2, 4), any(4, 5));
    add(
        "matmul head views",
        t -> t[0].permute(0, 2, 1, 3).matmul(t[1].permute(0, 2, 3, 1)),
        any(2, 3, 2, 4),
        any(2, 5, 2, 4));
    add(
        "conv2d",
        t -> Tensor.conv2d(t[0], t[1], t[2], new int[] {2, 1}, new int[] {1}, new int[] {1}, 2),
        any(2, 4, 5, 5),
        any(6, 2, 3, 3),
        any(6));
    // ungrouped: the forward keeps the batch's columns, the backward takes the input gradient in
    // runs of samples (Backend.conv2dInputGradBatch) and the weight gradient from the columns
    add(
        "conv2d ungrouped, kept columns",
        t -> Tensor.conv2d(t[0], t[1], t[2], new int[] {1, 2}, new int[] {1}, new int[] {1}, 1),
        any(3, 2, 5, 6),
        any(4, 2, 3, 2),
        any(4));
    add(
        "maxPool2d",
        t -> t[0].maxPool2d(new int[] {2}, new int[] {2}, new int[] {0}),
        any(1, 2, 4, 4));
    add(
        "reluMaxPool2d", // |x| >= 0.2: away from ReLU's kink; windows with only negatives included
        t -> t[0].reluMaxPool2d(new int[] {2}, new int[] {2}, new int[] {0}),
        nonZero(1, 2, 4, 4));
    add(
        "avgPool2d",
        t -> t[0].avgPool2d(new int[] {3}, new int[] {2}, new int[] {1}),
        any(1, 2, 5, 5));
  }

  static Stream<Arguments> cases() {
    return CASES.entrySet().stream().map(e -> Arguments.of(e.getKey(), e.getValue()));
  }

  static NDArray values(Generator g, Input in) {
    if (Double.isNaN(in.low)) {
      // |x| in [0.2, 2] with random sign: away from kinks at 0
      try (NDArray mag = NDArray.uniform(g, DType.FLOAT64, 0.2, 2, in.shape);
          NDArray coin = NDArray.bernoulli(g, 0.5, DType.FLOAT64, in.shape);
          NDArray sign = coin.mul(2).sub(1)) {
        return mag.mul(sign);
      }
    }
    return NDArray.uniform(g, DType.FLOAT64, in.low, in.high, in.shape);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void gradientsMatchFiniteDifferences(String name, Case c) {
    try (MemoryScope scope = MemoryScope.open()) {
      Generator g = new Generator(name.hashCode());
      NDArray[] inputs = new NDArray[c.inputs().length];
      for (int i = 0; i < inputs.length; i++) {
        inputs[i] = values(g, c.inputs()[i]);
      }
      GradCheck.defaults().check(c.fn(), inputs);
    }
  }

  @Test
  void everyOpHasACase() {
    Set<String> exempt = Set.of("of", "detach", "requiresGrad");
    Set<String> missing = new TreeSet<>();
    for (Method m : Tensor.class.getDeclaredMethods()) {
      boolean returnsTensor = m.getReturnType() == Tensor.class || m.getReturnType() == List.class;
      if (Modifier.isPublic(m.getModifiers()) && returnsTensor && !exempt.contains(m.getName())) {
        if (!CASES.containsKey(m.getName())) {
          missing.add(m.getName());
        }
      }
    }
    assertEquals(Set.of(), missing, "ops without a gradcheck case");
  }

  @Test
  void aWrongGradientIsCaught() {
    // a deliberately wrong rule: claims d(x^2)/dx = x
    GradCheck.Fn wrong =
        t ->
            new Function("wrongSquare", t[0]) {
              private final NDArray x = save(t[0].data());

              @Override
              protected NDArray[] backward(NDArray grad) {
                return new NDArray[] {grad.mul(x)};
              }
            }.output(t[0].data().square());
    try (MemoryScope scope = MemoryScope.open()) {
      NDArray x = NDArray.of(new double[] {1, 2, 3});
      AssertionError e =
          assertThrows(AssertionError.class, () -> GradCheck.defaults().check(wrong, x));
      if (!e.getMessage().contains("mismatch")) {
        fail(e.getMessage());
      }
    }
  }
}
