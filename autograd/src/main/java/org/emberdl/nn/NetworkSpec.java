package org.emberdl.nn;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.StringJoiner;
import java.util.regex.Pattern;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.io.Safetensors;

/**
 * A compact, single-string description of a feed-forward network, built into a {@link Sequential}
 * of Ember layers; the form a Spark ML string param ({@code network}, with an int-array {@code
 * inputShape}) can carry.
 *
 * <pre>{@code
 * Sequential cnn = NetworkSpec.build(
 *     "conv(32,k=3,p=1), relu, maxpool(2), conv(64,k=3,p=1), relu, maxpool(2),"
 *         + " flatten, linear(128), relu, dropout(0.25), linear(10)",
 *     new int[] {1, 28, 28}, gen);                            // (N, 1, 28, 28) -> (N, 10)
 * String mlp = NetworkSpec.mlp(new int[] {784, 256, 10});     // "linear(256), relu, linear(10)"
 * Sequential net = NetworkSpec.build(mlp, new int[] {784}, gen); // (N, 784) -> (N, 10)
 * }</pre>
 *
 * <p>The grammar:
 *
 * <pre>
 * spec  := layer ( ',' layer )*
 * layer := NAME [ '(' [ arg ( ',' arg )* ] ')' ]
 * arg   := NUMBER | KEY '=' NUMBER
 * </pre>
 *
 * <p>Whitespace between tokens is ignored; layer names and keys are case-insensitive; a layer
 * without arguments may be written with or without {@code ()}. Shapes exclude the batch dim: the
 * input shape is {@code (C, H, W)} for images, {@code (T, F)} for sequences (T time steps of F
 * features) or {@code (F)} for features, and each layer's input sizes are inferred from the shape
 * so far. The layers:
 *
 * <ul>
 *   <li>{@code conv(OUT, k=K[, s=S][, p=P])}: {@link Conv2d} from the current {@code C} channels to
 *       {@code OUT}, square kernel {@code K}, stride {@code S} (default 1), zero padding {@code P}
 *       (default 0); {@code (C, H, W) -> (OUT, (H + 2P - K) / S + 1, ...)}.
 *   <li>{@code maxpool(K[, s=S])}, {@code avgpool(K[, s=S])}: {@link MaxPool2d}, {@link AvgPool2d}
 *       with a square window {@code K} and stride {@code S} (default {@code K}); {@code (C, H, W)
 *       -> (C, (H - K) / S + 1, ...)}.
 *   <li>{@code flatten}: {@link Flatten}, all dims into one ({@code (C, H, W) -> (C * H * W)}).
 *   <li>{@code linear(OUT)}: {@link Linear} from the current {@code (F)} to {@code (OUT)}, or on
 *       each step of a sequence, {@code (T, F) -> (T, OUT)}; an image shape needs a {@code flatten}
 *       (or {@code patches(P)}) first.
 *   <li>{@code relu}, {@code tanh}, {@code sigmoid}, {@code gelu} (exact), {@code
 *       leakyrelu[(SLOPE)]} (default slope 0.01): the activations, shape unchanged.
 *   <li>{@code dropout(P)}: {@link Dropout} with probability {@code P} in {@code [0, 1)}.
 *   <li>{@code batchnorm}: {@link BatchNorm2d} over {@code C} for {@code (C, H, W)}, {@link
 *       BatchNorm1d} over {@code F} for {@code (F)} (and over {@code C} for {@code (C, L)}).
 *   <li>{@code layernorm}: {@link LayerNorm} over the last dim.
 *   <li>{@code lstm(H[, layers=L][, bidirectional])}, {@code gru(...)}: a batch-first {@link LSTM}
 *       / {@link GRU} with hidden size {@code H}, {@code L} stacked layers (default 1), and a
 *       reverse direction with the bare word {@code bidirectional}; {@code (T, F) -> (T, D * H)}
 *       with {@code D = 2} when bidirectional. State-dict keys are PyTorch's under the layer's
 *       number ({@code 0.weight_ih_l0}, ...).
 *   <li>{@code lastStep}, {@code meanPool}: {@link LastStep} (the output at the last time step) and
 *       {@link MeanPool} (the mean over time); {@code (T, F) -> (F)}.
 *   <li>{@code attention(HEADS)}: batch-first self-attention ({@link MultiheadAttention}, no
 *       dropout, no residual around it) over the {@code F} features of {@code (T, F)}; shape
 *       unchanged. Keys {@code N.in_proj_weight}, {@code N.in_proj_bias}, {@code
 *       N.out_proj.weight}, {@code N.out_proj.bias}.
 *   <li>{@code transformer(D, HEADS, FF[, layers=L][, dropout=P][, prenorm][, gelu])}: a
 *       batch-first {@link TransformerEncoder} of {@code L} (default 1) {@link
 *       TransformerEncoderLayer}s of model size {@code D} (the input must be {@code (T, D)}),
 *       {@code HEADS} heads, feed-forward size {@code FF}, dropout {@code P} (default 0.1, as
 *       PyTorch), post-norm and ReLU unless {@code prenorm} / {@code gelu}; a pre-norm stack ends
 *       with a final {@link LayerNorm} ({@code N.norm.*}). Keys {@code
 *       N.layers.0.self_attn.in_proj_weight}, ... as PyTorch's; shape unchanged.
 *   <li>{@code posEmbedding[(learned[, std=S]|sinusoidal)]}: adds a position embedding for the
 *       {@code T} steps of {@code (T, F)}: {@link LearnedPositionalEmbedding} (the default; key
 *       {@code N.weight} {@code (T, F)}, initialized from {@code N(0, S^2)}, S = 1 by default as
 *       {@code nn.Embedding}, ViT uses 0.02) or the fixed {@link SinusoidalPositionalEncoding} (no
 *       state).
 *   <li>{@code clsToken}: {@link ClsToken} prepends a learned token, {@code (T, F) -> (T + 1, F)}
 *       (key {@code N.cls_token} {@code (1, 1, F)}); {@code clsPool}: {@link ClsPool} takes step 0,
 *       {@code (T, F) -> (F)}. Put {@code posEmbedding} after {@code clsToken} so the token gets a
 *       position too.
 *   <li>{@code patches(P)}: {@link Patchify}, ViT's patches: {@code (C, H, W) -> ((H / P) * (W /
 *       P), C * P * P)} (H and W multiples of P); a {@code linear(D)} after it projects each patch.
 *   <li>{@code embedding(V, D[, pad=P])}: a {@link TokenEmbedding} of {@code V} rows of size {@code
 *       D}, the first layer, on an input shape {@code (T)} of T token ids in {@code [0, V)} (ints,
 *       or floats holding whole numbers; V at most 2^24); {@code (T) -> (T, D)}. With {@code pad=P}
 *       (negative counts from the end), row P is zero and gets no gradient, and sequences are
 *       right-padded with P: the network is a {@link PaddedSequenceNetwork}, which gives each
 *       sequence's length (the steps before its first P) to the recurrent layers, {@code meanPool}
 *       and {@code lastStep}.
 * </ul>
 *
 * <p>Sizes ({@code OUT}, {@code K}, {@code S}) are positive integers, {@code P} a non-negative one.
 * Layers are registered in order under {@code "0"}, {@code "1"}, ..., so state-dict keys are {@code
 * 0.weight}, {@code 0.bias}, ... as in PyTorch. Every error is an {@link IllegalArgumentException}
 * that names the offending layer (its number, its text and its 1-based column in the spec) and what
 * was expected.
 */
