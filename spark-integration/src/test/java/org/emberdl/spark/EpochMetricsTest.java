package org.emberdl.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class EpochMetricsTest {
  @Test
  void describeLeavesOutWhatTheFitDidNotMeasure() {
    double nan = Double.NaN;
    assertEquals(
        "loss 0.3478",
        new EpochMetrics(3, 0.34781, nan, 100, nan, nan, 1, nan).describe(),
        "regression without validation or privacy");
    assertEquals(
        "loss 0.3478, accuracy 87.32%, validation loss 0.3611, validation accuracy 86.90%,"
            + " epsilon 1.235",
        new EpochMetrics(3, 0.34781, 0.87324, 100, 0.36114, 0.869, 1, 1.23456).describe());
  }
}
