package org.emberdl.federated;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** The server optimizer's state leaves and re-enters it exactly, so a checkpoint can hold it. */
class ServerOptimizerStateTest {
  @Test
  void momentumContinuesFromItsRestoredState() {
    // eta 1, beta 0.5. Step 1, d = [1, 2]: v = [1, 2]. Step 2, d = [1, 0]: v = 0.5 v + d = [1.5,
    // 1].
    ServerOptimizer a = ServerOptimizer.momentum(1, 0.5);
    assertArrayEquals(new float[] {1, 2}, a.step(new float[] {1, 2}));
    Map<String, float[]> saved = a.state();
    assertArrayEquals(new float[] {1, 2}, saved.get("momentum"));

    ServerOptimizer b = ServerOptimizer.momentum(1, 0.5);
    b.loadState(saved);
    assertArrayEquals(new float[] {1.5f, 1}, b.step(new float[] {1, 0}));
    assertArrayEquals(new float[] {1.5f, 1}, a.step(new float[] {1, 0}));
    // Without it, the restart at zero steps by d alone: what a resume did before.
    assertArrayEquals(
        new float[] {1, 0}, ServerOptimizer.momentum(1, 0.5).step(new float[] {1, 0}));
    // The exported state is a copy: stepping does not change it.
    assertArrayEquals(new float[] {1, 2}, saved.get("momentum"));
  }

  @Test
  void adamContinuesFromItsRestoredMoments() {
    // eta 1, beta1 0.5, beta2 0.75, tau 1. Step 1, d = 2: m = 1, v = 0.25 * 4 = 1, step 1/(1+1).
    // Step 2, d = 0: m = 0.5, v = 0.75, step 0.5 / (sqrt(0.75) + 1) = 0.26794919...
    ServerOptimizer a = ServerOptimizer.adam(1, 0.5, 0.75, 1);
    assertArrayEquals(new float[] {0.5f}, a.step(new float[] {2}));
    ServerOptimizer b = ServerOptimizer.adam(1, 0.5, 0.75, 1);
    b.loadState(a.state());
    assertEquals(0.5 / (Math.sqrt(0.75) + 1), b.step(new float[] {0})[0], 1e-7);
    assertEquals(Map.of(), ServerOptimizer.sgd(1).state());
    assertEquals(Map.of(), ServerOptimizer.adam(1, 0.5, 0.75, 1).state(), "before the first step");
  }

  @Test
  void aStateOfAnotherKindIsRefusedNamingWhatItHolds() {
    ServerOptimizer adam = ServerOptimizer.adam(1, 0.5, 0.75, 1);
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> adam.loadState(Map.of("momentum", new float[] {1})));
    assertEquals(
        "the adam server optimizer holds [m, v], not [momentum] (a state of another server"
            + " optimizer?)",
        e.getMessage());
    e =
        assertThrows(
            IllegalArgumentException.class, () -> adam.loadState(Map.of("m", new float[] {1})));
    assertTrue(e.getMessage().contains("needs [m, v], got [m]"), e.getMessage());
    e =
        assertThrows(
            IllegalArgumentException.class,
            () -> adam.loadState(Map.of("m", new float[] {1}, "v", new float[] {1, 2})));
    assertEquals("the adam server optimizer's state has m of 1 values and v of 2", e.getMessage());
    assertEquals(Map.of(), adam.state(), "unchanged by the refused loads");
  }
}
