package org.emberdl.tensor.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.ops.BinaryOp;
import org.emberdl.tensor.ops.ReduceOp;
import org.emberdl.tensor.ops.UnaryOp;
import org.junit.jupiter.api.Test;

/**
 * The kernels take ops and dtypes as the Java enums' ordinals: each C enum must list the Java
 * enum's constants in its order (a new Java constant without its kernel arm fails here).
 */
class KernelSourcesTest {
  private static List<String> cEnum(String file, String name) throws IOException {
    String src = Files.readString(KernelCompilerTest.KERNELS.resolve(file));
    Matcher m = Pattern.compile("enum " + name + "\\s*\\{([^}]*)\\}").matcher(src);
    assertTrue(m.find(), "enum " + name + " in " + file);
    return Arrays.stream(m.group(1).split(","))
        .map(s -> s.replaceAll("=.*", "").trim())
        .filter(s -> !s.isEmpty())
        .toList();
  }

  private static List<String> javaEnum(Enum<?>[] values, String prefix) {
    return Arrays.stream(values).map(v -> prefix + v.name()).toList();
  }

  @Test
  void unaryBinaryAndReduceOpsAreTheJavaEnumsInOrder() throws IOException {
    assertEquals(javaEnum(UnaryOp.values(), "U_"), cEnum("elementwise.cu", "EmberUnaryOp"));
    assertEquals(javaEnum(BinaryOp.values(), "B_"), cEnum("elementwise.cu", "EmberBinaryOp"));
    assertEquals(javaEnum(ReduceOp.values(), "R_"), cEnum("reduce.cu", "EmberReduceOp"));
  }

  @Test
  void dtypeCodesAreTheOrdinals() throws IOException {
    List<String> c = cEnum("ember_common.cuh", "EmberDType");
    assertEquals(List.of("DT_BOOL", "DT_INT32", "DT_INT64", "DT_FLOAT32", "DT_FLOAT64"), c);
    assertEquals(
        List.of(DType.BOOL, DType.INT32, DType.INT64, DType.FLOAT32, DType.FLOAT64),
        List.of(DType.values()));
  }
}
