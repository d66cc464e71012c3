package org.emberdl.onnx;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.emberdl.tensor.NDArray;

/**
 * A node's attributes, decoded: {@code Long} (INT), {@code Float} (FLOAT), {@code String} (STRING),
 * {@code long[]} (INTS), {@code float[]} (FLOATS) and {@link NDArray} (TENSOR). Typed getters throw
 * {@link OnnxFormatException} naming the node and the attribute when one is missing or of another
 * type.
 */
final class Attributes {
  private final String owner;
  private final Map<String, Object> values;

  Attributes(String owner, Map<String, Object> values) {
    this.owner = owner;
    this.values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
  }

  Set<String> names() {
    return values.keySet();
  }

  boolean has(String name) {
    return values.containsKey(name);
  }

  long getInt(String name, long def) throws OnnxFormatException {
    Object v = values.get(name);
    if (v == null) {
      return def;
    }
    if (v instanceof Long l) {
      return l;
    }
    throw wrongType(name, "an int", v);
  }

  long getInt(String name) throws OnnxFormatException {
    require(name);
    return getInt(name, 0);
  }

  float getFloat(String name, float def) throws OnnxFormatException {
    Object v = values.get(name);
    if (v == null) {
      return def;
    }
    if (v instanceof Float f) {
      return f;
    }
    throw wrongType(name, "a float", v);
  }

  String getString(String name, String def) throws OnnxFormatException {
    Object v = values.get(name);
    if (v == null) {
      return def;
    }
    if (v instanceof String s) {
      return s;
    }
    throw wrongType(name, "a string", v);
  }

  /** INTS, or null when absent. */
  long[] getInts(String name) throws OnnxFormatException {
    Object v = values.get(name);
    if (v == null) {
      return null;
    }
    if (v instanceof long[] a) {
      return a.clone();
    }
    throw wrongType(name, "ints", v);
  }

  /** FLOATS, or null when absent. */
  float[] getFloats(String name) throws OnnxFormatException {
    Object v = values.get(name);
    if (v == null) {
      return null;
    }
    if (v instanceof float[] a) {
      return a.clone();
    }
    throw wrongType(name, "floats", v);
  }

  /** A TENSOR attribute (shared with this object), or null when absent. */
  NDArray getTensor(String name) throws OnnxFormatException {
    Object v = values.get(name);
    if (v == null) {
      return null;
    }
    if (v instanceof NDArray a) {
      return a;
    }
    throw wrongType(name, "a tensor", v);
  }

  private void require(String name) throws OnnxFormatException {
    if (!values.containsKey(name)) {
      throw new OnnxFormatException(owner + ": missing required attribute '" + name + "'");
    }
  }

  private OnnxFormatException wrongType(String name, String expected, Object got) {
    return new OnnxFormatException(
        owner + ": attribute '" + name + "' must be " + expected + ", got " + describe(got));
  }

  private static String describe(Object v) {
    if (v instanceof Long) {
      return "an int (" + v + ")";
    }
    if (v instanceof Float) {
      return "a float (" + v + ")";
    }
    if (v instanceof String) {
      return "a string";
    }
    if (v instanceof long[] a) {
      return "ints " + Arrays.toString(a);
    }
    if (v instanceof float[] a) {
      return "floats " + Arrays.toString(a);
    }
    if (v instanceof NDArray) {
      return "a tensor";
    }
    return String.valueOf(v);
  }

  void close() {
    for (Object v : values.values()) {
      if (v instanceof NDArray a) {
        a.close();
      }
    }
  }
}