public final class NetworkSpec {
  private NetworkSpec() {}

  private static final Pattern INT = Pattern.compile("[+-]?\\d+");
  private static final Pattern DECIMAL =
      Pattern.compile("[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?");

  /** The layer kinds, with what each accepts. */
  private enum Kind {
    CONV("conv(OUT, k=K[, s=S][, p=P])", 1, "k", "s", "p"),
    MAXPOOL("maxpool(K[, s=S])", 1, "s"),
    AVGPOOL("avgpool(K[, s=S])", 1, "s"),
    FLATTEN("flatten", 0),
    LINEAR("linear(OUT)", 1),
    RELU("relu", 0),
    TANH("tanh", 0),
    SIGMOID("sigmoid", 0),
    GELU("gelu", 0),
    LEAKYRELU("leakyrelu[(SLOPE)]", 0, 1),
    DROPOUT("dropout(P)", 1),
    BATCHNORM("batchnorm", 0),
    LAYERNORM("layernorm", 0),
    LSTM("lstm(H[, layers=L][, bidirectional])", 1, "layers", "bidirectional"),
    GRU("gru(H[, layers=L][, bidirectional])", 1, "layers", "bidirectional"),
    LASTSTEP("lastStep", 0),
    MEANPOOL("meanPool", 0),
    ATTENTION("attention(HEADS)", 1),
    TRANSFORMER(
        "transformer(D, HEADS, FF[, layers=L][, dropout=P][, prenorm][, gelu])",
        3,
        "layers",
        "dropout",
        "prenorm",
        "gelu"),
    POSEMBEDDING("posEmbedding[(learned[, std=S]|sinusoidal)]", 0, "learned", "sinusoidal", "std"),
    CLSTOKEN("clsToken", 0),
    CLSPOOL("clsPool", 0),
    PATCHES("patches(P)", 1),
    EMBEDDING("embedding(V, D[, pad=P])", 2, "pad");

    final String usage;
    final int minPositional;
    final int maxPositional;
    final Set<String> keys;

    Kind(String usage, int positional, String... keys) {
      this(usage, positional, positional, keys);
    }

    Kind(String usage, int minPositional, int maxPositional, String... keys) {
      this.usage = usage;
      this.minPositional = minPositional;
      this.maxPositional = maxPositional;
      this.keys = Set.of(keys);
    }

    String spelling() {
      return name().toLowerCase(Locale.ROOT);
    }

    static Kind of(String name) {
      for (Kind k : values()) {
        if (k.spelling().equals(name)) {
          return k;
        }
      }
      return null;
    }

    static String all() {
      StringJoiner j = new StringJoiner(", ");
      for (Kind k : values()) {
        j.add(k.usage);
      }
      return j.toString();
    }
  }

