package org.emberdl.arrow;

import java.util.Arrays;
import org.apache.arrow.memory.ArrowBuf;
import org.emberdl.tensor.Backend;
import org.emberdl.tensor.Backends;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Device;
import org.emberdl.tensor.Layout;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.Shape;
import org.emberdl.tensor.memory.Storage;

/**
 * The host-to-device hook: one {@link Backend#copyFromHost} from the Arrow buffer's own address
 * into fresh memory of the target device. No Java array and no host staging copy sit in between, so
 * on CUDA the transfer is the only copy (pinned staging, if any, is the backend's business).
 */
final class DeviceUpload {
  private DeviceUpload() {}

  /** Copies a contiguous CPU array (a zero-copy import, typically) to {@code target}. */
  static NDArray upload(NDArray host, Device target) {
    if (!host.device().equals(Device.CPU)) {
      throw new IllegalArgumentException(
          "upload copies from host memory, but the array is on " + host.device());
    }
    if (!host.isContiguous()) {
      throw new IllegalArgumentException(
          "upload copies one contiguous range (every zero-copy import is one); call contiguous()"
              + " first for a "
              + Shape.toString(host.shape())
              + " view with strides "
              + Arrays.toString(host.layout().strides()));
    }
    long offset = host.layout().offset() * host.dtype().byteSize();
    return copy(host.storage().address() + offset, host.dtype(), host.shape(), target);
  }

  /** Copies a checked column's values (any alignment: this is a byte copy). */
  static NDArray upload(VectorImport.Plan p, Device target) {
    Column c = p.column();
    long address = c.data().memoryAddress() + p.first() * c.dtype.byteSize();
    return copy(address, c.dtype, p.shape(), target);
  }

  /** Copies {@code shape} elements of {@code dtype} at {@code byteOffset} of {@code buffer}. */
  static NDArray upload(ArrowBuf buffer, long byteOffset, DType dtype, int[] shape, Device target) {
    int[] s = Shape.checked(shape);
    long bytes = Shape.numel(s) * dtype.byteSize();
    if (byteOffset < 0 || byteOffset + bytes > buffer.capacity()) {
      throw new IndexOutOfBoundsException(
          "upload of "
              + dtype
              + Shape.toString(s)
              + " ("
              + bytes
              + " bytes) at offset "
              + byteOffset
              + " reaches past the "
              + buffer.capacity()
              + "-byte buffer");
    }
    return copy(buffer.memoryAddress() + byteOffset, dtype, s, target);
  }

  private static NDArray copy(long hostAddress, DType dtype, int[] shape, Device target) {
    Backend backend = Backends.of(target);
    long bytes = Shape.numel(shape) * dtype.byteSize();
    Storage dst = backend.allocate(bytes);
    try {
      if (bytes > 0) {
        backend.copyFromHost(hostAddress, dst, 0, bytes);
      }
      return NDArray.wrap(dst, dtype, Layout.contiguous(shape));
    } catch (RuntimeException e) {
      dst.release();
      throw e;
    }
  }
}
