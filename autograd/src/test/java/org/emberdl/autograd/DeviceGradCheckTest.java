package org.emberdl.autograd;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.stream.Stream;
import org.emberdl.tensor.Device;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.cuda.DeviceUnderTest;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link GradCheckTest}'s registry (every differentiable op of {@link Tensor}) on {@code cuda:0},
 * in float64: each case's analytic gradients must match central finite differences computed on the
 * device ({@link GradCheck}'s tolerances) AND the CPU's analytic gradients for the same inputs and
 * weights within {@code |cuda - cpu| <= 1e-10 + 1e-9 |cpu|} (float64 kernels; sums and GEMMs run in
 * another order, CUDA's double math library is within 2 ulps). Skipped without a GPU; run on the
 * emulated device by {@link DeviceEmulationTest} and on a GPU by {@code scripts/gpu-check.sh}.
 */
class DeviceGradCheckTest {
  static final Device CUDA = Device.cuda(0);
  static final double ABS = 1e-10;
  static final double REL = 1e-9;

  static Stream<Arguments> cases() {
    return GradCheckTest.CASES.entrySet().stream()
        .map(e -> Arguments.of(CUDA, e.getKey(), e.getValue()));
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  void gradientsMatchFiniteDifferencesAndTheCpu(Device d, String name, GradCheckTest.Case c) {
    DeviceUnderTest.require(d);
    try (MemoryScope scope = MemoryScope.open()) {
      Generator g = new Generator(name.hashCode());
      NDArray[] host = new NDArray[c.inputs().length];
      NDArray[] dev = new NDArray[host.length];
      for (int i = 0; i < host.length; i++) {
        host[i] = GradCheckTest.values(g, c.inputs()[i]);
        dev[i] = host[i].to(d);
      }
      double[][] cpu = GradCheck.defaults().gradients(c.fn(), host);
      GradCheckTest.DEVICE.set(d);
      try {
        GradCheck.defaults().check(c.fn(), dev);
        double[][] got = GradCheck.defaults().gradients(c.fn(), dev);
        for (int i = 0; i < cpu.length; i++) {
          assertEquals(cpu[i].length, got[i].length, name + ": input " + i + "'s gradient size");
          for (int j = 0; j < cpu[i].length; j++) {
            if (!(Math.abs(got[i][j] - cpu[i][j]) <= ABS + REL * Math.abs(cpu[i][j]))) {
              throw new AssertionError(
                  name
                      + ": input "
                      + i
                      + " element "
                      + j
                      + ": "
                      + d
                      + " gradient "
                      + got[i][j]
                      + ", cpu "
                      + cpu[i][j]);
            }
          }
        }
      } finally {
        GradCheckTest.DEVICE.remove();
      }
    }
  }
}