  /**
   * One parsed layer: where it is (1-based number and column, original text) and its arguments
   * ({@code size}: conv/linear OUT; {@code kernel}, {@code stride}, {@code padding}: conv and
   * pooling; {@code value}: dropout P or leaky slope). Unused fields are 0.
   */
  private record Layer(
      Kind kind,
      int number,
      int column,
      String text,
      int size,
      int kernel,
      int stride,
      int padding,
      double value,
      int layers,
      boolean bidirectional,
      Attention attention) {
    Layer(
        Kind kind,
        int number,
        int column,
        String text,
        int size,
        int kernel,
        int stride,
        int padding,
        double value,
        int layers,
        boolean bidirectional) {
      this(
          kind,
          number,
          column,
          text,
          size,
          kernel,
          stride,
          padding,
          value,
          layers,
          bidirectional,
          null);
    }

    Layer(
        Kind kind,
        int number,
        int column,
        String text,
        int size,
        int kernel,
        int stride,
        int padding,
        double value) {
      this(kind, number, column, text, size, kernel, stride, padding, value, 0, false, null);
    }
  }

  /**
   * The arguments of the attention layers: {@code attention}/{@code transformer} heads, the
   * transformer's feed-forward size and switches, and {@code posEmbedding}'s kind.
   */
  private record Attention(int heads, int ff, boolean prenorm, boolean gelu, boolean sinusoidal) {}

  /** Bare words a layer takes as on/off switches (written without {@code =VALUE}). */
  private static final Set<String> FLAGS =
      Set.of("bidirectional", "prenorm", "gelu", "learned", "sinusoidal");

  /** An argument as written: {@code key} null for a positional one. */
  private record Arg(String key, String value, int column) {}

  // ---------------------------------------------------------------------------------------------
  // API

  /**
   * Builds the network {@code spec} describes for inputs shaped {@code inputShape} (without the
   * batch dim), initializing weights from {@code gen} layer by layer. The whole spec is checked
   * before any weight is allocated.
   *
   * @throws IllegalArgumentException for a malformed spec (unknown layer, bad, missing or
   *     non-positive argument, dropout outside [0, 1)), or one that does not fit the shape (a
   *     window larger than the input, {@code linear} or {@code conv} on the wrong rank), or an
   *     invalid {@code inputShape}
   */
  public static Sequential build(String spec, int[] inputShape, Generator gen) {
    Objects.requireNonNull(gen, "gen");
    List<Layer> layers = parse(spec);
    int[] in = checkInputShape(inputShape);
    walk(layers, in, null, null, null); // every shape check passes before a weight is allocated
    Sequential model = newModel(layers);
    try {
      walk(layers, in, gen, model, null);
    } catch (RuntimeException | Error e) {
      model.close();
      throw e;
    }
    return model;
  }

  /**
   * The output shape (without the batch dim) of the network {@code spec} describes, for inputs
   * shaped {@code inputShape}, without allocating anything.
   *
   * @throws IllegalArgumentException exactly when {@link #build} would
   */
  public static int[] outputShape(String spec, int[] inputShape) {
    List<Layer> layers = parse(spec);
    return walk(layers, checkInputShape(inputShape), null, null, null);
  }

  /**
   * The state dict that {@link #build} would give the network {@code spec} describes, for inputs
   * shaped {@code inputShape}: each key, dtype and shape in {@link Module#stateDict()} order,
   * without allocating anything. Loaders compare it with a weights file's header before building
   * the network, so a spec that names a huge layer costs nothing until it is known to fit.
   *
   * @throws IllegalArgumentException exactly when {@link #build} would
   */
  public static List<Safetensors.TensorInfo> stateDictShapes(String spec, int[] inputShape) {
    List<Layer> layers = parse(spec);
    List<Safetensors.TensorInfo> state = new ArrayList<>();
    walk(layers, checkInputShape(inputShape), null, null, state);
    return List.copyOf(state);
  }

  /**
   * The token ids the network {@code spec} describes takes, when its first layer is an embedding;
   * else null (its input is plain numbers).
   *
   * @throws IllegalArgumentException for a malformed spec
   */
  public static TokenInput tokenInput(String spec) {
    Layer first = parse(spec).get(0);
    if (first.kind() != Kind.EMBEDDING) {
      return null;
    }
    return new TokenInput(first.layers(), first.bidirectional() ? first.padding() : -1);
  }

  /**
   * The spec of a multilayer perceptron given MLlib-style layer sizes: {@code {784, 256, 128, 10}}
   * gives {@code "linear(256), relu, linear(128), relu, linear(10)"} (ReLU between the linear
   * layers, none after the last). {@code layers[0]} is the number of inputs, so {@code
   * build(mlp(layers), new int[] {layers[0]}, gen)} is the MLP.
   *
   * @throws IllegalArgumentException for fewer than two sizes or a non-positive one
   */
  public static String mlp(int[] layers) {
    if (layers == null || layers.length < 2) {
      throw new IllegalArgumentException(
          "mlp needs at least 2 layer sizes (inputs, ..., outputs), got "
              + Arrays.toString(layers));
    }
    for (int i = 0; i < layers.length; i++) {
      if (layers[i] <= 0) {
        throw new IllegalArgumentException(
            "mlp layer sizes must be positive, got "
                + layers[i]
                + " at index "
                + i
                + " of "
                + Arrays.toString(layers));
      }
    }
    StringJoiner j = new StringJoiner(", ");
    for (int i = 1; i < layers.length; i++) {
      if (i > 1) {
        j.add("relu");
      }
      j.add("linear(" + layers[i] + ")");
    }
    return j.toString();
  }

  // ---------------------------------------------------------------------------------------------
  // Shapes and modules

