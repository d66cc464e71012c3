package org.emberdl.examples;

import java.io.Serializable;

/**
 * One example as a Java bean, for Spark's bean encoder: {@code features} becomes {@code
 * array<float>} (encoded straight from the {@code float[]}, without boxing each pixel) and {@code
 * label} a {@code double}; {@code client} (an {@code int}) names the federated client of the row
 * when the data is split into clients.
 */
public final class LabeledImage implements Serializable {
  private static final long serialVersionUID = 1L;

  private float[] features;
  private double label;
  private int client;

  /** For the encoder. */
  public LabeledImage() {}

  public LabeledImage(float[] features, double label) {
    this.features = features;
    this.label = label;
  }

  public float[] getFeatures() {
    return features;
  }

  public void setFeatures(float[] features) {
    this.features = features;
  }

  public double getLabel() {
    return label;
  }

  public void setLabel(double label) {
    this.label = label;
  }

  public int getClient() {
    return client;
  }

  public void setClient(int client) {
    this.client = client;
  }
}
