package org.emberdl.tensor;

/**
 * The result of {@code max(dim)} / {@code min(dim)}: values and the int64 indices where they were
 * found. Closing it closes both.
 */
public record ValuesIndices(NDArray values, NDArray indices) implements AutoCloseable {
  @Override
  public void close() {
    values.close();
    indices.close();
  }
}