  private static int[] checkInputShape(int[] inputShape) {
    if (inputShape == null || inputShape.length == 0) {
      throw new IllegalArgumentException(
          "inputShape must list the input dims without the batch dim ((C, H, W), (T, F) or (F)), got "
              + Arrays.toString(inputShape));
    }
    for (int d : inputShape) {
      if (d <= 0) {
        throw new IllegalArgumentException(
            "inputShape dims must be positive, got " + Arrays.toString(inputShape));
      }
    }
    return inputShape.clone();
  }

  /**
   * Follows the shape through {@code layers} and returns the final one; when {@code into} is not
   * null, also appends each layer's module to it, and when {@code state} is not null, the state
   * dict entries each module would have. One walk does all three, so what is checked, what is built
   * and what a weights file is compared with cannot drift apart (a test compares the last two).
   */
  private static int[] walk(
      List<Layer> layers,
      int[] shape,
      Generator gen,
      Sequential into,
      List<Safetensors.TensorInfo> state) {
    for (Layer l : layers) {
      shape = step(l, shape, gen, into, state == null ? null : new StateOf(l, state));
    }
    return shape;
  }

  /** Appends one layer's state dict entries, keyed as {@link Sequential} registers the layer. */
  private record StateOf(Layer layer, List<Safetensors.TensorInfo> out) {
    void add(String name, DType dtype, int... shape) {
      long numel = 1;
      for (int d : shape) {
        numel = Math.multiplyExact(numel, d);
      }
      out.add(
          new Safetensors.TensorInfo(
              (layer.number() - 1) + "." + name,
              dtype,
              shape,
              Math.multiplyExact(numel, dtype.byteSize())));
    }
  }

  private static int[] step(Layer l, int[] in, Generator gen, Sequential into, StateOf state) {
    return switch (l.kind()) {
      case CONV -> {
        requireImage(l, in);
        int h = window(l, in, in[1], l.kernel(), l.stride(), l.padding());
        int w = window(l, in, in[2], l.kernel(), l.stride(), l.padding());
        if (into != null) {
          into.add(new Conv2d(in[0], l.size(), l.kernel(), l.stride(), l.padding(), gen));
        }
        if (state != null) {
          state.add("weight", DType.FLOAT32, l.size(), in[0], l.kernel(), l.kernel());
          state.add("bias", DType.FLOAT32, l.size());
        }
        yield new int[] {l.size(), h, w};
      }
      case MAXPOOL, AVGPOOL -> {
        requireImage(l, in);
        int h = window(l, in, in[1], l.kernel(), l.stride(), 0);
        int w = window(l, in, in[2], l.kernel(), l.stride(), 0);
        if (into != null) {
          into.add(
              l.kind() == Kind.MAXPOOL
                  ? new MaxPool2d(l.kernel(), l.stride())
                  : new AvgPool2d(l.kernel(), l.stride()));
        }
        yield new int[] {in[0], h, w};
      }
      case FLATTEN -> {
        int n = 1;
        for (int d : in) {
          try {
            n = Math.multiplyExact(n, d);
          } catch (ArithmeticException e) {
            throw fail(l, "the flattened size of " + shape(in) + " overflows an int");
          }
        }
        if (into != null) {
          into.add(new Flatten());
        }
        yield new int[] {n};
      }
      case LINEAR -> {
        // (F) -> (OUT), or per time step (T, F) -> (T, OUT) as torch.nn.Linear on (*, F)
        if (in.length > 2) {
          throw fail(
              l,
              "linear needs a flat (F) or a sequence (T, F) input but the shape here is "
                  + shape(in)
                  + "; add 'flatten' (or 'patches(P)') before it");
        }
        int features = in[in.length - 1];
        if (into != null) {
          into.add(new Linear(features, l.size(), gen));
        }
        if (state != null) {
          state.add("weight", DType.FLOAT32, l.size(), features);
          state.add("bias", DType.FLOAT32, l.size());
        }
        yield in.length == 1 ? new int[] {l.size()} : new int[] {in[0], l.size()};
      }
      case BATCHNORM -> {
        if (in.length > 3) {
          throw fail(
              l,
              "batchnorm needs a (C, H, W), (C, L) or (F) input, the shape here is " + shape(in));
        }
        if (into != null) {
          into.add(in.length == 3 ? new BatchNorm2d(in[0]) : new BatchNorm1d(in[0]));
        }
        if (state != null) {
          state.add("weight", DType.FLOAT32, in[0]);
          state.add("bias", DType.FLOAT32, in[0]);
          state.add("running_mean", DType.FLOAT32, in[0]);
          state.add("running_var", DType.FLOAT32, in[0]);
          state.add("num_batches_tracked", DType.INT64);
        }
        yield in;
      }
      case LAYERNORM -> {
        if (into != null) {
          into.add(new LayerNorm(in[in.length - 1]));
        }
        if (state != null) {
          state.add("weight", DType.FLOAT32, in[in.length - 1]);
          state.add("bias", DType.FLOAT32, in[in.length - 1]);
        }
        yield in;
      }
      case DROPOUT -> {
        if (into != null) {
          into.add(new Dropout(l.value(), gen));
        }
        yield in;
      }
      case RELU, TANH, SIGMOID, GELU, LEAKYRELU -> {
        if (into != null) {
          into.add(activation(l));
        }
        yield in;
      }
      case LSTM, GRU -> {
        requireSequence(l, in);
        boolean lstm = l.kind() == Kind.LSTM;
        int dirs = l.bidirectional() ? 2 : 1;
        if (into != null) {
          RecurrentLayer.Builder<? extends RecurrentLayer> b =
              lstm
                  ? org.emberdl.nn.LSTM.builder(in[1], l.size())
                  : org.emberdl.nn.GRU.builder(in[1], l.size());
          into.add(
              b.numLayers(l.layers()).bidirectional(l.bidirectional()).batchFirst(true).build(gen));
        }
        if (state != null) {
          int g = (lstm ? 4 : 3) * l.size();
          for (int layer = 0; layer < l.layers(); layer++) {
            for (int d = 0; d < dirs; d++) {
              String sfx = "_l" + layer + (d == 1 ? "_reverse" : "");
              state.add("weight_ih" + sfx, DType.FLOAT32, g, layer == 0 ? in[1] : dirs * l.size());
              state.add("weight_hh" + sfx, DType.FLOAT32, g, l.size());
              state.add("bias_ih" + sfx, DType.FLOAT32, g);
              state.add("bias_hh" + sfx, DType.FLOAT32, g);
            }
          }
        }
        yield new int[] {in[0], dirs * l.size()};
      }
      case EMBEDDING -> {
        // bound as: layers = V, size = D, padding = P (normalized), bidirectional = has a pad
        if (l.number() != 1 || in.length != 1) {
          throw fail(
              l,
              "embedding must be the first layer, on an inputShape (T) of T token ids; the shape"
                  + " here is "
                  + shape(in)
                  + (l.number() != 1 ? " after layer " + (l.number() - 1) : ""));
        }
        if (into != null) {
          into.add(
              new TokenEmbedding(
                  l.layers(), l.size(), l.bidirectional() ? l.padding() : null, gen));
        }
        if (state != null) {
          state.add("weight", DType.FLOAT32, l.layers(), l.size());
        }
        yield new int[] {in[0], l.size()};
      }
      case LASTSTEP, MEANPOOL -> {
        requireSequence(l, in);
        if (into != null) {
          into.add(l.kind() == Kind.LASTSTEP ? new LastStep() : new MeanPool());
        }
        yield new int[] {in[1]};
      }
      case ATTENTION, TRANSFORMER, POSEMBEDDING, CLSTOKEN, CLSPOOL, PATCHES ->
          attentionStep(l, in, gen, into, state);
    };
  }

