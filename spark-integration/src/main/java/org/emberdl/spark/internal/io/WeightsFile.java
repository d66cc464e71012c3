package org.emberdl.spark.internal.io;

import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.emberdl.nn.Module;
import org.emberdl.spark.internal.local.ExecutorEngine;
import org.emberdl.spark.internal.local.NetworkDefinition;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.io.Safetensors;
import org.emberdl.tensor.io.SafetensorsFormatException;

/**
 * Reads a saved model's weights file only once its header has been found to fit the model's network
 * and what a replica of the model needs has been found to fit the memory budget: a file (or
 * metadata) that describes a huge network costs nothing before it is refused.
 */
final class WeightsFile {
  /** A model's weights live in one byte array: at most this many bytes. */
  private static final long MAX_ARRAY_BYTES = Integer.MAX_VALUE - 8;

  private WeightsFile() {}

  /**
   * The weights file's bytes, once its header has been found to fit {@code network} and what a
   * replica of the model needs to fit {@code budget}; nothing is allocated before both checks pass.
   */
  static byte[] read(Configuration conf, Path file, NetworkDefinition network, long budget)
      throws IOException {
    FileSystem fs = file.getFileSystem(conf);
    long size = fs.getFileStatus(file).getLen();
    List<Safetensors.TensorInfo> header;
    try (InputStream in = fs.open(file)) {
      header = Safetensors.readHeader(in, size, file.toString());
    } catch (SafetensorsFormatException e) {
      throw notSafetensors(file, e);
    }
    long fileBytes = totalBytes(header);
    long networkBytes = fileBytes;
    if (!network.fromFactory()) {
      List<Safetensors.TensorInfo> expected = network.stateDictShapes();
      checkFits(expected, header, file, network);
      networkBytes = totalBytes(expected);
    }
    // A replica holds the network and, while they are copied in, the file's tensors.
    long need = networkBytes + fileBytes;
    if (need > budget) {
      throw new IllegalArgumentException(
          String.format(
              "the model in %s needs %d bytes of off-heap memory per replica (network %s: %d"
                  + " bytes; weights file: %d bytes), over the limit of %d bytes; raise %s (or"
                  + " spark.executor.memoryOverhead) if the model is trusted",
              file.getParent().getParent(),
              need,
              network,
              networkBytes,
              fileBytes,
              budget,
              ExecutorEngine.MEMORY_LIMIT_CONF));
    }
    if (size > MAX_ARRAY_BYTES) {
      throw new IllegalArgumentException(
          "the weights file "
              + file
              + " is "
              + size
              + " bytes; an Ember model holds its weights in one Java array, at most "
              + MAX_ARRAY_BYTES
              + " bytes");
    }
    if (network.fromFactory()) {
      // Only a trusted factory gets here; its network is as large as the file's tensors.
      try (Module m = network.build(new Generator(0))) {
        Map<String, NDArray> state = m.stateDict();
        try {
          checkFits(infos(state), header, file, network);
        } finally {
          state.values().forEach(NDArray::close);
        }
      }
    }
    byte[] bytes;
    try (InputStream in = fs.open(file)) {
      bytes = in.readNBytes((int) size);
      if (bytes.length != size || in.read() >= 0) {
        throw new IOException(file + " changed while being read");
      }
    }
    try {
      if (!Safetensors.readHeader(bytes).equals(header)) {
        throw new IOException(file + " changed while being read");
      }
    } catch (SafetensorsFormatException e) {
      throw notSafetensors(file, e);
    }
    return bytes;
  }

  /** The network's state as the loader compares it with a file's header. */
  private static List<Safetensors.TensorInfo> infos(Map<String, NDArray> state) {
    return state.entrySet().stream()
        .map(
            e ->
                new Safetensors.TensorInfo(
                    e.getKey(),
                    e.getValue().dtype(),
                    e.getValue().shape(),
                    e.getValue().numel() * e.getValue().dtype().byteSize()))
        .toList();
  }

  /**
   * The file's tensors must be the network's state exactly: the same keys and shapes (dtypes are
   * converted on load, as {@code Module.loadStateDict} does).
   */
  private static void checkFits(
      List<Safetensors.TensorInfo> expected,
      List<Safetensors.TensorInfo> header,
      Path file,
      NetworkDefinition network) {
    Map<String, Safetensors.TensorInfo> inFile = new LinkedHashMap<>();
    header.forEach(t -> inFile.put(t.name(), t));
    Map<String, Safetensors.TensorInfo> wanted = new LinkedHashMap<>();
    expected.forEach(t -> wanted.put(t.name(), t));
    TreeSet<String> missing = new TreeSet<>(wanted.keySet());
    missing.removeAll(inFile.keySet());
    TreeSet<String> unexpected = new TreeSet<>(inFile.keySet());
    unexpected.removeAll(wanted.keySet());
    String prefix = "the weights in " + file + " do not fit the network " + network + ": ";
    if (!missing.isEmpty() || !unexpected.isEmpty()) {
      throw new IllegalArgumentException(
          prefix + "missing keys " + missing + ", unexpected keys " + unexpected);
    }
    for (Safetensors.TensorInfo want : expected) {
      Safetensors.TensorInfo got = inFile.get(want.name());
      if (!Arrays.equals(want.shape(), got.shape())) {
        throw new IllegalArgumentException(
            prefix
                + "tensor '"
                + want.name()
                + "' has shape "
                + Arrays.toString(got.shape())
                + " in the file, the network expects "
                + Arrays.toString(want.shape()));
      }
    }
  }

  private static long totalBytes(List<Safetensors.TensorInfo> tensors) {
    long total = 0;
    for (Safetensors.TensorInfo t : tensors) {
      total = Math.addExact(total, t.bytes());
    }
    return total;
  }

  private static IllegalArgumentException notSafetensors(Path file, SafetensorsFormatException e) {
    return new IllegalArgumentException(
        "the weights in " + file + " are not valid safetensors: " + e.getMessage(), e);
  }
}
