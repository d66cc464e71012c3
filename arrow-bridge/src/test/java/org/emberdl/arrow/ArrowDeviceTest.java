package org.emberdl.arrow;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.stream.Stream;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Device;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.cuda.DeviceUnderTest;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Arrow to and from a real device ({@code cuda:0}; skipped without a GPU, run on the emulated
 * device by {@link ArrowEmulationTest}, whose device memory Java cannot read): uploads copy from
 * the Arrow buffer into device memory, downloads copy device memory into a new vector's buffer, and
 * {@link ArrowTensors#export} refuses a device array, naming its device.
 */
class ArrowDeviceTest extends ArrowTestBase {
  static Stream<Device> devices() {
    return Stream.of(Device.cuda(0));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("devices")
  void uploadsGiveTheColumnsValuesOnTheDevice(Device d) {
    DeviceUnderTest.require(d);
    float[] pixels = Vectors.iota(3 * 4);
    try (FixedSizeListVector v = Vectors.fixedList(arrow, "pixels", 4, pixels);
        NDArray dev = ArrowTensors.upload(v, d);
        NDArray host = ArrowTensors.wrap(v);
        NDArray fromHost = ArrowTensors.upload(host, d);
        Float8Vector x = Vectors.float8(arrow, "x", 1.5, -2, 0.25);
        NDArray col = ArrowTensors.upload(x, d);
        NDArray raw =
            ArrowTensors.upload(
                v.getDataVector().getDataBuffer(), 4 * 4, DType.FLOAT32, new int[] {2, 2}, d)) {
      assertEquals(d, dev.device());
      assertArrayEquals(pixels, dev.toFloatArray());
      assertArrayEquals(pixels, fromHost.toFloatArray());
      assertArrayEquals(new double[] {1.5, -2, 0.25}, col.toDoubleArray());
      // elements 4..7 (row 1): 4, 5, 6, 7
      assertArrayEquals(new float[] {4, 5, 6, 7}, raw.toFloatArray());
      // a sum on the device of 0 + 1 + ... + 11 = 66
      try (NDArray s = dev.sum()) {
        assertEquals(66.0, s.item());
      }
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("devices")
  void downloadsCopyTheDeviceValuesIntoANewVector(Device d) {
    DeviceUnderTest.require(d);
    try (NDArray host = NDArray.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        NDArray dev = host.to(d);
        NDArray t = dev.transpose(0, 1);
        FieldVector rows = ArrowTensors.download(t, "t", arrow);
        NDArray narrow = dev.narrow(1, 2, 1);
        NDArray column = narrow.reshape(2);
        FieldVector last = ArrowTensors.download(column, "last", arrow)) {
      // the transpose [[1, 4], [2, 5], [3, 6]] as 3 rows of 2
      FixedSizeListVector list = (FixedSizeListVector) rows;
      assertEquals(3, list.getValueCount());
      Float4Vector values = (Float4Vector) list.getDataVector();
      float[] got = new float[6];
      for (int i = 0; i < 6; i++) {
        got[i] = values.get(i);
      }
      assertArrayEquals(new float[] {1, 4, 2, 5, 3, 6}, got);
      Float4Vector l = (Float4Vector) last;
      assertEquals(2, l.getValueCount());
      assertEquals(3f, l.get(0));
      assertEquals(6f, l.get(1));
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("devices")
  void exportRefusesADeviceArrayNamingIt(Device d) {
    DeviceUnderTest.require(d);
    try (NDArray host = NDArray.of(new float[] {1, 2});
        NDArray dev = host.to(d)) {
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> ArrowTensors.export(dev, "x", arrow));
      assertEquals(
          "cannot export float32[2] as 'x': it is on "
              + d
              + ", whose memory Arrow cannot read; ArrowTensors.download copies it to the host",
          e.getMessage());
    }
  }
}
