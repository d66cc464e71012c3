package org.emberdl.nn;

import org.emberdl.autograd.GradCheck;
import org.emberdl.autograd.Tensor;
import org.emberdl.autograd.functions.MaskedSoftmaxFunction;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Finite-difference checks in float64 of the attention softmax, MultiheadAttention (inputs and
 * every parameter, with key padding and causal masks, the weights included in what is checked),
 * TransformerEncoderLayer (pre- and post-norm, relu and gelu) and TransformerEncoder.
 */
class AttentionGradCheckTest {
  private static final int N = 2;
  private static final int T = 4;
  private static final int E = 6;
  private static final int HEADS = 2;

  private static NDArray randn(long seed, int... shape) {
    return NDArray.randn(new Generator(seed), DType.FLOAT64, shape);
  }

  /** Sample 1 ignores its last two keys. */
  private static NDArray padding() {
    return NDArray.of(new boolean[] {false, false, false, false, false, false, true, true}, N, T);
  }

  @Test
  void maskedSoftmaxWithBiasAndForbiddenEntries() {
    try (MemoryScope scope = MemoryScope.open()) {
      // -inf forbids an entry, a finite value biases it; every row keeps an allowed entry
      NDArray mask =
          NDArray.of(
              new double[] {
                0, Double.NEGATIVE_INFINITY, 0.5, -1, 0, 0, Double.NEGATIVE_INFINITY, 2
              },
              2,
              4);
      GradCheck.defaults()
          .check(t -> MaskedSoftmaxFunction.apply(t[0], 0.7, mask), randn(1, 3, 2, 4));
      GradCheck.defaults().check(t -> MaskedSoftmaxFunction.apply(t[0], 1.0, null), randn(2, 5, 3));
    }
  }

  @ParameterizedTest(name = "batchFirst={0} masks={1}")
  @CsvSource({"true, false", "false, true", "true, true"})
  void selfAttentionInputAndParameters(boolean batchFirst, boolean masks) {
    try (MultiheadAttention mha =
            new MultiheadAttention(
                E, HEADS, 0.0, true, batchFirst, DType.FLOAT64, new Generator(3));
        MemoryScope scope = MemoryScope.open()) {
      NDArray pad = masks ? padding() : null;
      NDArray causal = masks ? AttentionMasks.causal(T, DType.FLOAT64) : null;
      Module wrapped = new Attending(mha, pad, causal);
      NDArray x = randn(4, batchFirst ? new int[] {N, T, E} : new int[] {T, N, E});
      NnTesting.checkInputGradient(wrapped, x);
      NnTesting.checkParameterGradients(wrapped, x);
    }
  }

  @Test
  void crossAttentionQueryKeyValueWithBoolMask() {
    try (MultiheadAttention mha =
            new MultiheadAttention(E, 3, 0.0, true, true, DType.FLOAT64, new Generator(5));
        MemoryScope scope = MemoryScope.open()) {
      NDArray pad = padding();
      // query 0 may not see key 1, query 2 not key 0 (every query keeps a key)
      boolean[] b = new boolean[3 * T];
      b[1] = true;
      b[2 * T] = true;
      NDArray attnMask = NDArray.of(b, 3, T);
      GradCheck.defaults()
          .check(
              t -> {
                AttentionOutput r = mha.attend(t[0], t[1], t[2], pad, attnMask, true, true);
                return Attending.both(r);
              },
              randn(6, N, 3, E),
              randn(7, N, T, E),
              randn(8, N, T, E));
    }
  }

  @ParameterizedTest(name = "normFirst={0} activation={1} batchFirst={2}")
  @CsvSource({"false, RELU, true", "true, GELU, false", "true, RELU, true", "false, GELU, false"})
  void encoderLayer(
      boolean normFirst, TransformerEncoderLayer.Activation activation, boolean batchFirst) {
    TransformerEncoderLayer.Config c =
        new TransformerEncoderLayer.Config(E, HEADS)
            .withDimFeedforward(5)
            .withDropout(0)
            .withActivation(activation)
            .withBatchFirst(batchFirst)
            .withNormFirst(normFirst)
            .withDtype(DType.FLOAT64);
    try (TransformerEncoderLayer layer = new TransformerEncoderLayer(c, new Generator(9));
        MemoryScope scope = MemoryScope.open()) {
      perturbNorms(layer);
      NDArray pad = padding();
      NDArray causal = AttentionMasks.causal(T, DType.FLOAT64);
      Module wrapped =
          new Module() {
            {
              registerModule("layer", layer);
            }

            @Override
            public Tensor forward(Tensor x) {
              return layer.forward(x, causal, pad);
            }
          };
      NDArray x = randn(10, batchFirst ? new int[] {N, T, E} : new int[] {T, N, E});
      NnTesting.checkInputGradient(wrapped, x);
      NnTesting.checkParameterGradients(wrapped, x);
    }
  }

  @Test
  void twoLayerEncoderWithFinalNorm() {
    TransformerEncoderLayer.Config c =
        new TransformerEncoderLayer.Config(E, HEADS)
            .withDimFeedforward(5)
            .withDropout(0)
            .withActivation(TransformerEncoderLayer.Activation.GELU)
            .withBatchFirst(true)
            .withNormFirst(true)
            .withDtype(DType.FLOAT64);
    Generator gen = new Generator(12);
    try (TransformerEncoder enc =
            new TransformerEncoder(
                new TransformerEncoderLayer(c, gen),
                2,
                new LayerNorm(new int[] {E}, 1e-5, true, true, DType.FLOAT64),
                gen);
        MemoryScope scope = MemoryScope.open()) {
      perturbNorms(enc);
      NDArray x = randn(13, N, T, E);
      NnTesting.checkInputGradient(enc, x);
      NnTesting.checkParameterGradients(enc, x);
    }
  }

  /** Moves every parameter off its init (zero biases, unit norm weights hide mistakes). */
  private static void perturbNorms(Module m) {
    Generator g = new Generator(77);
    for (Parameter p : m.parameters()) {
      try (NDArray d = NDArray.randn(g, DType.FLOAT64, p.shape())) {
        p.data().addInPlace(d, 0.2);
      }
    }
  }

  /** MultiheadAttention with fixed masks, its output and per-head weights as one vector. */
  private static final class Attending extends Module {
    private final MultiheadAttention mha;
    private final NDArray pad;
    private final NDArray mask;

    Attending(MultiheadAttention mha, NDArray pad, NDArray mask) {
      this.mha = registerModule("mha", mha);
      this.pad = pad;
      this.mask = mask;
    }

    @Override
    public Tensor forward(Tensor x) {
      return both(mha.attend(x, x, x, pad, mask, true, false));
    }

    static Tensor both(AttentionOutput r) {
      try (r;
          Tensor o = r.output().reshape(-1);
          Tensor w = r.weights().reshape(-1)) {
        return Tensor.cat(0, o, w);
      }
    }
  }
}