  /**
   * The attention-model layers: attention, transformer, posEmbedding, clsToken, clsPool, patches.
   */
  private static int[] attentionStep(
      Layer l, int[] in, Generator gen, Sequential into, StateOf state) {
    Attention a = l.attention();
    return switch (l.kind()) {
      case ATTENTION -> {
        requireSequence(l, in);
        int d = in[1];
        requireHeads(l, d, a.heads());
        if (into != null) {
          into.add(new MultiheadAttention(d, a.heads(), 0.0, true, true, DType.FLOAT32, gen));
        }
        if (state != null) {
          attentionState(state, "", d);
        }
        yield in;
      }
      case TRANSFORMER -> {
        requireSequence(l, in);
        int d = l.size();
        if (in[1] != d) {
          throw fail(
              l,
              "transformer with D = "
                  + d
                  + " needs (T, "
                  + d
                  + ") inputs but the shape here is "
                  + shape(in)
                  + " (put linear("
                  + d
                  + ") before it)");
        }
        requireHeads(l, d, a.heads());
        if (into != null) {
          TransformerEncoderLayer.Config c =
              new TransformerEncoderLayer.Config(d, a.heads())
                  .withDimFeedforward(a.ff())
                  .withDropout(l.value())
                  .withActivation(
                      a.gelu()
                          ? TransformerEncoderLayer.Activation.GELU
                          : TransformerEncoderLayer.Activation.RELU)
                  .withBatchFirst(true)
                  .withNormFirst(a.prenorm());
          // a pre-norm stack ends with a norm of its own (its last residual sum is unnormalized)
          into.add(
              new TransformerEncoder(
                  new TransformerEncoderLayer(c, gen),
                  l.layers(),
                  a.prenorm() ? new LayerNorm(d) : null,
                  gen));
        }
        if (state != null) {
          for (int i = 0; i < l.layers(); i++) {
            String p = "layers." + i + ".";
            attentionState(state, p + "self_attn.", d);
            state.add(p + "linear1.weight", DType.FLOAT32, a.ff(), d);
            state.add(p + "linear1.bias", DType.FLOAT32, a.ff());
            state.add(p + "linear2.weight", DType.FLOAT32, d, a.ff());
            state.add(p + "linear2.bias", DType.FLOAT32, d);
            for (String norm : new String[] {"norm1", "norm2"}) {
              state.add(p + norm + ".weight", DType.FLOAT32, d);
              state.add(p + norm + ".bias", DType.FLOAT32, d);
            }
          }
          if (a.prenorm()) {
            state.add("norm.weight", DType.FLOAT32, d);
            state.add("norm.bias", DType.FLOAT32, d);
          }
        }
        yield in;
      }
      case POSEMBEDDING -> {
        requireSequence(l, in);
        if (into != null) {
          into.add(
              a.sinusoidal()
                  ? new SinusoidalPositionalEncoding(in[0], in[1])
                  : new LearnedPositionalEmbedding(in[0], in[1], l.value(), DType.FLOAT32, gen));
        }
        if (state != null && !a.sinusoidal()) {
          state.add("weight", DType.FLOAT32, in[0], in[1]);
        }
        yield in;
      }
      case CLSTOKEN -> {
        requireSequence(l, in);
        if (into != null) {
          into.add(new ClsToken(in[1]));
        }
        if (state != null) {
          state.add("cls_token", DType.FLOAT32, 1, 1, in[1]);
        }
        yield new int[] {Math.addExact(in[0], 1), in[1]};
      }
      case CLSPOOL -> {
        requireSequence(l, in);
        if (into != null) {
          into.add(new ClsPool());
        }
        yield new int[] {in[1]};
      }
      case PATCHES -> {
        requireImage(l, in);
        int p = l.size();
        if (in[1] % p != 0 || in[2] % p != 0) {
          throw fail(
              l,
              "patches("
                  + p
                  + ") needs an image whose height and width are multiples of "
                  + p
                  + ", the shape here is "
                  + shape(in));
        }
        if (into != null) {
          into.add(new Patchify(p));
        }
        yield new int[] {(in[1] / p) * (in[2] / p), Math.multiplyExact(in[0], p * p)};
      }
      default -> throw new AssertionError(l.kind());
    };
  }

