package org.emberdl.nn;

import java.util.Arrays;
import org.emberdl.autograd.Tensor;
import org.emberdl.autograd.functions.MaskedSoftmaxFunction;
import org.emberdl.autograd.functions.SelfAttentionFunction;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.NDArray;

/**
 * Multi-head scaled dot-product attention, as {@code torch.nn.MultiheadAttention} (PyTorch 1.13):
 * {@code softmax(Q K^T / sqrt(d) + mask) V} per head, with {@code d = E / num_heads}, between an
 * input projection and an output projection.
 *
 * <p>State dict (PyTorch's keys and order): {@code in_proj_weight} {@code (3E, E)} (the query, key
 * and value projections stacked), {@code in_proj_bias} {@code (3E)}, {@code out_proj.weight} {@code
 * (E, E)}, {@code out_proj.bias} {@code (E)}. Initialization as PyTorch's: {@code in_proj_weight}
 * xavier-uniform, {@code in_proj_bias} and {@code out_proj.bias} zeros, {@code out_proj.weight} as
 * a {@link Linear} (kaiming-uniform with {@code a = sqrt(5)}). Keys and values of another size than
 * E ({@code kdim}/{@code vdim}) and {@code add_bias_kv}/{@code add_zero_attn} are not supported.
 *
 * <p>Shapes: query (L, N, E), key and value (S, N, E); with batch_first (N, L, E) and (N, S, E);
 * unbatched (L, E) and (S, E). Masks follow {@link AttentionMasks}: {@code key_padding_mask} (N, S)
 * and {@code attn_mask} (L, S) or (N * num_heads, L, S), bool ({@code true} = not allowed) or
 * floating (added to the scores). A query row whose keys are all masked gives NaN, as in PyTorch.
 *
 * <p>Computation: one GEMM for the three projections in self-attention (query, key and value the
 * same tensor), the scores and the weighted values as batched GEMMs over {@code (N, heads)} that
 * read each head's rows in place (strided views of the projections, no copies), and the scale, mask
 * and softmax as one recorded op ({@link MaskedSoftmaxFunction}). Self-attention without returned
 * weights and without active attention dropout (a Transformer encoder layer's case) records the
 * whole of it, from the packed projection to the merged heads, as one op ({@link
 * SelfAttentionFunction}), whose backward writes the three projections' gradients into one array.
 * Dropout (in training mode) applies to the attention weights, from a {@link Dropout} submodule (no
 * state) whose generator a Spark task re-seeds like any other dropout.
 */
public class MultiheadAttention extends Module implements VariableLength {
  private final int embedDim;
  private final int numHeads;
  private final int headDim;
  private final boolean batchFirst;
  private final Parameter inProjWeight;
  private final Parameter inProjBias;
  private final Linear outProj;
  private final Dropout dropout;

  /** float32, no dropout, with biases, sequence-first (PyTorch's defaults). */
  public MultiheadAttention(int embedDim, int numHeads, Generator gen) {
    this(embedDim, numHeads, 0.0, true, false, DType.FLOAT32, gen);
  }

  /**
   * @param embedDim E, the model dimension (query, key and value features)
   * @param numHeads heads; must divide E
   * @param dropout probability of dropping an attention weight in training mode
   * @param bias whether the projections have biases
   * @param batchFirst whether inputs and outputs are (N, L, E) instead of (L, N, E)
   * @param dtype the parameters' floating dtype
   * @param gen draws the initial weights and the dropout masks
   */
  public MultiheadAttention(
      int embedDim,
      int numHeads,
      double dropout,
      boolean bias,
      boolean batchFirst,
      DType dtype,
      Generator gen) {
    if (embedDim <= 0 || numHeads <= 0 || embedDim % numHeads != 0) {
      throw new IllegalArgumentException(
          "MultiheadAttention needs embed_dim divisible by num_heads (both positive), got embed_dim="
              + embedDim
              + ", num_heads="
              + numHeads);
    }
    this.embedDim = embedDim;
    this.numHeads = numHeads;
    this.headDim = embedDim / numHeads;
    this.batchFirst = batchFirst;
    this.inProjWeight =
        registerParameter(
            "in_proj_weight",
            Init.xavierUniform(gen, dtype, new int[] {3 * embedDim, embedDim}, 1));
    this.inProjBias =
        bias ? registerParameter("in_proj_bias", Init.zeros(dtype, 3 * embedDim)) : null;
    // PyTorch's NonDynamicallyQuantizableLinear: a Linear's init, then the bias zeroed
    this.outProj = registerModule("out_proj", new Linear(embedDim, embedDim, bias, dtype, gen));
    if (bias) {
      outProj.bias().data().fill(0);
    }
    this.dropout = registerModule("dropout", new Dropout(dropout, gen));
  }

  /** Self-attention without masks: {@code attend(x, x, x, ...)}'s output. */
  @Override
  public Tensor forward(Tensor x) {
    try (AttentionOutput r = attend(x, x, x, null, null, false, true)) {
      return Identity.of(r.output());
    }
  }

