package org.emberdl.examples;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A small parser for {@code --name value} (or {@code --name=value}) options against a fixed list of
 * {@link Opt}s, which also renders them as usage text. Every mistake (an unknown option, a missing
 * value, a stray argument, an option given twice, a value that does not parse) is a {@link
 * UsageException}.
 */
final class CliOptions {
  /** One option: {@code --name VALUE}, described in the usage text. */
  record Opt(String name, String value, String help) {}

  /** A command-line mistake; the message says what is wrong, without the usage text. */
  static final class UsageException extends Exception {
    private static final long serialVersionUID = 1L;

    UsageException(String message) {
      super(message);
    }
  }

  private final Map<String, String> values;

  private CliOptions(Map<String, String> values) {
    this.values = values;
  }

  /** True when {@code args} asks for help ({@code --help} or {@code -h} anywhere). */
  static boolean wantsHelp(List<String> args) {
    return args.contains("--help") || args.contains("-h");
  }

  /** Parses {@code args} against {@code opts}. */
  static CliOptions parse(List<String> args, List<Opt> opts) throws UsageException {
    Map<String, String> values = new LinkedHashMap<>();
    for (int i = 0; i < args.size(); i++) {
      String arg = args.get(i);
      if (!arg.startsWith("--") || arg.length() == 2) {
        throw new UsageException("unexpected argument '" + arg + "' (options are --name value)");
      }
      String name = arg.substring(2);
      String value = null;
      int eq = name.indexOf('=');
      if (eq >= 0) {
        value = name.substring(eq + 1);
        name = name.substring(0, eq);
      }
      String key = name;
      if (opts.stream().noneMatch(o -> o.name().equals(key))) {
        throw new UsageException("unknown option --" + name);
      }
      if (value == null) {
        if (i + 1 >= args.size() || args.get(i + 1).startsWith("--")) {
          throw new UsageException("option --" + name + " needs a value");
        }
        value = args.get(++i);
      }
      if (values.put(name, value) != null) {
        throw new UsageException("option --" + name + " is given twice");
      }
    }
    return new CliOptions(values);
  }

  boolean has(String name) {
    return values.containsKey(name);
  }

  /** The value of a required option. */
  String required(String name) throws UsageException {
    String v = values.get(name);
    if (v == null) {
      throw new UsageException("option --" + name + " is required");
    }
    return v;
  }

  /** The value, or {@code dflt} (may be null) when absent. */
  String string(String name, String dflt) {
    return values.getOrDefault(name, dflt);
  }

  /** An int of at least {@code min}. */
  int integer(String name, int dflt, int min) throws UsageException {
    String v = values.get(name);
    if (v == null) {
      return dflt;
    }
    int n;
    try {
      n = Integer.parseInt(v.trim());
    } catch (NumberFormatException e) {
      throw new UsageException("option --" + name + " needs an integer, got '" + v + "'");
    }
    if (n < min) {
      throw new UsageException("option --" + name + " must be at least " + min + ", got " + n);
    }
    return n;
  }

  long longValue(String name, long dflt) throws UsageException {
    String v = values.get(name);
    if (v == null) {
      return dflt;
    }
    try {
      return Long.parseLong(v.trim());
    } catch (NumberFormatException e) {
      throw new UsageException("option --" + name + " needs an integer, got '" + v + "'");
    }
  }

  /** A finite number greater than 0. */
  double positive(String name, double dflt) throws UsageException {
    String v = values.get(name);
    if (v == null) {
      return dflt;
    }
    double d;
    try {
      d = Double.parseDouble(v.trim());
    } catch (NumberFormatException e) {
      throw new UsageException("option --" + name + " needs a number, got '" + v + "'");
    }
    if (!(d > 0) || Double.isInfinite(d)) {
      throw new UsageException("option --" + name + " must be a number > 0, got " + v);
    }
    return d;
  }

  /** A finite number >= 0 (the option must be present). */
  double nonNegative(String name) throws UsageException {
    double d = number(name);
    if (!(d >= 0) || Double.isInfinite(d)) {
      throw new UsageException("option --" + name + " must be a number >= 0, got " + d);
    }
    return d;
  }

  /** A number in (0, 1] (the option must be present). */
  double fraction(String name) throws UsageException {
    double d = number(name);
    if (!(d > 0 && d <= 1)) {
      throw new UsageException("option --" + name + " must be a number in (0, 1], got " + d);
    }
    return d;
  }

  private double number(String name) throws UsageException {
    String v = required(name);
    try {
      return Double.parseDouble(v.trim());
    } catch (NumberFormatException e) {
      throw new UsageException("option --" + name + " needs a number, got '" + v + "'");
    }
  }

  /** A comma-separated list of positive ints, e.g. {@code 784,256,10}; null when absent. */
  int[] intList(String name, int minLength) throws UsageException {
    String v = values.get(name);
    if (v == null) {
      return null;
    }
    String[] parts = v.split(",", -1);
    int[] out = new int[parts.length];
    for (int i = 0; i < parts.length; i++) {
      try {
        out[i] = Integer.parseInt(parts[i].trim());
      } catch (NumberFormatException e) {
        throw new UsageException(
            "option --" + name + " needs comma-separated integers, got '" + v + "'");
      }
      if (out[i] < 1) {
        throw new UsageException("option --" + name + " needs sizes >= 1, got '" + v + "'");
      }
    }
    if (out.length < minLength) {
      throw new UsageException(
          "option --" + name + " needs at least " + minLength + " sizes, got '" + v + "'");
    }
    return out;
  }

  /** The options as usage lines, one per option, aligned. */
  static String describe(List<Opt> opts) {
    StringBuilder sb = new StringBuilder();
    int width = 0;
    for (Opt o : opts) {
      width = Math.max(width, label(o).length());
    }
    for (Opt o : opts) {
      sb.append(String.format(Locale.ROOT, "  %-" + width + "s  %s%n", label(o), o.help()));
    }
    return sb.toString();
  }

  private static String label(Opt o) {
    return "--" + o.name() + (o.value().isEmpty() ? "" : " " + o.value());
  }
}