  private static void requireHeads(Layer l, int d, int heads) {
    if (d % heads != 0) {
      throw fail(
          l,
          heads + " heads must divide the " + d + " features (each head gets D / HEADS of them)");
    }
  }

  private static void attentionState(StateOf state, String prefix, int d) {
    state.add(prefix + "in_proj_weight", DType.FLOAT32, 3 * d, d);
    state.add(prefix + "in_proj_bias", DType.FLOAT32, 3 * d);
    state.add(prefix + "out_proj.weight", DType.FLOAT32, d, d);
    state.add(prefix + "out_proj.bias", DType.FLOAT32, d);
  }

  /**
   * A {@link PaddedSequenceNetwork} when the spec starts with an embedding that has a padding id
   * (its sequences are right-padded with that id, so the layers get each one's length), else a
   * {@link Sequential}.
   */
  private static Sequential newModel(List<Layer> layers) {
    Layer first = layers.get(0);
    return first.kind() == Kind.EMBEDDING && first.bidirectional()
        ? new PaddedSequenceNetwork(first.padding())
        : new Sequential();
  }

  private static Module activation(Layer l) {
    return switch (l.kind()) {
      case RELU -> new ReLU();
      case TANH -> new Tanh();
      case SIGMOID -> new Sigmoid();
      case GELU -> new GELU();
      case LEAKYRELU -> new LeakyReLU(l.value());
      default -> throw new AssertionError(l.kind());
    };
  }

  private static void requireSequence(Layer l, int[] in) {
    if (in.length != 2) {
      throw fail(
          l,
          l.kind().spelling()
              + " needs a (T, F) sequence input (time steps, features) but the shape here is "
              + shape(in)
              + (in.length == 1
                  ? " (give inputShape (T, F), and put lastStep or meanPool after the recurrent"
                      + " layers, before linear)"
                  : ""));
    }
  }

  private static void requireImage(Layer l, int[] in) {
    if (in.length != 3) {
      throw fail(
          l,
          l.kind().spelling()
              + " needs a (C, H, W) input but the shape here is "
              + shape(in)
              + (in.length == 1
                  ? " (image layers need an inputShape (C, H, W) and must come before flatten"
                      + " and linear)"
                  : ""));
    }
  }

  /** The output size of a window sliding over {@code size}, or an error when it does not fit. */
  private static int window(Layer l, int[] in, int size, int kernel, int stride, int padding) {
    long span = (long) size + 2L * padding - kernel;
    if (span < 0) {
      throw fail(
          l,
          "kernel "
              + kernel
              + " is larger than the input "
              + shape(in)
              + (padding > 0 ? " with padding " + padding : "")
              + ", so the output would be empty");
    }
    long out = span / stride + 1;
    if (out > Integer.MAX_VALUE) {
      throw fail(l, "the output size " + out + " overflows an int");
    }
    return (int) out;
  }

  private static String shape(int[] s) {
    return Arrays.toString(s).replace('[', '(').replace(']', ')');
  }

  // ---------------------------------------------------------------------------------------------
  // Parsing

  private static List<Layer> parse(String spec) {
    if (spec == null || spec.isBlank()) {
      throw new IllegalArgumentException(
          "network spec is empty; expected a comma-separated layer list such as"
              + " 'linear(128), relu, linear(10)'");
    }
    return new Parser(spec).layers();
  }

  /** A recursive-descent parser over the characters of a spec. */
  private static final class Parser {
    private final String src;
    private int pos;
    // the layer being bound, for its error messages
    private Kind kind;
    private int number;
    private String text;

    Parser(String src) {
      this.src = src;
    }

    List<Layer> layers() {
      List<Layer> out = new ArrayList<>();
      while (true) {
        out.add(layer(out.size() + 1));
        skipSpace();
        if (pos == src.length()) {
          return out;
        }
        if (src.charAt(pos) != ',') {
          throw syntax("expected ',' between layers");
        }
        pos++;
      }
    }

