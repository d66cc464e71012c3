package org.emberdl.examples;

import java.util.Locale;

/**
 * The Fashion-MNIST networks the demo trains on Spark, by name: the network Params a classifier
 * gets for each ({@code --model} of {@code demo}). Each is the same network as the standalone
 * trainer's model of that name ({@link Mlp}, {@link RowLstm}, {@link PatchTransformer}).
 */
enum ExampleNetworks {
  /** 784-256-128-10 with ReLU. */
  MLP(null, null),
  /** Each image as 28 steps of one 28-pixel row: LSTM(128), last step, linear(10). */
  LSTM("lstm(128), lastStep, linear(10)", new int[] {28, 28}),
  /** A small vision transformer on 7x7 patches ({@link PatchTransformer#SPEC}). */
  VIT(PatchTransformer.SPEC, new int[] {1, 28, 28});

  private final String spec;
  private final int[] inputShape;

  ExampleNetworks(String spec, int[] inputShape) {
    this.spec = spec;
    this.inputShape = inputShape;
  }

  /** The NetworkSpec string, or null for the MLP (given as layers). */
  String spec() {
    return spec;
  }

  /** The inputShape that goes with {@link #spec()}, or null. */
  int[] inputShape() {
    return inputShape == null ? null : inputShape.clone();
  }

  String cliName() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** The network named {@code name} (mlp, lstm, vit). */
  static ExampleNetworks of(String name) {
    for (ExampleNetworks n : values()) {
      if (n.cliName().equals(name)) {
        return n;
      }
    }
    throw new IllegalArgumentException(
        "unknown model '" + name + "'; expected one of " + java.util.Arrays.toString(names()));
  }

  static String[] names() {
    ExampleNetworks[] v = values();
    String[] out = new String[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = v[i].cliName();
    }
    return out;
  }
}
