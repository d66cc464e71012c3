package org.emberdl.federated.dp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.emberdl.autograd.Tensor;
import org.emberdl.nn.CrossEntropyLoss;
import org.emberdl.nn.Embedding;
import org.emberdl.nn.GRU;
import org.emberdl.nn.LSTM;
import org.emberdl.nn.LastStep;
import org.emberdl.nn.Linear;
import org.emberdl.nn.MeanPool;
import org.emberdl.nn.Module;
import org.emberdl.nn.Parameter;
import org.emberdl.nn.Reduction;
import org.emberdl.nn.Sequential;
import org.emberdl.nn.TransformerEncoderLayer;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;

/**
 * DP-SGD on the sequence layers (multi-head attention, the Transformer encoder layer, layer norm,
 * embeddings, LSTM, GRU). The fallback tests force the materialised path (one backward pass per
 * example; LSTM and GRU have no ghost-norm rule and always take it); the ghost tests check that the
 * attention models take the GHOST path with the same results. In float64 its sum and norms must
 * equal the per-example gradients computed here, one example at a time and clipped by hand, and,
 * with a clip norm no gradient reaches, the ordinary gradient of the summed losses of the whole
 * batch (one backward pass, no per-example code at all).
 */
class DpSgdSequenceModelsTest {
  private static final int B = 5;
  private static final int T = 4;
  private static final int CLASSES = 3;
  private static final int VOCAB = 11;

  /** Linear on (B, T, 4) -> post-norm Transformer encoder layer (2 heads) -> mean -> Linear. */
  private static Sequential transformer(boolean normFirst) {
    Generator gen = new Generator(31);
    TransformerEncoderLayer.Config config =
        new TransformerEncoderLayer.Config(8, 2)
            .withDimFeedforward(12)
            .withDropout(0)
            .withBatchFirst(true)
            .withNormFirst(normFirst)
            .withActivation(TransformerEncoderLayer.Activation.GELU)
            .withDtype(DType.FLOAT64);
    return new Sequential(
        new Linear(4, 8, true, DType.FLOAT64, gen),
        new TransformerEncoderLayer(config, gen),
        new MeanPool(),
        new Linear(8, CLASSES, true, DType.FLOAT64, gen));
  }

  /** Token ids (B, T) -> Embedding(11, 5, padding 0) -> LSTM or GRU (7) -> last step -> Linear. */
  private static Sequential recurrent(boolean lstm) {
    Generator gen = new Generator(41);
    Embedding embedding = new Embedding(VOCAB, 5, 0, DType.FLOAT64, gen);
    Module rnn =
        lstm
            ? LSTM.builder(5, 7).batchFirst(true).dtype(DType.FLOAT64).build(gen)
            : GRU.builder(5, 7).batchFirst(true).dtype(DType.FLOAT64).build(gen);
    return new Sequential(
        embedding, rnn, new LastStep(), new Linear(7, CLASSES, true, DType.FLOAT64, gen));
  }

  private static NDArray sequences() {
    try (NDArray r = NDArray.randn(new Generator(51), DType.FLOAT64, B, T, 4)) {
      double[] v = r.toDoubleArray();
      // very different scales per example, so some gradients are clipped and some are not
      for (int i = 0; i < B; i++) {
        double scale = Math.pow(3.0, i - 2);
        for (int j = 0; j < T * 4; j++) {
          v[i * T * 4 + j] *= scale;
        }
      }
      return NDArray.of(v, B, T, 4);
    }
  }

  private static NDArray tokens() {
    long[] ids = new long[B * T];
    for (int k = 0; k < ids.length; k++) {
      ids[k] = (k * 7 + 3) % VOCAB; // includes the padding id 0
    }
    return NDArray.of(ids, B, T);
  }

  private static NDArray classes() {
    long[] t = new long[B];
    for (int i = 0; i < B; i++) {
      t[i] = (i * 2 + 1) % CLASSES;
    }
    return NDArray.of(t, B);
  }

  /** The model's gradients, parameter by parameter, as one flat array. */
  private static double[] grads(Module model) {
    double[] flat = new double[(int) model.parameterCount()];
    int at = 0;
    for (Parameter p : model.parameters()) {
      int n = (int) p.data().numel();
      NDArray g = p.gradOrNull();
      if (g != null) {
        System.arraycopy(g.toDoubleArray(), 0, flat, at, n);
      }
      at += n;
    }
    return flat;
  }

