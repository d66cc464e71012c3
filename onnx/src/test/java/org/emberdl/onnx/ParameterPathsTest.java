package org.emberdl.onnx;

import static org.emberdl.onnx.TestModels.dims;
import static org.emberdl.onnx.TestModels.floats;
import static org.emberdl.onnx.TestModels.graph;
import static org.emberdl.onnx.TestModels.model;
import static org.emberdl.onnx.TestModels.names;
import static org.emberdl.onnx.TestModels.node;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;
import org.emberdl.onnx.proto.GraphProto;
import org.junit.jupiter.api.Test;

/** Initializer names become dotted parameter paths where they can, flat names where not. */
class ParameterPathsTest {

  @Test
  void dottedNamesNestAndTheRestFlatten() {
    Map<String, String[]> p =
        ParameterPaths.assign(
            List.of("fc1.weight", "fc1.bias", "a", "a.b", ".x", "c..d", "onnx::MatMul_7", "a_b"));
    assertArrayEquals(new String[] {"fc1", "weight"}, p.get("fc1.weight"));
    // "a" is a weight and a prefix of "a.b": no container "a" can hold both, so "a.b" flattens
    // (to "a_b_1", as "a_b" is taken)
    assertArrayEquals(new String[] {"a"}, p.get("a"));
    assertArrayEquals(new String[] {"a_b_1"}, p.get("a.b"));
    assertArrayEquals(new String[] {"_x"}, p.get(".x"));
    assertArrayEquals(new String[] {"c__d"}, p.get("c..d"));
    assertArrayEquals(new String[] {"onnx::MatMul_7"}, p.get("onnx::MatMul_7"));
    assertArrayEquals(new String[] {"a_b"}, p.get("a_b"));
  }

  @Test
  void theModuleReportsWhereEachInitializerWent() throws Exception {
    GraphProto.Builder g =
        graph(
                names("x"),
                names("y"),
                node("Mul", "m1", names("x", "a"), names("t")),
                node("Mul", "m2", names("t", "a.b"), names("y")))
            .addInitializer(floats("a", dims(1), 2))
            .addInitializer(floats("a.b", dims(1), 3));
    try (OnnxModule m = Onnx.load(model(g).toByteArray())) {
      assertEquals(List.of("a", "a_b"), List.copyOf(m.namedParameters().keySet()));
      assertEquals(Map.of("a", "a", "a.b", "a_b"), m.initializerKeys());
    }
  }
}
