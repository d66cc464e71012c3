package org.emberdl.arrow;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.ipc.message.ArrowFieldNode;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Device;
import org.emberdl.tensor.NDArray;
import org.junit.jupiter.api.Test;

/**
 * The upload path copies once, from the Arrow buffer's address, with {@code Backend.copyFromHost}.
 * On this CPU-only machine it runs against {@link Device#CPU} and against {@link
 * RecordingDeviceProvider}'s stand-in {@code cuda:0}, which records the address it is handed; the
 * real CUDA backend is reached through the same {@code Backends.of(device).copyFromHost} call.
 */
class DeviceUploadTest extends ArrowTestBase {

  @Test
  void anImportedArrayIsCopiedFromTheArrowBufferItself() {
    float[] values = Vectors.iota(3 * 784);
    try (FixedSizeListVector v = Vectors.fixedList(arrow, "pixels", 784, values);
        NDArray host = ArrowTensors.wrap(v)) {
      RecordingDeviceProvider.clear();
      try (NDArray dev = ArrowTensors.upload(host, RecordingDeviceProvider.DEVICE)) {
        assertEquals(RecordingDeviceProvider.DEVICE, dev.device());
        assertEquals(1, RecordingDeviceProvider.UPLOADS.size(), "one transfer, no staging");
        long[] upload = RecordingDeviceProvider.UPLOADS.get(0);
        assertEquals(v.getDataVector().getDataBuffer().memoryAddress(), upload[0]);
        assertEquals(3 * 784 * 4, upload[1]);
        assertArrayEquals(new int[] {3, 784}, dev.shape());
        assertArrayEquals(values, dev.toFloatArray());
      }
    }
  }

  @Test
  void aVectorIsUploadedFromItsFirstRow() {
    try (Float4Vector v = Vectors.float4(arrow, "x", Vectors.iota(10));
        Float4Vector part = new Float4Vector("x", arrow)) {
      v.makeTransferPair(part).splitAndTransfer(2, 5);
      RecordingDeviceProvider.clear();
      try (NDArray dev = ArrowTensors.upload(part, RecordingDeviceProvider.DEVICE)) {
        assertEquals(
            v.getDataBuffer().memoryAddress() + 2 * 4, RecordingDeviceProvider.UPLOADS.get(0)[0]);
        assertArrayEquals(new float[] {2, 3, 4, 5, 6}, dev.toFloatArray());
      }
    }
  }

  @Test
  void uploadToTheCpuIsAnIndependentCopy() {
    try (Float4Vector v = Vectors.float4(arrow, "x", new float[] {1, 2, 3});
        NDArray host = ArrowTensors.wrap(v);
        NDArray copy = ArrowTensors.upload(host, Device.CPU)) {
      assertNotEquals(host.storage().address(), copy.storage().address());
      v.set(0, 100f);
      assertArrayEquals(new float[] {1, 2, 3}, copy.toFloatArray());
      assertEquals(Device.CPU, copy.device());
    }
  }

  @Test
  void aMisalignedColumnCanStillBeUploaded() {
    try (ArrowBuf raw = arrow.buffer(4 * 4 + 2);
        Float4Vector v = new Float4Vector("x", arrow)) {
      ArrowBuf shifted = raw.slice(2, 4 * 4);
      for (int i = 0; i < 4; i++) {
        shifted.setFloat(i * 4L, i + 0.5f);
      }
      v.loadFieldBuffers(new ArrowFieldNode(4, 0), List.of(arrow.getEmpty(), shifted));
      try (NDArray dev = ArrowTensors.upload(v, Device.CPU)) {
        assertArrayEquals(new float[] {0.5f, 1.5f, 2.5f, 3.5f}, dev.toFloatArray());
      }
    }
  }

  @Test
  void aRawBufferRangeIsBoundsChecked() {
    try (ArrowBuf buf = arrow.buffer(64)) {
      for (int i = 0; i < 16; i++) {
        buf.setFloat(i * 4L, i);
      }
      try (NDArray a = ArrowTensors.upload(buf, 8, DType.FLOAT32, new int[] {2, 3}, Device.CPU)) {
        assertArrayEquals(new float[] {2, 3, 4, 5, 6, 7}, a.toFloatArray());
      }
      assertThrows(
          IndexOutOfBoundsException.class,
          () -> ArrowTensors.upload(buf, 8, DType.FLOAT32, new int[] {15}, Device.CPU));
      assertThrows(
          IndexOutOfBoundsException.class,
          () -> ArrowTensors.upload(buf, -4, DType.FLOAT32, new int[] {1}, Device.CPU));
    }
  }

  @Test
  void aStridedViewMustBeMadeContiguousFirst() {
    try (NDArray a = NDArray.of(Vectors.iota(6), 2, 3);
        NDArray t = a.t()) {
      assertThrows(IllegalArgumentException.class, () -> ArrowTensors.upload(t, Device.CPU));
    }
  }
}