  /**
   * Self-attention over right-padded sequences: sequence {@code i}'s keys past {@code lengths[i]}
   * are masked out, as a {@code key_padding_mask}. Outputs at padded positions are computed but
   * attend only to real ones.
   */
  @Override
  public Tensor forward(Tensor x, int[] lengths) {
    if (lengths == null) {
      return forward(x);
    }
    try (NDArray pad = AttentionMasks.keyPadding("MultiheadAttention", batchFirst, x, lengths);
        AttentionOutput r = attend(x, x, x, pad, null, false, true)) {
      return Identity.of(r.output());
    }
  }

  /**
   * Attention of {@code query} over {@code key}/{@code value}, as {@code forward(query, key, value,
   * key_padding_mask, need_weights, attn_mask, average_attn_weights)} in PyTorch.
   *
   * @param keyPaddingMask (N, S) (or (S) unbatched), or null
   * @param attnMask (L, S) or (N * num_heads, L, S), or null
   * @param needWeights whether to return the attention weights (after dropout, as PyTorch 1.13)
   * @param averageAttnWeights average the weights over heads ((N, L, S)) or keep them ((N, heads,
   *     L, S))
   */
  public AttentionOutput attend(
      Tensor query,
      Tensor key,
      Tensor value,
      NDArray keyPaddingMask,
      NDArray attnMask,
      boolean needWeights,
      boolean averageAttnWeights) {
    if (query.ndim() == 2) {
      return unbatched(
          query, key, value, keyPaddingMask, attnMask, needWeights, averageAttnWeights);
    }
    checkInputs(query, key, value, 3);
    // work batch-first; a sequence-first input is read through a transposed view
    try (Tensor q = batchFirst ? Identity.of(query) : query.transpose(0, 1);
        Tensor k = key == query ? null : batchFirst ? Identity.of(key) : key.transpose(0, 1);
        Tensor v = value == key ? null : batchFirst ? Identity.of(value) : value.transpose(0, 1)) {
      int n = q.shape(0);
      if ((k != null && k.shape(0) != n) || (v != null && v.shape(0) != n)) {
        throw new IllegalArgumentException(
            "MultiheadAttention: query, key and value must have the same batch size, got "
                + Arrays.toString(query.shape())
                + ", "
                + Arrays.toString(key.shape())
                + ", "
                + Arrays.toString(value.shape()));
      }
      Tensor kk = k == null ? q : k;
      Tensor vv = v == null ? kk : v;
      int tq = q.shape(1);
      int tk = kk.shape(1);
      try (NDArray mask =
          AttentionMasks.additive(
              attnMask, keyPaddingMask, n, numHeads, tq, tk, query.dtype(), query.device())) {
        return attendBatchFirst(q, kk, vv, mask, needWeights, averageAttnWeights);
      }
    }
  }

  private AttentionOutput attendBatchFirst(
      Tensor q, Tensor k, Tensor v, NDArray mask, boolean needWeights, boolean average) {
    int n = q.shape(0);
    int tq = q.shape(1);
    int tk = k.shape(1);
    Tensor qh = null;
    Tensor kh = null;
    Tensor vh = null;
    try {
      if (q == k && k == v && !needWeights && (dropout.p() == 0 || !dropout.isTraining())) {
        // self-attention, no weights wanted, no attention dropout: the fused op (its backward
        // writes the three projections' gradients into one array, see SelfAttentionFunction)
        Tensor context;
        try (Tensor qkv = inProject(q)) {
          context = SelfAttentionFunction.apply(qkv, numHeads, 1.0 / Math.sqrt(headDim), mask);
        }
        Tensor out;
        try (context) {
          out = outProj.forward(context);
        }
        if (!batchFirst) {
          try (Tensor bf = out) {
            out = bf.transpose(0, 1);
          }
        }
        return new AttentionOutput(out, null);
      }
      if (q == k && k == v) {
        // self-attention: the three projections as one GEMM, split afterwards
        try (Tensor qkv = inProject(q)) {
          qh = headsOf(qkv, 0, n, tq);
          kh = headsOf(qkv, 1, n, tq);
          vh = headsOf(qkv, 2, n, tq);
        }
      } else {
        PerExampleCapture capture = PerExampleCapture.current();
        if (capture != null) {
          capture.crossAttention(this);
        }
        qh = project(q, 0, n, tq);
        kh = project(k, 1, n, tk);
        vh = project(v, 2, n, tk);
      }
      Tensor weights;
      Tensor context;
      // (N, H, Tq, d) @ (N, H, d, Tk): the GEMM reads the strided head views as they are
      try (Tensor kt = kh.transpose(2, 3);
          Tensor scores = qh.matmul(kt);
          Tensor probs = MaskedSoftmaxFunction.apply(scores, 1.0 / Math.sqrt(headDim), mask)) {
        weights = dropout.forward(probs);
        try (Tensor ctx = weights.matmul(vh);
            Tensor perm = ctx.permute(0, 2, 1, 3)) {
          context = perm.reshape(n, tq, embedDim);
        } catch (RuntimeException e) {
          weights.close();
          throw e;
        }
      }
      Tensor out;
      try (context) {
        out = outProj.forward(context);
      } catch (RuntimeException e) {
        weights.close();
        throw e;
      }
      if (!batchFirst) {
        try (Tensor bf = out) {
          out = bf.transpose(0, 1);
        }
      }
      Tensor returned = null;
      try (weights) {
        if (needWeights) {
          returned = average ? weights.mean(new int[] {1}, false) : Identity.of(weights);
        }
      }
      return new AttentionOutput(out, returned);
    } finally {
      for (Tensor t : new Tensor[] {qh, kh, vh}) {
        if (t != null) {
          t.close();
        }
      }
    }
  }

