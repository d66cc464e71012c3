package org.emberdl.onnx;

import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Module paths for initializer names: {@code block1.conv1.weight} -> {@code [block1, conv1,
 * weight]}, so that the dotted state-dict key is the initializer's name. A name that cannot be such
 * a path (an empty segment, or a prefix that is itself a weight's name, as {@code a.b} beside
 * {@code a}) becomes one top-level name with {@code _} for its dots, made unique with a suffix.
 */
final class ParameterPaths {
  private ParameterPaths() {}

  static Map<String, String[]> assign(List<String> names) {
    Set<String> all = new HashSet<>(names);
    Set<String> prefixes = new HashSet<>();
    for (String n : names) {
      int at = n.indexOf('.');
      while (at >= 0) {
        prefixes.add(n.substring(0, at));
        at = n.indexOf('.', at + 1);
      }
    }
    Map<String, String[]> out = new LinkedHashMap<>();
    Set<String> topLevel = new HashSet<>();
    for (String n : names) {
      String[] segments = n.split("\\.", -1);
      if (isPath(n, segments, all, prefixes)) {
        out.put(n, segments);
        topLevel.add(segments[0]);
      }
    }
    for (String n : names) {
      if (out.containsKey(n)) {
        continue;
      }
      String flat = n.replace('.', '_');
      if (flat.isEmpty()) {
        flat = "_";
      }
      String unique = flat;
      for (int k = 1; topLevel.contains(unique) || all.contains(unique) && !unique.equals(n); k++) {
        unique = flat + "_" + k;
      }
      topLevel.add(unique);
      out.put(n, new String[] {unique});
    }
    return out;
  }

  private static boolean isPath(
      String n, String[] segments, Set<String> all, Set<String> prefixes) {
    for (String s : segments) {
      if (s.isEmpty()) {
        return false;
      }
    }
    if (prefixes.contains(n)) {
      return false; // "a" beside "a.b": a cannot be both a weight and a container
    }
    StringBuilder prefix = new StringBuilder();
    for (int i = 0; i < segments.length - 1; i++) {
      prefix.append(i > 0 ? "." : "").append(segments[i]);
      if (all.contains(prefix.toString())) {
        return false;
      }
    }
    return true;
  }
}
