package org.emberdl.tensor;

import java.util.Objects;

/** Where an array's memory lives: the CPU (off-heap memory) or one CUDA device. */
public final class Device {
  /** Kinds of device. */
  public enum Type {
    CPU,
    CUDA
  }

  /** The host: off-heap memory, kernels on {@code EmberConfig.threads()} threads. */
  public static final Device CPU = new Device(Type.CPU, -1);

  private final Type type;
  private final int index;

  private Device(Type type, int index) {
    this.type = type;
    this.index = index;
  }

  /** CUDA device number {@code index} (as in {@code cuda:0}). */
  public static Device cuda(int index) {
    if (index < 0) {
      throw new IllegalArgumentException("CUDA device index must be >= 0, got " + index);
    }
    return new Device(Type.CUDA, index);
  }

  /** Parses {@code "cpu"}, {@code "cuda"} (device 0) or {@code "cuda:N"}. */
  public static Device parse(String name) {
    String s = name.trim().toLowerCase(java.util.Locale.ROOT);
    if (s.equals("cpu")) {
      return CPU;
    }
    if (s.equals("cuda")) {
      return cuda(0);
    }
    if (s.startsWith("cuda:")) {
      return cuda(Integer.parseInt(s.substring(5)));
    }
    throw new IllegalArgumentException("unknown device '" + name + "' (expected cpu or cuda:N)");
  }

  public Type type() {
    return type;
  }

  /** The CUDA device number; -1 for the CPU. */
  public int index() {
    return index;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Device d && d.type == type && d.index == index;
  }

  @Override
  public int hashCode() {
    return Objects.hash(type, index);
  }

  @Override
  public String toString() {
    return type == Type.CPU ? "cpu" : "cuda:" + index;
  }
}
