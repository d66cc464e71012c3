package org.emberdl.spark.internal.plan;

import java.util.Arrays;
import java.util.Locale;

/**
 * An option Param's value as an enum constant: the enum spells each value once, its {@link #names}
 * feed the Param's {@code inArray} validator, and {@link #parse} turns the Param's string back into
 * the constant, so that code switches over constants (exhaustively, with no {@code default})
 * instead of comparing strings.
 */
interface ParamValue {
  /**
   * How the Param spells this value: the constant's name in lower case with '-' for '_' (DP_SGD is
   * "dp-sgd"), Spark ML's style for option values.
   */
  default String paramValue() {
    return ((Enum<?>) this).name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  /** Every value's spelling, in declaration order, for {@code ParamValidators.inArray}. */
  static String[] names(ParamValue[] values) {
    return Arrays.stream(values).map(ParamValue::paramValue).toArray(String[]::new);
  }

  /**
   * The constant {@code param} spells {@code value}.
   *
   * @throws IllegalArgumentException naming the Param, the value and the accepted values, for a
   *     value the Param's validator would have refused
   */
  static <E extends Enum<E> & ParamValue> E parse(E[] values, String param, String value) {
    for (E e : values) {
      if (e.paramValue().equals(value)) {
        return e;
      }
    }
    throw new IllegalArgumentException(
        param + "='" + value + "' is not one of " + String.join(", ", names(values)));
  }
}
