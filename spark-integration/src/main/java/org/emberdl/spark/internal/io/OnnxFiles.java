package org.emberdl.spark.internal.io;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;
import org.emberdl.onnx.Onnx;

/**
 * Reads an ONNX model file whole, from any Hadoop file system (a plain path is local), refusing one
 * larger than a protobuf message can be before allocating anything for it.
 */
public final class OnnxFiles {
  private OnnxFiles() {}

  /**
   * The bytes of the ONNX model at {@code path}, with the active Spark session's Hadoop
   * configuration (a default one without a session).
   *
   * @param what names the file in errors, e.g. {@code "initialModel"}
   * @throws IllegalArgumentException when the file does not exist, is a directory or is larger than
   *     {@link Onnx#MAX_MODEL_BYTES}, naming {@code what} and the path
   */
  public static byte[] read(String path, String what) {
    Configuration conf =
        SparkSession.getActiveSession().isDefined()
            ? SparkSession.getActiveSession().get().sparkContext().hadoopConfiguration()
            : new Configuration();
    return read(conf, new Path(path), what);
  }

  /** {@link #read(String, String)} with {@code conf}. */
  public static byte[] read(Configuration conf, Path file, String what) {
    try {
      FileSystem fs = file.getFileSystem(conf);
      long size;
      try {
        var status = fs.getFileStatus(file);
        if (status.isDirectory()) {
          throw new IllegalArgumentException(
              what + " " + file + " is a directory, not an ONNX model file");
        }
        size = status.getLen();
      } catch (FileNotFoundException e) {
        throw new IllegalArgumentException(what + " " + file + " does not exist", e);
      }
      if (size > Onnx.MAX_MODEL_BYTES) {
        throw new IllegalArgumentException(
            what
                + " "
                + file
                + " has "
                + size
                + " bytes, more than an ONNX file without external data can hold ("
                + Onnx.MAX_MODEL_BYTES
                + ")");
      }
      try (InputStream in = fs.open(file)) {
        byte[] bytes = in.readNBytes((int) size);
        if (bytes.length != size || in.read() >= 0) {
          throw new IOException(file + " changed while being read");
        }
        return bytes;
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + what + " " + file, e);
    }
  }
}