  /** Backpropagates the summed losses of {@code x} alone and returns the gradients. */
  private static double[] gradientOf(Module model, NDArray x, NDArray y, CrossEntropyLoss ce) {
    model.zeroGrad();
    try (Tensor in = Tensor.of(x.copy());
        Tensor out = model.forward(in);
        Tensor losses = ce.apply(out, y);
        Tensor total = losses.sum()) {
      total.backward();
    }
    double[] g = grads(model);
    model.zeroGrad();
    return g;
  }

  private static double norm(double[] v) {
    double s = 0;
    for (double d : v) {
      s += d * d;
    }
    return Math.sqrt(s);
  }

  private static void assertClose(double[] expected, double[] actual, double tol, String what) {
    assertEquals(expected.length, actual.length, what);
    double scale = Math.max(1e-12, norm(expected));
    for (int j = 0; j < expected.length; j++) {
      assertEquals(expected[j], actual[j], tol * scale, what + ", element " + j);
    }
  }

  /**
   * Per-example gradients by one backward pass each, their norms, a clip norm between the smallest
   * and the largest (so some examples are clipped), and the sum of the clipped gradients.
   */
  private record HandClipped(double clip, double[] norms, double[] expected) {
    static HandClipped of(Module model, NDArray x, NDArray y, CrossEntropyLoss ce, String name) {
      double[][] g = new double[B][];
      double[] norms = new double[B];
      for (int i = 0; i < B; i++) {
        try (NDArray xi = x.narrow(0, i, 1);
            NDArray yi = y.narrow(0, i, 1)) {
          g[i] = gradientOf(model, xi, yi, ce);
        }
        norms[i] = norm(g[i]);
      }
      double[] sorted = norms.clone();
      java.util.Arrays.sort(sorted);
      double c = Math.sqrt(sorted[1] * sorted[B - 2]);
      assertTrue(
          sorted[0] < c && c < sorted[B - 1], name + ": norms " + java.util.Arrays.toString(norms));
      double[] expected = new double[g[0].length];
      for (int i = 0; i < B; i++) {
        double f = Math.min(1, c / (norms[i] + 1e-6));
        for (int j = 0; j < expected.length; j++) {
          expected[j] += f * g[i][j];
        }
      }
      return new HandClipped(c, norms, expected);
    }
  }

  private static void check(Module model, NDArray x, String name) {
    try (model;
        CrossEntropyLoss ce = new CrossEntropyLoss(Reduction.NONE);
        NDArray y = classes()) {
      model.train();
      HandClipped hand = HandClipped.of(model, x, y, ce, name);
      double c = hand.clip();
      double[] norms = hand.norms();
      double[] expected = hand.expected();
      try (DpSgd.ClippedSum s = DpSgd.clippedSum(model, x, y, ce::apply, c, false)) {
        assertEquals(DpSgd.Method.MATERIALIZED, s.method(), name);
        assertClose(norms, s.norms(), 1e-12, name + " norms");
        assertClose(expected, s.sum().toDoubleArray(), 1e-12, name + " clipped sum");
        assertClose(expected, grads(model), 1e-12, name + " model gradients after clippedSum");
      }
      // no clipping: the sum of per-example gradients is the whole batch's gradient
      double[] batch = gradientOf(model, x, y, ce);
      try (DpSgd.ClippedSum s = DpSgd.clippedSum(model, x, y, ce::apply, 1e9, false)) {
        assertClose(batch, s.sum().toDoubleArray(), 1e-12, name + " unclipped sum");
      }
    }
  }

  @Test
  void postNormTransformerFallbackEqualsPerExampleGradients() {
    try (NDArray x = sequences()) {
      check(transformer(false), x, "post-norm transformer");
    }
  }

  @Test
  void preNormTransformerFallbackEqualsPerExampleGradients() {
    try (NDArray x = sequences()) {
      check(transformer(true), x, "pre-norm transformer");
    }
  }

  @Test
  void embeddingLstmFallbackEqualsPerExampleGradients() {
    try (NDArray x = tokens()) {
      check(recurrent(true), x, "embedding + LSTM");
    }
  }

  @Test
  void embeddingGruFallbackEqualsPerExampleGradients() {
    try (NDArray x = tokens()) {
      check(recurrent(false), x, "embedding + GRU");
    }
  }

