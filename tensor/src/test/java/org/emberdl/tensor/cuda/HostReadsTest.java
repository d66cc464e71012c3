package org.emberdl.tensor.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Device;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.io.Safetensors;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every path that reads or writes an array's memory from Java (the heap reads, {@code item}, {@code
 * toString}, device-to-device copies, views with offsets and strides, Safetensors export) on a
 * device parameter: on {@code cuda:i} that memory is device memory, which Java must only reach
 * through the backend's copyToHost/copyFromHost. Each case gives the CPU's answer (worked out by
 * hand below) on every device; on the emulated device ({@link CudaEmulationTest}) a direct read of
 * a device pointer would read the fake driver's unrelated host block, not these values.
 * Mixed-device operands are refused with both devices named, before any kernel could read the other
 * device's memory.
 */
class HostReadsTest {
  static Stream<Device> devices() {
    return BackendConformanceTest.devices();
  }

  /** {@code [[1, 2, 3], [4, 5, 6]]} on {@code d}. */
  private static NDArray grid(Device d, DType t) {
    try (NDArray host = NDArray.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        NDArray typed = host.cast(t)) {
      return typed.to(d);
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("devices")
  void heapReadsOfEveryDtype(Device d) {
    BackendConformanceTest.backend(d);
    try (MemoryScope s = MemoryScope.open()) {
      assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, grid(d, DType.FLOAT32).toFloatArray());
      assertArrayEquals(new double[] {1, 2, 3, 4, 5, 6}, grid(d, DType.FLOAT64).toDoubleArray());
      assertArrayEquals(new long[] {1, 2, 3, 4, 5, 6}, grid(d, DType.INT64).toLongArray());
      assertArrayEquals(new int[] {1, 2, 3, 4, 5, 6}, grid(d, DType.INT32).toIntArray());
      // a cast on the device, read back as another dtype: float 1..6 as bool is all true
      assertArrayEquals(
          new boolean[] {true, true, true, true, true, true},
          grid(d, DType.FLOAT32).toBooleanArray());
      float[] into = new float[6];
      float[] got = grid(d, DType.FLOAT32).toFloatArray(into);
      assertEquals(into, got, "the caller's buffer is reused");
      assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, into);
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("devices")
  void viewsWithOffsetsAndStrides(Device d) {
    BackendConformanceTest.backend(d);
    try (MemoryScope s = MemoryScope.open()) {
      NDArray g = grid(d, DType.FLOAT32);
      // transposed: [[1, 4], [2, 5], [3, 6]]
      assertArrayEquals(new float[] {1, 4, 2, 5, 3, 6}, g.transpose(0, 1).toFloatArray());
      // row 1, columns 1..2: offset 4 elements into the storage
      NDArray part = g.narrow(0, 1, 1).narrow(1, 1, 2);
      assertArrayEquals(new float[] {5, 6}, part.toFloatArray());
      // the element at [1, 2] alone (offset 5): item() reads one value
      assertEquals(6.0, g.narrow(0, 1, 1).narrow(1, 2, 1).item());
      // a strided view copied to the CPU keeps its values
      assertArrayEquals(
          new float[] {2, 5}, g.narrow(1, 1, 1).to(Device.CPU).toFloatArray(), "column 1");
      assertEquals(Device.CPU, g.narrow(1, 1, 1).to(Device.CPU).device());
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("devices")
  void scalarsAndSums(Device d) {
    BackendConformanceTest.backend(d);
    try (MemoryScope s = MemoryScope.open()) {
      // 1 + 2 + ... + 6 = 21, computed on the device and read as one value
      assertEquals(21.0, grid(d, DType.FLOAT64).sum().item());
      assertEquals(-2.5, NDArray.scalar(-2.5, DType.FLOAT64).to(d).item());
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("devices")
  void toStringPrintsTheValues(Device d) {
    BackendConformanceTest.backend(d);
    try (MemoryScope s = MemoryScope.open()) {
      assertEquals(
          "tensor([[1., 2., 3.],\n        [4., 5., 6.]], shape=[2, 3], dtype=float32, device="
              + d
              + ")",
          grid(d, DType.FLOAT32).toString());
      // over 1000 elements: the first and last three of 0..1199
      NDArray big = NDArray.arange(1200).to(d);
      assertEquals(
          "tensor([   0,    1,    2, ..., 1197, 1198, 1199], shape=[1200], dtype=int64, device="
              + d
              + ")",
          big.toString());
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("devices")
  void copiesBetweenDevicesAndIntoViews(Device d) {
    BackendConformanceTest.backend(d);
    try (MemoryScope s = MemoryScope.open()) {
      NDArray g = grid(d, DType.FLOAT32);
      // device -> device (through the host when the devices differ; a view when they are equal)
      assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, g.to(Device.CPU).to(d).toFloatArray());
      assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, g.copy().toFloatArray());
      // copyFrom into a strided view: column 0 := [10, 20]
      NDArray target = g.copy();
      target.narrow(1, 0, 1).copyFrom(NDArray.of(new float[] {10, 20}, 2, 1).to(d));
      assertArrayEquals(new float[] {10, 2, 3, 20, 5, 6}, target.toFloatArray());
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("devices")
  void safetensorsExportReadsTheDeviceValues(Device d) throws Exception {
    BackendConformanceTest.backend(d);
    try (MemoryScope s = MemoryScope.open()) {
      Map<String, NDArray> m = new LinkedHashMap<>();
      m.put("w", grid(d, DType.FLOAT32).transpose(0, 1));
      byte[] bytes = Safetensors.toBytes(m, Map.of());
      try (Safetensors.SafetensorsFile f = Safetensors.read(bytes)) {
        NDArray w = f.tensors().get("w");
        assertEquals(Device.CPU, w.device());
        assertArrayEquals(new float[] {1, 4, 2, 5, 3, 6}, w.toFloatArray());
      }
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("devices")
  void mixedDevicesAreRefusedNamingBoth(Device d) {
    BackendConformanceTest.backend(d);
    if (d.type() == Device.Type.CPU) {
      return; // needs a second device
    }
    try (MemoryScope s = MemoryScope.open()) {
      NDArray dev = grid(d, DType.FLOAT32);
      NDArray host = NDArray.of(new float[] {1, 2, 3}, 3, 1);
      NDArray index = NDArray.of(new long[] {1, 0});
      String both = "arrays are on different devices: " + d + " and cpu";
      assertEquals(
          both,
          assertThrows(IllegalArgumentException.class, () -> dev.add(host.reshape(1, 3)))
              .getMessage());
      assertEquals(
          both, assertThrows(IllegalArgumentException.class, () -> dev.matmul(host)).getMessage());
      assertEquals(
          both,
          assertThrows(IllegalArgumentException.class, () -> dev.indexSelect(0, index))
              .getMessage());
      assertEquals(
          "arrays are on different devices: cpu and " + d,
          assertThrows(IllegalArgumentException.class, () -> host.indexSelect(0, index.to(d)))
              .getMessage());
    }
  }
}
