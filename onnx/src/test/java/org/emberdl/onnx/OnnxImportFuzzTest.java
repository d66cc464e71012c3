package org.emberdl.onnx;

import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.util.Random;
import org.emberdl.autograd.NoGrad;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.io.Safetensors;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Damaged files (bytes flipped, cut, duplicated) either load or fail with {@link
 * OnnxFormatException}; a damaged model that loads either runs or fails with a named {@link
 * OnnxExecutionException} or {@link IllegalArgumentException}. Nothing else escapes (no
 * NullPointerException, IndexOutOfBounds, OutOfMemoryError).
 */
class OnnxImportFuzzTest {

  @ParameterizedTest
  @ValueSource(strings = {"mlp", "resnet", "encoder_opset17"})
  void damagedFilesFailCleanly(String name) throws Exception {
    byte[] good = Files.readAllBytes(OnnxFixtureTest.fixture(name + ".onnx"));
    Random rnd = new Random(name.hashCode());
    int loaded = 0;
    try (Safetensors.SafetensorsFile ref =
        Safetensors.read(OnnxFixtureTest.fixture(name + ".safetensors"))) {
      NDArray input = ref.tensors().get("input");
      for (int trial = 0; trial < 400; trial++) {
        byte[] bad = damage(good, rnd);
        OnnxModule m;
        try {
          m = Onnx.load(bad);
        } catch (OnnxFormatException e) {
          continue;
        } catch (RuntimeException | Error e) {
          throw new AssertionError("trial " + trial + ": load threw " + e, e);
        }
        loaded++;
        try (m;
            NoGrad ng = NoGrad.enter();
            MemoryScope s = MemoryScope.open()) {
          m.forward(Tensor.of(input.share()));
        } catch (OnnxExecutionException | IllegalArgumentException | IllegalStateException e) {
          // named failures are fine
        } catch (RuntimeException | Error e) {
          fail("trial " + trial + ": forward threw " + e, e);
        }
      }
    }
    org.slf4j.LoggerFactory.getLogger(OnnxImportFuzzTest.class)
        .info("{}: {} of 400 damaged files still loaded", name, loaded);
  }

  private static byte[] damage(byte[] good, Random rnd) {
    byte[] b = good.clone();
    switch (rnd.nextInt(3)) {
      case 0 -> {
        for (int i = 1 + rnd.nextInt(4); i > 0; i--) {
          b[rnd.nextInt(b.length)] = (byte) rnd.nextInt(256);
        }
        return b;
      }
      case 1 -> {
        return java.util.Arrays.copyOf(b, rnd.nextInt(b.length));
      }
      default -> {
        int from = rnd.nextInt(b.length);
        int len = rnd.nextInt(Math.min(64, b.length - from));
        byte[] out = new byte[b.length + len];
        System.arraycopy(b, 0, out, 0, from + len);
        System.arraycopy(b, from, out, from + len, b.length - from);
        return out;
      }
    }
  }
}