  /**
   * Linear on (B, T, in) -> tanh -> mean over T -> Linear: the sequence Linear has a ghost rule, so
   * the whole model takes the fast path; its norms and clipped sum must equal the fallback's.
   */
  private static void checkSequenceLinearGhost(int t, int in, int out, String expectedPlan) {
    Generator gen = new Generator(61);
    try (Sequential model =
            new Sequential(
                new Linear(in, out, true, DType.FLOAT64, gen),
                new org.emberdl.nn.Tanh(),
                new MeanPool(),
                new Linear(out, CLASSES, true, DType.FLOAT64, gen));
        CrossEntropyLoss ce = new CrossEntropyLoss(Reduction.NONE);
        NDArray r = NDArray.randn(new Generator(71), DType.FLOAT64, B, t, in);
        NDArray x = r.mul(1.5);
        NDArray y = classes()) {
      java.util.List<String> plan;
      try (org.emberdl.tensor.MemoryScope scope = org.emberdl.tensor.MemoryScope.open();
          org.emberdl.nn.PerExampleCapture capture = org.emberdl.nn.PerExampleCapture.open()) {
        Tensor o = model.forward(Tensor.of(x.share()));
        o.sum().backward();
        plan = capture.plan();
      }
      model.zeroGrad();
      assertTrue(plan.get(0).endsWith(expectedPlan), plan.toString());
      double[] fallbackNorms;
      double[] fallbackSum;
      try (DpSgd.ClippedSum m = DpSgd.clippedSum(model, x, y, ce::apply, 1e9, false)) {
        assertEquals(DpSgd.Method.MATERIALIZED, m.method());
        fallbackNorms = m.norms();
        fallbackSum = m.sum().toDoubleArray();
      }
      double[] sorted = fallbackNorms.clone();
      java.util.Arrays.sort(sorted);
      double c = Math.sqrt(sorted[1] * sorted[B - 2]);
      try (DpSgd.ClippedSum g = DpSgd.clippedSum(model, x, y, ce::apply, 1e9)) {
        assertEquals(DpSgd.Method.GHOST, g.method(), plan.toString());
        assertClose(fallbackNorms, g.norms(), 1e-12, "norms");
        assertClose(fallbackSum, g.sum().toDoubleArray(), 1e-12, "unclipped sum");
      }
      try (DpSgd.ClippedSum m = DpSgd.clippedSum(model, x, y, ce::apply, c, false);
          DpSgd.ClippedSum g = DpSgd.clippedSum(model, x, y, ce::apply, c)) {
        assertEquals(DpSgd.Method.GHOST, g.method());
        assertClose(m.sum().toDoubleArray(), g.sum().toDoubleArray(), 1e-12, "clipped sum");
      }
    }
  }

  @Test
  void linearOnSequencesTakesTheGhostPathByGramMatrices() {
    // T (in + out) = 2 * 16 < in * out = 64: the two (T, T) Gram matrices
    checkSequenceLinearGhost(2, 8, 8, ": ghost");
  }

  @Test
  void linearOnSequencesTakesTheGhostPathByPerExampleGradients() {
    // T (in + out) = 5 * 10 >= in * out = 24: the per-example weight gradients
    checkSequenceLinearGhost(5, 4, 6, ": per-example");
  }