    private Layer layer(int number) {
      skipSpace();
      int start = pos;
      String name = word();
      if (name.isEmpty() || !Character.isLetter(name.charAt(0))) {
        throw syntax("expected layer " + number + " (a layer name such as 'relu' or 'linear(10)')");
      }
      List<Arg> args = new ArrayList<>();
      int afterName = pos;
      skipSpace();
      if (pos < src.length() && src.charAt(pos) == '(') {
        pos++;
        skipSpace();
        if (pos < src.length() && src.charAt(pos) == ')') {
          pos++;
        } else {
          while (true) {
            args.add(arg(number));
            skipSpace();
            if (pos < src.length() && src.charAt(pos) == ')') {
              pos++;
              break;
            }
            if (pos >= src.length() || src.charAt(pos) != ',') {
              throw syntax("expected ',' or ')' in the arguments of layer " + number);
            }
            pos++;
          }
        }
      } else {
        pos = afterName;
      }
      return bind(
          name.toLowerCase(Locale.ROOT), args, number, start + 1, src.substring(start, pos));
    }

    private Arg arg(int number) {
      skipSpace();
      int at = pos;
      String first = word();
      if (first.isEmpty()) {
        throw syntax("expected an argument of layer " + number);
      }
      int afterFirst = pos;
      skipSpace();
      if (pos < src.length() && src.charAt(pos) == '=') {
        pos++;
        skipSpace();
        int valueAt = pos;
        String value = word();
        if (value.isEmpty()) {
          throw syntax("expected a value after '" + first + "='");
        }
        if (!Character.isLetter(first.charAt(0))) {
          throw syntax(at, "expected an argument name (k, s or p) before '='");
        }
        return new Arg(first.toLowerCase(Locale.ROOT), value, valueAt + 1);
      }
      pos = afterFirst;
      return new Arg(null, first, at + 1);
    }

    /** A run of name or number characters (possibly empty). */
    private String word() {
      int start = pos;
      while (pos < src.length()) {
        char c = src.charAt(pos);
        if (Character.isLetterOrDigit(c) || c == '_' || c == '.' || c == '+' || c == '-') {
          pos++;
        } else {
          break;
        }
      }
      return src.substring(start, pos);
    }

    private void skipSpace() {
      while (pos < src.length() && Character.isWhitespace(src.charAt(pos))) {
        pos++;
      }
    }

    /** Checks {@code args} against what {@code name} accepts and makes the layer record. */
    private Layer bind(String name, List<Arg> args, int number, int column, String text) {
      Kind kind = Kind.of(name);
      if (kind == null) {
        throw error(
            number, text, column, "unknown layer '" + name + "'; expected one of " + Kind.all());
      }
      this.kind = kind;
      this.number = number;
      this.text = text;
      List<Arg> positional = new ArrayList<>();
      Map<String, Arg> named = new HashMap<>();
      for (Arg a : args) {
        String word = a.value().toLowerCase(Locale.ROOT);
        if (a.key() == null && FLAGS.contains(word) && kind.keys.contains(word)) {
          if (named.put(word, a) != null) {
            throw argError(a, "argument '" + word + "' is given twice");
          }
        } else if (a.key() == null) {
          positional.add(a);
        } else if (!kind.keys.contains(a.key())) {
          throw argError(a, "unknown argument '" + a.key() + "='");
        } else if (named.put(a.key(), a) != null) {
          throw argError(a, "argument '" + a.key() + "=' is given twice");
        }
      }
      if (positional.size() > kind.maxPositional) {
        Arg extra = positional.get(kind.maxPositional);
        throw argError(
            extra,
            (kind.maxPositional == 0
                    ? kind.spelling() + " takes no arguments"
                    : "too many arguments")
                + ", got '"
                + extra.value()
                + "'");
      }
      if (positional.size() < kind.minPositional
          || (kind == Kind.CONV && !named.containsKey("k"))) {
        String missing =
            kind == Kind.CONV && !positional.isEmpty() ? "kernel size 'k='" : "argument";
        throw error(number, text, column, "missing " + missing + "; expected " + kind.usage);
      }
      Arg first = positional.isEmpty() ? null : positional.get(0);
      Arg s = named.get("s");
      return switch (kind) {
        case CONV ->
            new Layer(
                kind,
                number,
                column,
                text,
                positive(first, "output channels OUT"),
                positive(named.get("k"), "kernel size k"),
                s == null ? 1 : positive(s, "stride s"),
                named.containsKey("p") ? nonNegative(named.get("p"), "padding p") : 0,
                0);
        case MAXPOOL, AVGPOOL -> {
          int kernel = positive(first, "kernel size K");
          int stride = s == null ? kernel : positive(s, "stride s");
          yield new Layer(kind, number, column, text, 0, kernel, stride, 0, 0);
        }
        case LINEAR ->
            new Layer(
                kind, number, column, text, positive(first, "output features OUT"), 0, 0, 0, 0);
        case DROPOUT -> {
          double p = decimal(first, "dropout probability P");
          if (!(p >= 0 && p < 1)) {
            throw argError(
                first, "dropout probability P must be in [0, 1), got '" + first.value() + "'");
          }
          yield new Layer(kind, number, column, text, 0, 0, 0, 0, p);
        }
        case LSTM, GRU -> {
          Arg layers = named.get("layers");
          yield new Layer(
              kind,
              number,
              column,
              text,
              positive(first, "hidden size H"),
              0,
              0,
              0,
              0,
              layers == null ? 1 : positive(layers, "number of layers L"),
              named.containsKey("bidirectional"));
        }
        case ATTENTION ->
            new Layer(
                kind,
                number,
                column,
                text,
                0,
                0,
                0,
                0,
                0,
                1,
                false,
                new Attention(positive(first, "number of heads HEADS"), 0, false, false, false));
        case TRANSFORMER -> {
          Arg layers = named.get("layers");
          Arg dropout = named.get("dropout");
          double p = dropout == null ? 0.1 : decimal(dropout, "dropout probability P");
          if (!(p >= 0 && p < 1)) {
            throw argError(
                dropout, "dropout probability P must be in [0, 1), got '" + dropout.value() + "'");
          }
          yield new Layer(
              kind,
              number,
              column,
              text,
              positive(first, "model dimension D"),
              0,
              0,
              0,
              p,
              layers == null ? 1 : positive(layers, "number of layers L"),
              false,
              new Attention(
                  positive(positional.get(1), "number of heads HEADS"),
                  positive(positional.get(2), "feed-forward size FF"),
                  named.containsKey("prenorm"),
                  named.containsKey("gelu"),
                  false));
        }
        case POSEMBEDDING -> {
          if (named.containsKey("learned") && named.containsKey("sinusoidal")) {
            throw argError(named.get("sinusoidal"), "give either 'learned' or 'sinusoidal'");
          }
          Arg std = named.get("std");
          if (std != null && named.containsKey("sinusoidal")) {
            throw argError(std, "std= is the init of a learned embedding, not of 'sinusoidal'");
          }
          double sd = std == null ? 1.0 : decimal(std, "init standard deviation S");
          if (!(sd > 0)) {
            throw argError(
                std, "init standard deviation S must be positive, got '" + std.value() + "'");
          }
          yield new Layer(
              kind,
              number,
              column,
              text,
              0,
              0,
              0,
              0,
              sd,
              0,
              false,
              new Attention(0, 0, false, false, named.containsKey("sinusoidal")));
        }
        case PATCHES ->
            new Layer(kind, number, column, text, positive(first, "patch size P"), 0, 0, 0, 0);
        case EMBEDDING -> {
          int vocabulary = positive(first, "vocabulary size V");
          if (vocabulary > TokenEmbedding.MAX_FLOAT_VOCABULARY) {
            throw argError(
                first,
                "vocabulary size V must be at most 2^24 = "
                    + TokenEmbedding.MAX_FLOAT_VOCABULARY
                    + " (token ids travel as float32, exact only up to 2^24), got '"
                    + first.value()
                    + "'");
          }
          int dim = positive(positional.get(1), "embedding size D");
          Arg pad = named.get("pad");
          int p = pad == null ? 0 : integer(pad, "padding id P");
          if (p < -vocabulary || p >= vocabulary) {
            throw argError(
                pad,
                "padding id P must be in [-V, V) = ["
                    + -vocabulary
                    + ", "
                    + vocabulary
                    + "), got '"
                    + pad.value()
                    + "'");
          }
          // fields reused: layers = V, size = D, padding = P (from the end when negative),
          // bidirectional = whether there is a padding id
          yield new Layer(
              kind,
              number,
              column,
              text,
              dim,
              0,
              0,
              p < 0 ? p + vocabulary : p,
              0,
              vocabulary,
              pad != null);
        }
        case LEAKYRELU -> {
          double slope = first == null ? 0.01 : decimal(first, "negative slope SLOPE");
          yield new Layer(kind, number, column, text, 0, 0, 0, 0, slope);
        }
        default -> new Layer(kind, number, column, text, 0, 0, 0, 0, 0);
      };
    }

