package org.emberdl.tensor.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.emberdl.tensor.random.Philox;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The device kernels' Philox ({@code ember_philox.cuh}) gives the Java generator's bits: the header
 * is compiled as host C++ with g++ (no GPU needed; skipped without g++), contraction off as the
 * kernels' {@code --fmad=false}, and every conversion compared bit for bit with {@link Philox}.
 */
class PhiloxDeviceTest {
  private static final Path KERNELS = Path.of("src/main/java/org/emberdl/tensor/cuda");
  @TempDir static Path dir;
  private static Path exe;

  @BeforeAll
  static void build() throws Exception {
    Path src = dir.resolve("philox_host.cpp");
    try (InputStream in =
        PhiloxDeviceTest.class.getResourceAsStream("/cuda-host/philox_host.cpp")) {
      Files.copy(in, src);
    }
    exe = dir.resolve("philox_host");
    Process p;
    try {
      p =
          new ProcessBuilder(
                  "g++",
                  "-O2",
                  "-ffp-contract=off",
                  "-I",
                  KERNELS.toString(),
                  "-o",
                  exe.toString(),
                  src.toString())
              .redirectErrorStream(true)
              .start();
    } catch (IOException e) {
      assumeTrue(false, "no g++ to compile the device Philox for the host: " + e.getMessage());
      return;
    }
    String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.waitFor(), log);
  }

  private static List<String> run(long seed, long stream, long offset, int n) throws Exception {
    Process p =
        new ProcessBuilder(
                exe.toString(),
                Long.toUnsignedString(seed),
                Long.toUnsignedString(stream),
                Long.toString(offset),
                Integer.toString(n))
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.waitFor(), out);
    return out.lines().toList();
  }

  private static void compare(long seed, long stream, long offset, int n) throws Exception {
    Philox g = new Philox(seed, stream);
    float[] uf = new float[n];
    double[] ud = new double[n];
    float[] nf = new float[n];
    double[] nd = new double[n];
    long[] in = new long[n];
    float[] b = new float[n];
    g.uniform(offset, uf, 0, n, -1f, 2f);
    g.uniform(offset, ud, 0, n, -1.0, 2.0);
    g.normal(offset, nf, 0, n, 0.5f, 2f);
    g.normal(offset, nd, 0, n, 0.5, 2.0);
    // [-2^62, 2^62 + 1): s = 2^63 + 1, so 2^64 mod s = 2^63 - 1 and about half the draws redraw
    g.integers(offset, in, 0, n, -(1L << 62), (1L << 62) + 1);
    g.bernoulli(offset, b, 0, n, 0.3);
    List<String> lines = run(seed, stream, offset, n);
    assertEquals(n, lines.size());
    for (int i = 0; i < n; i++) {
      String[] f = lines.get(i).split(" ");
      String at = "value " + (offset + i) + " of (" + seed + ", " + stream + ")";
      assertEquals(Float.floatToRawIntBits(uf[i]), (int) Long.parseLong(f[0]), "uniform f32 " + at);
      assertEquals(
          Double.doubleToRawLongBits(ud[i]), Long.parseUnsignedLong(f[1]), "uniform f64 " + at);
      assertEquals(Float.floatToRawIntBits(nf[i]), (int) Long.parseLong(f[2]), "normal f32 " + at);
      assertEquals(
          Double.doubleToRawLongBits(nd[i]), Long.parseUnsignedLong(f[3]), "normal f64 " + at);
      assertEquals(in[i], Long.parseLong(f[4]), "integers " + at);
      assertEquals((int) b[i], Integer.parseInt(f[5]), "bernoulli " + at);
    }
  }

  @Test
  void everyConversionMatchesTheJavaGeneratorBitForBit() throws Exception {
    compare(42, 7, 0, 4096);
  }

  @Test
  void oddOffsetsHighSeedsAndStreamsMatchToo() throws Exception {
    // odd offsets cut normal pairs in half; seeds and streams with the top bit set test the key
    // and counter words' unsigned handling
    compare(-3L, Long.MIN_VALUE + 5, 1_000_001, 777);
    compare(0x9E3779B97F4A7C15L, 0, (1L << 40) + 3, 333);
  }

  @Test
  void theIntegerDrawsDidRedraw() throws Exception {
    // the test above is only meaningful if redraws happened: count values whose first draw was
    // rejected, i.e. whose 64-bit draw x has x * s mod 2^64 < 2^63 - 1 (worked out here in Java)
    int[] words = new int[2 * 4096];
    new Philox(42, 7).nextInts(0, words, 0, words.length);
    long s = (1L << 63) + 1;
    long threshold = (1L << 63) - 1;
    int rejected = 0;
    for (int v = 0; v < 4096; v++) {
      long x = (words[2 * v] & 0xFFFFFFFFL) | ((long) words[2 * v + 1] << 32);
      if (Long.compareUnsigned(x * s, threshold) < 0) {
        rejected++;
      }
    }
    assertTrue(rejected > 1500 && rejected < 2600, "rejected " + rejected + " of 4096");
  }
}
