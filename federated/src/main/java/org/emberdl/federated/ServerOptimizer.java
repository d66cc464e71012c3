package org.emberdl.federated;

import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * The server's step on a round's averaged client delta, after Reddi et al. 2021 ("Adaptive
 * Federated Optimization"), which treat the negative average delta {@code d} as a pseudo-gradient:
 *
 * <ul>
 *   <li>{@link #sgd(double)}: {@code w += eta * d} (eta = 1 is plain averaging);
 *   <li>{@link #momentum(double, double)}: FedAvgM (Hsu et al. 2019), {@code v = beta * v + d; w +=
 *       eta * v};
 *   <li>{@link #adam(double, double, double, double)}: FedAdam, {@code m = b1 m + (1 - b1) d; v =
 *       b2 v + (1 - b2) d^2; w += eta * m / (sqrt(v) + tau)} (no bias correction, as in Reddi et
 *       al.'s Algorithm 2).
 * </ul>
 *
 * <p>Under differential privacy the step only post-processes the already noised average, so it
 * costs no privacy. The state (momentum, moments) lives in this object on the driver; it is
 * serializable, and {@link #state()} / {@link #loadState(Map)} export and restore it by name so
 * that a checkpoint can hold it: a resumed fit must continue the momentum, not restart it at zero.
 * Not thread-safe.
 */
public final class ServerOptimizer implements Serializable {
  private static final long serialVersionUID = 1L;

  private enum Kind {
    SGD,
    MOMENTUM,
    ADAM
  }

  private final Kind kind;
  private final double eta;
  private final double beta1;
  private final double beta2;
  private final double tau;
  private float[] first;
  private float[] second;

  private ServerOptimizer(Kind kind, double eta, double beta1, double beta2, double tau) {
    if (!(eta > 0) || !Double.isFinite(eta)) {
      throw new IllegalArgumentException("server learning rate must be > 0, got " + eta);
    }
    if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
      throw new IllegalArgumentException(
          "server betas must be in [0, 1), got " + beta1 + " and " + beta2);
    }
    if (!(tau > 0) && kind == Kind.ADAM) {
      throw new IllegalArgumentException("FedAdam's tau must be > 0, got " + tau);
    }
    this.kind = kind;
    this.eta = eta;
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.tau = tau;
  }

  /** {@code w += eta * d}. */
  public static ServerOptimizer sgd(double eta) {
    return new ServerOptimizer(Kind.SGD, eta, 0, 0, 1);
  }

  /** Server momentum {@code beta} (FedAvgM). */
  public static ServerOptimizer momentum(double eta, double beta) {
    return new ServerOptimizer(Kind.MOMENTUM, eta, beta, 0, 1);
  }

  /** Server Adam (FedAdam; Reddi et al.'s defaults: beta1 0.9, beta2 0.99, tau 1e-3). */
  public static ServerOptimizer adam(double eta, double beta1, double beta2, double tau) {
    return new ServerOptimizer(Kind.ADAM, eta, beta1, beta2, tau);
  }

  /** The weights' change for the averaged delta {@code d} (not modified); updates the state. */
  public float[] step(float[] d) {
    float[] out = new float[d.length];
    switch (kind) {
      case SGD -> {
        for (int i = 0; i < d.length; i++) {
          out[i] = (float) (eta * d[i]);
        }
      }
      case MOMENTUM -> {
        float[] v = state(d.length, true);
        for (int i = 0; i < d.length; i++) {
          v[i] = (float) (beta1 * v[i] + d[i]);
          out[i] = (float) (eta * v[i]);
        }
      }
      case ADAM -> {
        float[] m = state(d.length, true);
        float[] v = state(d.length, false);
        for (int i = 0; i < d.length; i++) {
          m[i] = (float) (beta1 * m[i] + (1 - beta1) * d[i]);
          v[i] = (float) (beta2 * v[i] + (1 - beta2) * (double) d[i] * d[i]);
          out[i] = (float) (eta * m[i] / (Math.sqrt(v[i]) + tau));
        }
      }
      default -> throw new AssertionError(kind);
    }
    return out;
  }

  private float[] state(int n, boolean firstMoment) {
    float[] s = firstMoment ? first : second;
    if (s == null) {
      s = new float[n];
      if (firstMoment) {
        first = s;
      } else {
        second = s;
      }
    } else if (s.length != n) {
      throw new IllegalArgumentException(
          "update of " + n + " values for a server state of " + s.length);
    }
    return s;
  }

  /**
   * The state by name, as copies: {@code "momentum"} (FedAvgM's v), or {@code "m"} and {@code "v"}
   * (FedAdam's moments); empty for sgd, and before the first step (the state starts at zero).
   */
  public Map<String, float[]> state() {
    Map<String, float[]> out = new LinkedHashMap<>();
    List<String> names = stateNames();
    if (!names.isEmpty() && first != null) {
      out.put(names.get(0), first.clone());
    }
    if (names.size() > 1 && second != null) {
      out.put(names.get(1), second.clone());
    }
    return out;
  }

  /**
   * Restores a {@link #state()} of a server optimizer of the same kind: an empty map resets it to
   * the state before the first step. Nothing changes when the map is rejected.
   *
   * @throws IllegalArgumentException for a name this kind does not hold, a missing one, or arrays
   *     of different lengths (a state of another kind of server optimizer, or of another network)
   */
  public void loadState(Map<String, float[]> state) {
    List<String> names = stateNames();
    TreeSet<String> unexpected = new TreeSet<>(state.keySet());
    names.forEach(unexpected::remove);
    if (!unexpected.isEmpty()) {
      throw new IllegalArgumentException(
          "the "
              + kind()
              + " server optimizer holds "
              + (names.isEmpty() ? "no state" : names)
              + ", not "
              + unexpected
              + " (a state of another server optimizer?)");
    }
    if (state.isEmpty()) {
      first = null;
      second = null;
      return;
    }
    float[] a = state.get(names.get(0));
    float[] b = names.size() > 1 ? state.get(names.get(1)) : null;
    if (a == null || (names.size() > 1 && b == null)) {
      throw new IllegalArgumentException(
          "the " + kind() + " server optimizer's state needs " + names + ", got " + state.keySet());
    }
    if (b != null && b.length != a.length) {
      throw new IllegalArgumentException(
          "the "
              + kind()
              + " server optimizer's state has "
              + names.get(0)
              + " of "
              + a.length
              + " values and "
              + names.get(1)
              + " of "
              + b.length);
    }
    first = a.clone();
    second = b == null ? null : b.clone();
  }

  private List<String> stateNames() {
    return switch (kind) {
      case SGD -> List.of();
      case MOMENTUM -> List.of("momentum");
      case ADAM -> List.of("m", "v");
    };
  }

  /** sgd, momentum or adam. */
  public String kind() {
    return kind.name().toLowerCase(java.util.Locale.ROOT);
  }
}
