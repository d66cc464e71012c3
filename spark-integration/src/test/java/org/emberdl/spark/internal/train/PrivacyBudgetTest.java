package org.emberdl.spark.internal.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.emberdl.spark.internal.io.Checkpoints;
import org.emberdl.spark.internal.plan.DpPlan;
import org.junit.jupiter.api.Test;

/**
 * The privacy budget on a plan whose epsilon is known in closed form: sampling rate q = 1 makes
 * each step the plain Gaussian mechanism, whose RDP at order a is a / (2 sigma^2) per step (Mironov
 * 2017). With sigma = 2 and delta = 1e-5, T steps spend epsilon = min over the default orders of T
 * a / 8 + log(1 - 1/a) - (log delta + log a) / (a - 1) (Balle et al. 2020), worked out in double
 * precision outside Ember: T = 1: 2.165715659029443 (a = 9.6; by hand 1.2 - 0.110001 + 1.075717), T
 * = 2: 3.1889915626335874 (a = 7.2), T = 3: 4.011321708510026 (a = 6.1).
 */
class PrivacyBudgetTest {
  private static final double EPS1 = 2.165715659029443;
  private static final double EPS2 = 3.1889915626335874;
  private static final double EPS3 = 4.011321708510026;

  /** DP-SGD at q = 1 (one step per epoch), sigma = 2, delta = 1e-5. */
  private static DpPlan plan(double targetEpsilon) {
    return new DpPlan(false, false, false, 1.0, 1, 1.0, 2.0, 1e-5, targetEpsilon, 10, null);
  }

  @Test
  void spendsTheClosedFormEpsilonEpochByEpochAndStopsWhenTheNextWouldExceedTheTarget() {
    PrivacyBudget b = new PrivacyBudget(plan(EPS2), 1);
    assertTrue(b.affordable(true));
    assertEquals(EPS1, b.spendEpoch(), 1e-12);
    assertTrue(b.affordable(false), "2 steps spend exactly the target");
    assertEquals(EPS2, b.spendEpoch(), 1e-12);
    assertFalse(b.affordable(false), "a third step would spend 4.01 > 3.19");
    assertEquals(List.of(new Checkpoints.PrivacySteps(1.0, 2.0, 2)), b.ledger());
  }

  @Test
  void theBoundaryHasARelativeToleranceOfOneInAMillionMillion() {
    // the next epoch's epsilon is EPS1: affordable up to targetEpsilon (1 + 1e-9) >= EPS1
    assertTrue(new PrivacyBudget(plan(EPS1 / (1 + 0.5e-9)), 1).affordable(true));
    PrivacyBudget over = new PrivacyBudget(plan(EPS2 / (1 + 2e-9)), 1);
    over.spendEpoch();
    assertFalse(over.affordable(false), "2e-9 over the target");
  }

  @Test
  void aFirstEpochOverTheTargetRefusesToStartNamingTheParamsToChange() {
    String message =
        assertThrows(
                IllegalArgumentException.class,
                () -> new PrivacyBudget(plan(2.0), 1).affordable(true))
            .getMessage();
    assertEquals(
        "DP-SGD refuses to start: one epoch (1 steps at q=1.0000, noise multiplier 2.000) spends"
            + " epsilon 2.166 at delta 1.00e-05, over targetEpsilon 2.000; raise noiseMultiplier"
            + " or lower samplingRate",
        message);
  }

  @Test
  void withoutATargetOrWithoutPrivacyEveryEpochIsAffordable() {
    PrivacyBudget untargeted = new PrivacyBudget(plan(0), 1);
    for (int i = 0; i < 5; i++) {
      assertTrue(untargeted.affordable(i == 0));
      untargeted.spendEpoch();
    }
    PrivacyBudget none = new PrivacyBudget(null, 4);
    assertTrue(none.affordable(true));
    assertTrue(Double.isNaN(none.spendEpoch()));
    assertEquals(List.of(), none.ledger());
  }

  @Test
  void restoresTheLedgerOfTheCheckpointAndRefusesOneThatDoesNotMatchItsEpochs() {
    PrivacyBudget b = new PrivacyBudget(plan(0), 1);
    b.restore(List.of(new Checkpoints.PrivacySteps(1.0, 2.0, 2)), 2, "ckpt/epoch-000002");
    assertEquals(EPS3, b.spendEpoch(), 1e-12, "the third step on top of the restored two");

    String message =
        assertThrows(
                IllegalStateException.class,
                () ->
                    new PrivacyBudget(plan(0), 1)
                        .restore(
                            List.of(new Checkpoints.PrivacySteps(1.0, 2.0, 3)),
                            2,
                            "ckpt/epoch-000002"))
            .getMessage();
    assertEquals(
        "the checkpoint ckpt/epoch-000002 records 3 private steps for 2 epochs of 1 steps, not 2;"
            + " it cannot be resumed with an honest privacy account",
        message);
    assertEquals(
        "the checkpoint c records 4 private steps for 1 epochs of non-private training, not 0;"
            + " it cannot be resumed with an honest privacy account",
        assertThrows(
                IllegalStateException.class,
                () ->
                    new PrivacyBudget(null, 4)
                        .restore(List.of(new Checkpoints.PrivacySteps(0.5, 1, 4)), 1, "c"))
            .getMessage());
  }
}