  /**
   * Self-attention's packed projection {@code x in_proj_weight^T + in_proj_bias}, {@code (N, T, 3
   * E)}; under an open {@link PerExampleCapture} a captured linear recorded for this module.
   */
  private Tensor inProject(Tensor x) {
    PerExampleCapture capture = PerExampleCapture.current();
    if (capture != null) {
      return capture.selfAttentionProjection(this, x, inProjWeight, inProjBias);
    }
    return Linear.linear(x, inProjWeight, inProjBias);
  }

  /** Input {@code (N, T, E)} projected by block {@code which} (0 q, 1 k, 2 v) of in_proj. */
  private Tensor project(Tensor x, int which, int n, int t) {
    try (Tensor w = inProjWeight.narrow(0, which * embedDim, embedDim);
        Tensor b = inProjBias == null ? null : inProjBias.narrow(0, which * embedDim, embedDim);
        Tensor y = Linear.linear(x, w, b)) {
      return headsOf(y, 0, n, t);
    }
  }

  /**
   * Block {@code which} of the last dim of {@code y} ({@code (N, T, k * E)}) as {@code (N, heads,
   * T, d)}: a strided view, no copy (each head's (T, d) rows are BLAS-compatible as they lie).
   */
  private Tensor headsOf(Tensor y, int which, int n, int t) {
    try (Tensor block = y.narrow(2, which * embedDim, embedDim);
        Tensor split = block.reshape(n, t, numHeads, headDim)) {
      return split.permute(0, 2, 1, 3);
    }
  }

  private AttentionOutput unbatched(
      Tensor query,
      Tensor key,
      Tensor value,
      NDArray keyPaddingMask,
      NDArray attnMask,
      boolean needWeights,
      boolean average) {
    checkInputs(query, key, value, 2);
    PerExampleCapture capture = PerExampleCapture.current();
    if (capture != null) {
      capture.unbatched(this);
    }
    int dim = batchFirst ? 0 : 1;
    try (Tensor q = query.unsqueeze(dim);
        Tensor k = key == query ? null : key.unsqueeze(dim);
        Tensor v = value == key ? null : value.unsqueeze(dim);
        NDArray pad = keyPaddingMask == null ? null : keyPaddingMask.unsqueeze(0)) {
      Tensor kk = k == null ? q : k;
      Tensor vv = v == null ? kk : v;
      try (AttentionOutput r = attend(q, kk, vv, pad, attnMask, needWeights, average)) {
        return new AttentionOutput(
            r.output().squeeze(dim), r.weights() == null ? null : r.weights().squeeze(0));
      }
    }
  }

  private void checkInputs(Tensor query, Tensor key, Tensor value, int rank) {
    String layout =
        rank == 2 ? "(L, E) unbatched" : batchFirst ? "(N, L, E) (batch_first)" : "(L, N, E)";
    for (Tensor t : new Tensor[] {query, key, value}) {
      if (t.ndim() != rank || t.shape(-1) != embedDim) {
        throw new IllegalArgumentException(
            "MultiheadAttention with embed_dim="
                + embedDim
                + " expects query, key and value shaped "
                + layout.replace("E", String.valueOf(embedDim))
                + ", got query "
                + Arrays.toString(query.shape())
                + ", key "
                + Arrays.toString(key.shape())
                + ", value "
                + Arrays.toString(value.shape()));
      }
    }
    int keyLen = key.shape(rank == 2 ? 0 : batchFirst ? 1 : 0);
    if (keyLen != value.shape(rank == 2 ? 0 : batchFirst ? 1 : 0)) {
      throw new IllegalArgumentException(
          "MultiheadAttention: key and value must have the same length, got key "
              + Arrays.toString(key.shape())
              + " and value "
              + Arrays.toString(value.shape()));
    }
  }

  /** Sets the generator of the attention dropout masks. */
  public void setGenerator(Generator gen) {
    dropout.setGenerator(gen);
  }

  public int embedDim() {
    return embedDim;
  }

  public int numHeads() {
    return numHeads;
  }

  public boolean batchFirst() {
    return batchFirst;
  }

  public Parameter inProjWeight() {
    return inProjWeight;
  }

  /** The input projections' bias, or null without biases. */
  public Parameter inProjBias() {
    return inProjBias;
  }

  public Linear outProj() {
    return outProj;
  }

  @Override
  public String toString() {
    return "MultiheadAttention(embed_dim="
        + embedDim
        + ", num_heads="
        + numHeads
        + ", dropout="
        + Repr.num(dropout.p())
        + ", batch_first="
        + Repr.bool(batchFirst)
        + ")";
  }
}