  @Test
  void linearAndLayerNormOnSequencesTakeTheGhostPath() {
    // Linear (B, T, 4) -> LayerNorm(8) -> tanh -> mean over T -> LayerNorm(8) -> Linear: every
    // parameter has a rule (LayerNorm's per-example grads: sums over T of dy * xhat and of dy)
    Generator gen = new Generator(81);
    try (Sequential model =
            new Sequential(
                new Linear(4, 8, true, DType.FLOAT64, gen),
                new org.emberdl.nn.LayerNorm(new int[] {8}, 1e-5, true, true, DType.FLOAT64),
                new org.emberdl.nn.Tanh(),
                new MeanPool(),
                new org.emberdl.nn.LayerNorm(new int[] {8}, 1e-5, true, false, DType.FLOAT64),
                new Linear(8, CLASSES, true, DType.FLOAT64, gen));
        CrossEntropyLoss ce = new CrossEntropyLoss(Reduction.NONE);
        NDArray x = sequences();
        NDArray y = classes()) {
      // non-trivial affine parameters, so their gradients matter to the norms
      try (NDArray w = NDArray.randn(new Generator(3), DType.FLOAT64, 8);
          NDArray b = NDArray.randn(new Generator(4), DType.FLOAT64, 8)) {
        java.util.List<Parameter> ps = model.parameters();
        ps.get(2).data().copyFrom(w); // the first LayerNorm's weight
        ps.get(3).data().copyFrom(b); // and bias
      }
      double[][] g = new double[B][];
      double[] norms = new double[B];
      for (int i = 0; i < B; i++) {
        try (NDArray xi = x.narrow(0, i, 1);
            NDArray yi = y.narrow(0, i, 1)) {
          g[i] = gradientOf(model, xi, yi, ce);
        }
        norms[i] = norm(g[i]);
      }
      double[] sorted = norms.clone();
      java.util.Arrays.sort(sorted);
      double c = Math.sqrt(sorted[1] * sorted[B - 2]);
      double[] expected = new double[g[0].length];
      for (int i = 0; i < B; i++) {
        double f = Math.min(1, c / (norms[i] + 1e-6));
        for (int j = 0; j < expected.length; j++) {
          expected[j] += f * g[i][j];
        }
      }
      try (DpSgd.ClippedSum s = DpSgd.clippedSum(model, x, y, ce::apply, c)) {
        assertEquals(DpSgd.Method.GHOST, s.method());
        assertClose(norms, s.norms(), 1e-12, "norms");
        assertClose(expected, s.sum().toDoubleArray(), 1e-12, "clipped sum");
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Ghost clipping on attention models: MultiheadAttention self-attention (packed in_proj),
  // ClsToken, LearnedPositionalEmbedding and Embedding have norm rules, so these take the GHOST
  // path; norms and clipped sums must equal the per-example gradients clipped by hand and the
  // fallback's.

  /** Hand-clipped per-example gradients vs the ghost path and the fallback, in float64. */
  private static void checkGhost(Module model, NDArray x, String name) {
    try (model;
        CrossEntropyLoss ce = new CrossEntropyLoss(Reduction.NONE);
        NDArray y = classes()) {
      model.train();
      HandClipped hand = HandClipped.of(model, x, y, ce, name);
      double c = hand.clip();
      double[] norms = hand.norms();
      double[] expected = hand.expected();
      try (DpSgd.ClippedSum s = DpSgd.clippedSum(model, x, y, ce::apply, c)) {
        assertEquals(DpSgd.Method.GHOST, s.method(), name);
        assertClose(norms, s.norms(), 1e-12, name + " norms");
        assertClose(expected, s.sum().toDoubleArray(), 1e-12, name + " clipped sum");
        assertClose(expected, grads(model), 1e-12, name + " model gradients after clippedSum");
      }
      try (DpSgd.ClippedSum m = DpSgd.clippedSum(model, x, y, ce::apply, c, false)) {
        assertEquals(DpSgd.Method.MATERIALIZED, m.method(), name);
        assertClose(norms, m.norms(), 1e-12, name + " fallback norms");
        assertClose(expected, m.sum().toDoubleArray(), 1e-12, name + " fallback clipped sum");
      }
    }
  }

  private static TransformerEncoderLayer.Config encoderConfig(boolean normFirst, boolean gelu) {
    return new TransformerEncoderLayer.Config(8, 2)
        .withDimFeedforward(12)
        .withDropout(0)
        .withBatchFirst(true)
        .withNormFirst(normFirst)
        .withActivation(
            gelu
                ? TransformerEncoderLayer.Activation.GELU
                : TransformerEncoderLayer.Activation.RELU)
        .withDtype(DType.FLOAT64);
  }

  @Test
  void recurrentModelsStayOnTheFallback() {
    try (Sequential model = recurrent(true);
        CrossEntropyLoss ce = new CrossEntropyLoss(Reduction.NONE);
        NDArray x = tokens();
        NDArray y = classes();
        DpSgd.ClippedSum s = DpSgd.clippedSum(model, x, y, ce::apply, 1.0)) {
      assertEquals(DpSgd.Method.MATERIALIZED, s.method());
    }
  }

  @Test
  void postNormTransformerTakesTheGhostPath() {
    try (NDArray x = sequences()) {
      checkGhost(transformer(false), x, "post-norm transformer, ghost");
    }
  }

  @Test
  void preNormTransformerTakesTheGhostPath() {
    try (NDArray x = sequences()) {
      checkGhost(transformer(true), x, "pre-norm transformer, ghost");
    }
  }

  /**
   * The examples' patch transformer ("patches(7), linear(64), clsToken, posEmbedding(std=0.02),
   * transformer(64, 4, 128, layers=2, dropout=0, prenorm, gelu), clsPool, linear(10)"), smaller:
   * 8x8 images in 4x4 patches, width 8, 2 heads, feed-forward 12, 2 layers, float64.
   */
  @Test
  void patchTransformerTakesTheGhostPath() {
    Generator gen = new Generator(91);
    org.emberdl.nn.TransformerEncoder encoder =
        new org.emberdl.nn.TransformerEncoder(
            new TransformerEncoderLayer(encoderConfig(true, true), gen), 2, null, gen);
    org.emberdl.nn.ClsToken cls = new org.emberdl.nn.ClsToken(8, DType.FLOAT64);
    Sequential model =
        new Sequential(
            new org.emberdl.nn.Patchify(4),
            new Linear(16, 8, true, DType.FLOAT64, gen),
            cls,
            new org.emberdl.nn.LearnedPositionalEmbedding(5, 8, 0.5, DType.FLOAT64, gen),
            encoder,
            new org.emberdl.nn.ClsPool(),
            new Linear(8, CLASSES, true, DType.FLOAT64, gen));
    // a non-zero class token, so that its gradient depends on it as in training
    try (NDArray t = NDArray.randn(new Generator(5), DType.FLOAT64, 1, 1, 8)) {
      cls.token().data().copyFrom(t);
    }
    try (NDArray r = NDArray.randn(new Generator(93), DType.FLOAT64, B, 1, 8, 8);
        NDArray x = scaledPerExample(r)) {
      checkGhost(model, x, "patch transformer");
    }
  }

  /** Each example scaled by 3^(i - 2), so some are clipped and some are not. */
  private static NDArray scaledPerExample(NDArray r) {
    double[] v = r.toDoubleArray();
    int per = v.length / B;
    for (int i = 0; i < B; i++) {
      for (int j = 0; j < per; j++) {
        v[i * per + j] *= Math.pow(3.0, i - 2);
      }
    }
    return NDArray.of(v, r.shape());
  }

  /**
   * Token ids (B, 6), right-padded with the padding id 0, with ids repeated within an example (the
   * scatter-add's cross terms), one example all padding.
   */
  private static NDArray paddedTokens() {
    long[] ids = {
      3, 5, 3, 7, 0, 0, //
      1, 1, 1, 2, 9, 0, //
      4, 10, 4, 10, 4, 10, //
      0, 0, 0, 0, 0, 0, //
      6, 8, 2, 6, 0, 0
    };
    return NDArray.of(ids, B, 6);
  }

  @Test
  void embeddingTransformerWithPaddingTakesTheGhostPath() {
    Generator gen = new Generator(101);
    Sequential model =
        new Sequential(
            new Embedding(VOCAB, 8, 0, DType.FLOAT64, gen),
            new org.emberdl.nn.TransformerEncoder(
                new TransformerEncoderLayer(encoderConfig(false, false), gen), 1, null, gen),
            new MeanPool(),
            new Linear(8, CLASSES, true, DType.FLOAT64, gen));
    // larger embeddings for the later examples, so that some are clipped and some are not
    double[] w = model.parameters().get(0).data().toDoubleArray();
    for (int k = 0; k < w.length; k++) {
      w[k] *= 1 + (k / 8) * 0.5;
    }
    try (NDArray nw = NDArray.of(w, VOCAB, 8)) {
      model.parameters().get(0).data().copyFrom(nw);
    }
    try (NDArray x = paddedTokens()) {
      checkGhost(model, x, "embedding(pad=0) + transformer");
    }
  }

  @Test
  void embeddingAttentionTakesTheGhostPath() {
    Generator gen = new Generator(111);
    Sequential model =
        new Sequential(
            new Embedding(VOCAB, 8, DType.FLOAT64, gen),
            new org.emberdl.nn.MultiheadAttention(8, 2, 0, true, true, DType.FLOAT64, gen),
            new MeanPool(),
            new Linear(8, CLASSES, true, DType.FLOAT64, gen));
    try (NDArray x = paddedTokens()) {
      checkGhost(model, x, "embedding + attention");
    }
  }

  @Test
  void crossAttentionMarksTheCaptureUnsupported() {
    Generator gen = new Generator(121);
    try (org.emberdl.nn.MultiheadAttention mha =
            new org.emberdl.nn.MultiheadAttention(8, 2, 0, true, true, DType.FLOAT64, gen);
        NDArray q = NDArray.randn(gen, DType.FLOAT64, B, 3, 8);
        NDArray kv = NDArray.randn(gen, DType.FLOAT64, B, 4, 8);
        // the graph is never backpropagated: the scope frees what it holds
        org.emberdl.tensor.MemoryScope scope = org.emberdl.tensor.MemoryScope.open();
        org.emberdl.nn.PerExampleCapture capture = org.emberdl.nn.PerExampleCapture.open();
        Tensor qt = Tensor.of(q.share());
        Tensor kt = Tensor.of(kv.share());
        org.emberdl.nn.AttentionOutput out = mha.attend(qt, kt, kt, null, null, false, false)) {
      String reason = capture.coversAllParameters(mha);
      assertTrue(reason != null && reason.contains("cross-attention"), String.valueOf(reason));
      assertTrue(reason.contains("MultiheadAttention"), reason);
    }
  }

  @Test
  void attentionCalledTwiceIsReported() {
    Generator gen = new Generator(131);
    try (org.emberdl.nn.MultiheadAttention mha =
            new org.emberdl.nn.MultiheadAttention(8, 2, 0, true, true, DType.FLOAT64, gen);
        NDArray x = NDArray.randn(gen, DType.FLOAT64, B, 3, 8);
        // the graph is never backpropagated: the scope frees what it holds
        org.emberdl.tensor.MemoryScope scope = org.emberdl.tensor.MemoryScope.open();
        org.emberdl.nn.PerExampleCapture capture = org.emberdl.nn.PerExampleCapture.open();
        Tensor in = Tensor.of(x.share());
        Tensor once = mha.forward(in);
        Tensor twice = mha.forward(once)) {
      assertEquals(
          "a MultiheadAttention layer was called 2 times, not once",
          capture.coversAllParameters(mha));
    }
  }

  /**
   * Self-attention with the weights wanted runs unfused (in_proj as one GEMM, split into heads):
   * its recorded norms, like the fused op's, equal the norms of each example's gradient of the
   * attention's parameters computed alone.
   */
  @Test
  void selfAttentionNormsEqualPerExampleGradientNormsFusedAndUnfused() {
    Generator gen = new Generator(141);
    try (org.emberdl.nn.MultiheadAttention mha =
            new org.emberdl.nn.MultiheadAttention(8, 2, 0, true, true, DType.FLOAT64, gen);
        NDArray r = NDArray.randn(gen, DType.FLOAT64, B, 3, 8);
        NDArray x = scaledPerExample(r)) {
      double[] expected = new double[B];
      for (int i = 0; i < B; i++) {
        mha.zeroGrad();
        try (NDArray xi = x.narrow(0, i, 1);
            Tensor in = Tensor.of(xi.copy());
            org.emberdl.nn.AttentionOutput out = mha.attend(in, in, in, null, null, false, false);
            Tensor sq = out.output().square();
            Tensor loss = sq.sum()) {
          loss.backward();
        }
        double[] g = grads(mha);
        expected[i] = norm(g) * norm(g);
      }
      mha.zeroGrad();
      assertClose(expected, attentionNorms(mha, x, false), 1e-12, "fused self-attention norms");
      assertClose(expected, attentionNorms(mha, x, true), 1e-12, "unfused self-attention norms");
    }
  }

  /** The capture's per-example squared norms of sum(attention(x)^2), per example. */
  private static double[] attentionNorms(
      org.emberdl.nn.MultiheadAttention mha, NDArray x, boolean needWeights) {
    try (org.emberdl.tensor.MemoryScope scope = org.emberdl.tensor.MemoryScope.open();
        org.emberdl.nn.PerExampleCapture capture = org.emberdl.nn.PerExampleCapture.open();
        Tensor in = Tensor.of(x.share());
        org.emberdl.nn.AttentionOutput out =
            mha.attend(in, in, in, null, null, needWeights, false);
        Tensor sq = out.output().square();
        Tensor loss = sq.sum()) {
      assertEquals(null, capture.coversAllParameters(mha));
      capture.setRecording(true);
      loss.backward();
      return capture.perExampleSquaredNorms();
    }
  }

  @Test
  void unbatchedAttentionMarksTheCaptureUnsupported() {
    Generator gen = new Generator(151);
    try (org.emberdl.nn.MultiheadAttention mha =
            new org.emberdl.nn.MultiheadAttention(8, 2, 0, true, true, DType.FLOAT64, gen);
        NDArray x = NDArray.randn(gen, DType.FLOAT64, 3, 8);
        // the graph is never backpropagated: the scope frees what it holds
        org.emberdl.tensor.MemoryScope scope = org.emberdl.tensor.MemoryScope.open();
        org.emberdl.nn.PerExampleCapture capture = org.emberdl.nn.PerExampleCapture.open();
        Tensor in = Tensor.of(x.share());
        Tensor out = mha.forward(in)) {
      assertEquals(
          mha + " was called on an unbatched (T, d) input: no per-example gradients of a batch",
          capture.coversAllParameters(mha));
    }
  }

  /**
   * The network specs of the issue, small, in float32 as NetworkSpec builds them (so to float32
   * precision): the ghost path's norms and clipped sum equal the fallback's. The padded-embedding
   * spec builds a PaddedSequenceNetwork (key padding masks from the pad id) on float ids.
   */
  @Test
  void networkSpecAttentionModelsTakeTheGhostPath() {
    checkSpecGhost(
        "patches(4), linear(8), clsToken, posEmbedding(std=0.02), transformer(8, 2, 12, layers=2,"
            + " dropout=0, prenorm, gelu), clsPool, linear(3)",
        new int[] {1, 8, 8},
        false);
    checkSpecGhost(
        "embedding(11, 8, pad=0), transformer(8, 2, 12, dropout=0), meanPool, linear(3)",
        new int[] {6},
        true);
    checkSpecGhost("embedding(11, 8), attention(2), meanPool, linear(3)", new int[] {6}, true);
  }

  private static void checkSpecGhost(String spec, int[] inputShape, boolean tokens) {
    try (Sequential model = org.emberdl.nn.NetworkSpec.build(spec, inputShape, new Generator(161));
        CrossEntropyLoss ce = new CrossEntropyLoss(Reduction.NONE);
        NDArray x =
            tokens ? floatIds() : NDArray.randn(new Generator(163), DType.FLOAT32, B, 1, 8, 8);
        NDArray y = classes()) {
      model.train();
      double[] norms;
      double[] sum;
      try (DpSgd.ClippedSum m = DpSgd.clippedSum(model, x, y, ce::apply, 1e9, false)) {
        norms = m.norms();
        sum = m.sum().toDoubleArray();
      }
      double[] sorted = norms.clone();
      java.util.Arrays.sort(sorted);
      double c = Math.sqrt(sorted[1] * sorted[B - 2]);
      try (DpSgd.ClippedSum g = DpSgd.clippedSum(model, x, y, ce::apply, 1e9)) {
        assertEquals(DpSgd.Method.GHOST, g.method(), spec);
        assertClose(norms, g.norms(), 1e-4, spec + " norms");
        assertClose(sum, g.sum().toDoubleArray(), 1e-4, spec + " unclipped sum");
      }
      try (DpSgd.ClippedSum m = DpSgd.clippedSum(model, x, y, ce::apply, c, false);
          DpSgd.ClippedSum g = DpSgd.clippedSum(model, x, y, ce::apply, c)) {
        assertEquals(DpSgd.Method.GHOST, g.method(), spec);
        assertClose(m.sum().toDoubleArray(), g.sum().toDoubleArray(), 1e-4, spec + " clipped");
      }
    }
  }

  /**
   * Right-padded float32 ids (TokenEmbedding's float input), repeats within examples; no sequence
   * empty (the padded network refuses those).
   */
  private static NDArray floatIds() {
    float[] ids = {
      3, 5, 3, 7, 0, 0, //
      1, 1, 1, 2, 9, 0, //
      4, 10, 4, 10, 4, 10, //
      5, 0, 0, 0, 0, 0, //
      6, 8, 2, 6, 0, 0
    };
    return NDArray.of(ids, B, 6);
  }
}