    private int positive(Arg a, String what) {
      int v = integer(a, what);
      if (v <= 0) {
        throw argError(a, what + " must be a positive integer, got '" + a.value() + "'");
      }
      return v;
    }

    private int nonNegative(Arg a, String what) {
      int v = integer(a, what);
      if (v < 0) {
        throw argError(a, what + " must be a non-negative integer, got '" + a.value() + "'");
      }
      return v;
    }

    private int integer(Arg a, String what) {
      if (INT.matcher(a.value()).matches()) {
        try {
          return Integer.parseInt(a.value());
        } catch (NumberFormatException e) {
          // beyond the int range: reported below
        }
      }
      throw argError(a, what + " must be an integer, got '" + a.value() + "'");
    }

    private double decimal(Arg a, String what) {
      if (DECIMAL.matcher(a.value()).matches()) {
        double v = Double.parseDouble(a.value());
        if (Double.isFinite(v)) {
          return v;
        }
      }
      throw argError(a, what + " must be a number, got '" + a.value() + "'");
    }

    /** An error at argument {@code a} of the layer being bound, followed by its usage. */
    private IllegalArgumentException argError(Arg a, String message) {
      return error(number, text, a.column(), message + "; expected " + kind.usage);
    }

    private IllegalArgumentException syntax(String expected) {
      return syntax(pos, expected);
    }

    private IllegalArgumentException syntax(int at, String expected) {
      String found;
      if (at >= src.length()) {
        found = "the end of the spec";
      } else {
        int end = at;
        while (end < src.length() && end < at + 20 && src.charAt(end) != ',') {
          end++;
        }
        found = "'" + src.substring(at, Math.max(end, at + 1)) + "'";
      }
      return new IllegalArgumentException(
          "network spec, column "
              + (at + 1)
              + ": "
              + expected
              + ", found "
              + found
              + " in \""
              + src
              + "\"");
    }
  }

  private static IllegalArgumentException fail(Layer l, String message) {
    return error(l.number(), l.text(), l.column(), message);
  }

  private static IllegalArgumentException error(
      int number, String text, int column, String message) {
    return new IllegalArgumentException(
        "network spec, layer " + number + " '" + text + "' at column " + column + ": " + message);
  }
}
