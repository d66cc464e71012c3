package org.emberdl.nn;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.emberdl.autograd.Tensor;
import org.emberdl.autograd.functions.RecurrentFunction;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.Recurrent;
import org.emberdl.tensor.Recurrent.Cell;

/**
 * The shared machinery of {@link LSTM} and {@link GRU}, as PyTorch's {@code RNNBase}: stacked
 * layers, optionally bidirectional, with PyTorch's parameter names ({@code weight_ih_l0}, {@code
 * weight_hh_l0}, {@code bias_ih_l0}, {@code bias_hh_l0}, then {@code ..._reverse} for the reverse
 * direction, layer by layer), shapes and initialisation (every parameter from {@code U(-1/sqrt(H),
 * 1/sqrt(H))}, drawn in that order), so state dicts interchange with PyTorch.
 *
 * <p>Each layer and direction is one recorded op over the whole sequence ({@link
 * RecurrentFunction}), whose work is a GEMM for the input projection of all steps, one GEMM and one
 * fused gate pass per step, and GEMMs over all steps for the weight gradients.
 *
 * <p>Variable lengths: {@link #run(Tensor, int[], Tensor, Tensor)} takes each sequence's length,
 * the masked equivalent of {@code pack_padded_sequence(..., enforce_sorted=False)} followed by
 * {@code pad_packed_sequence}: outputs past a sequence's end are 0, h_n/c_n are the states at its
 * own last step, and the reverse direction starts there.
 */
public abstract class RecurrentLayer extends Module implements VariableLength {
  private final Cell cell;
  private final int inputSize;
  private final int hiddenSize;
  private final int numLayers;
  private final boolean bias;
  private final boolean batchFirst;
  private final double dropout;
  private final boolean bidirectional;
  private final Dropout dropoutModule;
  // per layer * direction: weight_ih, weight_hh, bias_ih, bias_hh (biases null without bias)
  private final Parameter[][] weights;

  RecurrentLayer(Cell cell, Builder<?> b) {
    this.cell = cell;
    String name = cell.name();
    if (b.inputSize < 1 || b.hiddenSize < 1) {
      throw new IllegalArgumentException(
          name
              + " needs input_size >= 1 and hidden_size >= 1, got input_size="
              + b.inputSize
              + ", hidden_size="
              + b.hiddenSize);
    }
    if (b.numLayers < 1) {
      throw new IllegalArgumentException(name + " needs num_layers >= 1, got " + b.numLayers);
    }
    if (!(b.dropout >= 0 && b.dropout <= 1)) {
      throw new IllegalArgumentException(
          name + " dropout must be a number in [0, 1] (a probability), got " + b.dropout);
    }
    if (!b.dtype.isFloatingPoint()) {
      throw new IllegalArgumentException(name + " parameters must be floating, got " + b.dtype);
    }
    this.inputSize = b.inputSize;
    this.hiddenSize = b.hiddenSize;
    this.numLayers = b.numLayers;
    this.bias = b.bias;
    this.batchFirst = b.batchFirst;
    this.dropout = b.dropout;
    this.bidirectional = b.bidirectional;
    Generator gen = Objects.requireNonNull(b.generator, "generator");
    int dirs = directions();
    int g = cell.gates() * hiddenSize;
    double bound = 1.0 / Math.sqrt(hiddenSize);
    this.weights = new Parameter[numLayers * dirs][];
    for (int layer = 0; layer < numLayers; layer++) {
      int in = layer == 0 ? inputSize : hiddenSize * dirs;
      for (int d = 0; d < dirs; d++) {
        String suffix = "_l" + layer + (d == 1 ? "_reverse" : "");
        Parameter[] p = new Parameter[4];
        p[0] = uniform("weight_ih" + suffix, gen, b.dtype, bound, g, in);
        p[1] = uniform("weight_hh" + suffix, gen, b.dtype, bound, g, hiddenSize);
        if (bias) {
          p[2] = uniform("bias_ih" + suffix, gen, b.dtype, bound, g);
          p[3] = uniform("bias_hh" + suffix, gen, b.dtype, bound, g);
        }
        weights[layer * dirs + d] = p;
      }
    }
    // Registered as a child (no state) so that train()/eval() and a Spark task's generator reach
    // it like any Dropout; only layers with dropout have it.
    this.dropoutModule =
        dropout > 0 && numLayers > 1 ? registerModule("dropout", new Dropout(dropout, gen)) : null;
  }

  private Parameter uniform(String name, Generator gen, DType dtype, double bound, int... shape) {
    return registerParameter(name, Init.uniform(gen, dtype, -bound, bound, shape));
  }

  /** The options of a recurrent layer, with PyTorch's defaults. */
  public static final class Builder<L extends RecurrentLayer> {
    private final java.util.function.Function<Builder<L>, L> factory;
    private final int inputSize;
    private final int hiddenSize;
    private int numLayers = 1;
    private boolean bias = true;
    private boolean batchFirst;
    private double dropout;
    private boolean bidirectional;
    private DType dtype = DType.FLOAT32;
    private Generator generator;

    Builder(java.util.function.Function<Builder<L>, L> factory, int inputSize, int hiddenSize) {
      this.factory = factory;
      this.inputSize = inputSize;
      this.hiddenSize = hiddenSize;
    }

    /** Stacked layers (default 1). */
    public Builder<L> numLayers(int n) {
      this.numLayers = n;
      return this;
    }

    /** Whether the layers have {@code bias_ih}/{@code bias_hh} (default true). */
    public Builder<L> bias(boolean b) {
      this.bias = b;
      return this;
    }

    /** Input and output as (B, T, features) instead of (T, B, features) (default false). */
    public Builder<L> batchFirst(boolean b) {
      this.batchFirst = b;
      return this;
    }

    /** Dropout on the outputs of every layer but the last, in training mode (default 0). */
    public Builder<L> dropout(double p) {
      this.dropout = p;
      return this;
    }

    /** A reverse direction per layer, its output concatenated after the forward one. */
    public Builder<L> bidirectional(boolean b) {
      this.bidirectional = b;
      return this;
    }

    /** The parameters' dtype (default float32). */
    public Builder<L> dtype(DType d) {
      this.dtype = Objects.requireNonNull(d, "dtype");
      return this;
    }

    /** Builds the layer, drawing its initial parameters (and dropout masks) from {@code gen}. */
    public L build(Generator gen) {
      return factory.apply(generatorFor(gen));
    }

    Builder<L> generatorFor(Generator gen) {
      this.generator = gen;
      return this;
    }
  }

  /** The output sequence only; see {@link #run(Tensor, int[], Tensor, Tensor)}. */
  @Override
  public Tensor forward(Tensor input) {
    return forward(input, null);
  }

  /** The output sequence only, of sequences with the given lengths (null: all full length). */
  @Override
  public Tensor forward(Tensor input, int[] lengths) {
    RecurrentOutput r = run(input, lengths, null, null);
    r.hN().close();
    if (r.cN() != null) {
      r.cN().close();
    }
    return r.output();
  }

  /** All sequences of full length, zero initial states. */
  public RecurrentOutput run(Tensor input) {
    return run(input, null, null, null);
  }

  /** Sequences of the given lengths, zero initial states. */
  public RecurrentOutput run(Tensor input, int[] lengths) {
    return run(input, lengths, null, null);
  }

  /**
   * Runs the layers, as PyTorch's {@code forward(input, h_0)} / {@code forward(input, (h_0, c_0))}.
   *
   * @param input (T, B, input_size), or (B, T, input_size) with batch_first, or unbatched (T,
   *     input_size)
   * @param lengths each sequence's length in [1, T], or null when all have T steps
   * @param h0 (num_layers * D, B, H) ((num_layers * D, H) unbatched), or null for zeros
   * @param c0 as h0 for an LSTM (null for zeros); must be null for a GRU
   * @throws IllegalArgumentException naming the argument when a shape, dtype or length is wrong
   */
  public RecurrentOutput run(Tensor input, int[] lengths, Tensor h0, Tensor c0) {
    if (c0 != null && cell != Cell.LSTM) {
      throw new IllegalArgumentException("a GRU has no cell state; pass c0 = null");
    }
    boolean unbatched = input.ndim() == 2;
    if (input.ndim() != 2 && input.ndim() != 3 || input.shape(-1) != inputSize) {
      throw new IllegalArgumentException(
          cell
              + " expects input "
              + (batchFirst ? "(batch, time, " : "(time, batch, ")
              + inputSize
              + ") or unbatched (time, "
              + inputSize
              + "), got "
              + Arrays.toString(input.shape()));
    }
    if (input.dtype() != dtype()) {
      throw new IllegalArgumentException(
          cell + " has " + dtype() + " parameters but the input is " + input.dtype());
    }
    List<Tensor> temps = new ArrayList<>();
    try {
      Tensor x = timeMajor(input, unbatched, temps);
      int steps = x.shape(0);
      int batch = x.shape(1);
      if (lengths != null && lengths.length != batch) {
        throw new IllegalArgumentException(
            cell + " got " + lengths.length + " lengths for a batch of " + batch + " sequences");
      }
      Tensor h = initialState("h0", h0, unbatched, batch, temps);
      Tensor c = initialState("c0", c0, unbatched, batch, temps);
      try (NDArray valid = lengths == null ? null : Recurrent.validMask(lengths, steps)) {
        return layers(x, h, c, valid, unbatched, temps);
      }
    } finally {
      for (Tensor t : temps) {
        t.close();
      }
    }
  }

  private RecurrentOutput layers(
      Tensor x, Tensor h0, Tensor c0, NDArray valid, boolean unbatched, List<Tensor> temps) {
    int dirs = directions();
    int steps = x.shape(0);
    Tensor[] hN = new Tensor[numLayers * dirs];
    Tensor[] cN = cell == Cell.LSTM ? new Tensor[numLayers * dirs] : null;
    Tensor layerInput = x;
    for (int layer = 0; layer < numLayers; layer++) {
      Tensor[] outs = new Tensor[dirs];
      for (int d = 0; d < dirs; d++) {
        int k = layer * dirs + d;
        Parameter[] p = weights[k];
        Tensor hk = h0 == null ? null : keep(temps, h0.select(0, k));
        Tensor ck = c0 == null ? null : keep(temps, c0.select(0, k));
        Tensor packed =
            keep(
                temps,
                RecurrentFunction.apply(
                    cell, layerInput, hk, ck, p[0], p[1], p[2], p[3], valid, d == 1));
        outs[d] = keep(temps, packed.narrow(0, 0, steps));
        // every intermediate view is kept (and closed): a view holds the packed result's storage
        hN[k] = keep(temps, keep(temps, packed.select(0, steps)).unsqueeze(0));
        if (cN != null) {
          cN[k] = keep(temps, keep(temps, packed.select(0, steps + 1)).unsqueeze(0));
        }
      }
      Tensor out = dirs == 1 ? outs[0] : keep(temps, Tensor.cat(2, outs));
      if (dropoutModule != null && layer < numLayers - 1) {
        out = keep(temps, dropoutModule.forward(out));
      }
      layerInput = out;
    }
    Tensor output = unbatched ? keep(temps, layerInput.squeeze(1)) : layerInput;
    output = batchFirst && !unbatched ? output.transpose(0, 1) : output.expand(output.shape());
    Tensor h = stateOut(hN, unbatched);
    Tensor c = cN == null ? null : stateOut(cN, unbatched);
    return new RecurrentOutput(output, h, c);
  }

  private static Tensor stateOut(Tensor[] parts, boolean unbatched) {
    try (Tensor all = Tensor.cat(0, parts)) {
      return unbatched ? all.squeeze(1) : all.expand(all.shape());
    }
  }

  private static Tensor keep(List<Tensor> temps, Tensor t) {
    temps.add(t);
    return t;
  }

  /** The input as a contiguous (T, B, I) tensor. */
  private Tensor timeMajor(Tensor input, boolean unbatched, List<Tensor> temps) {
    if (unbatched) {
      return keep(temps, keep(temps, input.unsqueeze(1)).contiguous());
    }
    if (batchFirst) {
      return keep(temps, keep(temps, input.transpose(0, 1)).contiguous());
    }
    return input;
  }

  private Tensor initialState(
      String name, Tensor s, boolean unbatched, int batch, List<Tensor> temps) {
    if (s == null) {
      return null;
    }
    int layers = numLayers * directions();
    int[] expected =
        unbatched ? new int[] {layers, hiddenSize} : new int[] {layers, batch, hiddenSize};
    if (!Arrays.equals(s.shape(), expected) || s.dtype() != dtype()) {
      throw new IllegalArgumentException(
          cell
              + " expects "
              + name
              + " "
              + dtype()
              + Arrays.toString(expected)
              + " (num_layers * num_directions, "
              + (unbatched ? "" : "batch, ")
              + "hidden_size), got "
              + s.dtype()
              + Arrays.toString(s.shape()));
    }
    return unbatched ? keep(temps, s.unsqueeze(1)) : s;
  }

  /** 2 for a bidirectional layer, else 1. */
  public int directions() {
    return bidirectional ? 2 : 1;
  }

  public DType dtype() {
    return weights[0][0].dtype();
  }

  public int inputSize() {
    return inputSize;
  }

  public int hiddenSize() {
    return hiddenSize;
  }

  public int numLayers() {
    return numLayers;
  }

  public boolean bidirectional() {
    return bidirectional;
  }

  public boolean batchFirst() {
    return batchFirst;
  }

  public boolean hasBias() {
    return bias;
  }

  public double dropout() {
    return dropout;
  }

  /** Draws the following dropout masks from {@code gen} (e.g. a Spark task's stream). */
  public void setGenerator(Generator gen) {
    if (dropoutModule != null) {
      dropoutModule.setGenerator(gen);
    }
  }

  @Override
  public String toString() {
    StringBuilder s =
        new StringBuilder(cell.name())
            .append('(')
            .append(inputSize)
            .append(", ")
            .append(hiddenSize);
    if (numLayers != 1) {
      s.append(", num_layers=").append(numLayers);
    }
    if (!bias) {
      s.append(", bias=False");
    }
    if (batchFirst) {
      s.append(", batch_first=True");
    }
    if (dropout != 0) {
      s.append(", dropout=").append(Repr.num(dropout));
    }
    if (bidirectional) {
      s.append(", bidirectional=True");
    }
    return s.append(')').toString();
  }
}
