package org.emberdl.autograd;

import java.util.Locale;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;

/**
 * Checks the gradients computed by {@link Tensor#backward} against central finite differences, as
 * PyTorch's {@code gradcheck}: in float64, {@code eps = 1e-6}, {@code atol = 1e-5}, {@code rtol =
 * 1e-3}. A non-scalar output {@code y} is reduced to {@code sum(y * v)} with a fixed random {@code
 * v}, which checks {@code v^T J}. Inputs with up to 64 elements are checked element by element (the
 * full vector-Jacobian product); larger ones along a random direction {@code u} ({@code v^T J u},
 * PyTorch's fast mode).
 */
public final class GradCheck {
  /** The function under test, from leaf tensors to a result. */
  @FunctionalInterface
  public interface Fn {
    Tensor apply(Tensor[] inputs);
  }

  private final double eps;
  private final double atol;
  private final double rtol;

  private GradCheck(double eps, double atol, double rtol) {
    this.eps = eps;
    this.atol = atol;
    this.rtol = rtol;
  }

  /** PyTorch's defaults for float64. */
  public static GradCheck defaults() {
    return new GradCheck(1e-6, 1e-5, 1e-3);
  }

  public static GradCheck with(double eps, double atol, double rtol) {
    return new GradCheck(eps, atol, rtol);
  }

  /**
   * Runs the check; the inputs are copied (they are not modified) and every input is treated as
   * requiring grad. Every array the check makes (the weights {@code v}, the directions) lives on
   * the inputs' device, so the check runs on any device; {@code v} and the random directions are
   * drawn on the CPU and copied there, so every device checks the same products.
   *
   * @throws AssertionError describing the first mismatch
   */
  public void check(Fn f, NDArray... inputs) {
    try (MemoryScope scope = MemoryScope.open()) {
      Tensor[] leaves = leaves(inputs);
      NDArray v = backward(f, leaves);
      Generator directions = new Generator(5678);
      for (int i = 0; i < leaves.length; i++) {
        NDArray analytic = analytic(leaves[i]);
        NDArray x = leaves[i].data();
        long n = x.numel();
        if (n <= 64) {
          double[] a = analytic.toDoubleArray();
          for (int j = 0; j < n; j++) {
            double numeric = directional(f, leaves, v, i, unit(x, j));
            compare(numeric, a[j], i, "element " + j);
          }
        } else {
          NDArray u = NDArray.randn(directions, DType.FLOAT64, x.shape()).to(x.device());
          double numeric = directional(f, leaves, v, i, u);
          double projected = analytic.mul(u).sum().item();
          compare(numeric, projected, i, "random direction");
        }
      }
      for (Tensor leaf : leaves) {
        leaf.zeroGrad(true);
      }
    }
  }

  /**
   * The analytic gradients {@link #check} compares, {@code v^T J} for each input, read back to the
   * host: the same numbers on every device up to rounding, which a device runner compares with the
   * CPU's.
   */
  public double[][] gradients(Fn f, NDArray... inputs) {
    try (MemoryScope scope = MemoryScope.open()) {
      Tensor[] leaves = leaves(inputs);
      backward(f, leaves);
      double[][] out = new double[leaves.length][];
      for (int i = 0; i < leaves.length; i++) {
        out[i] = analytic(leaves[i]).toDoubleArray();
      }
      for (Tensor leaf : leaves) {
        leaf.zeroGrad(true);
      }
      return out;
    }
  }

  private static Tensor[] leaves(NDArray[] inputs) {
    Tensor[] leaves = new Tensor[inputs.length];
    for (int i = 0; i < inputs.length; i++) {
      if (inputs[i].dtype() != DType.FLOAT64) {
        throw new IllegalArgumentException(
            "gradcheck needs float64 inputs, input " + i + " is " + inputs[i].dtype());
      }
      leaves[i] = Tensor.of(inputs[i].copy(), true);
    }
    return leaves;
  }

  /** Back-propagates {@code sum(f(leaves) * v)} and returns {@code v}. */
  private static NDArray backward(Fn f, Tensor[] leaves) {
    Tensor out = f.apply(leaves);
    NDArray v =
        out.data().numel() == 1
            ? NDArray.full(out.dtype(), out.data().device(), 1, out.shape())
            : NDArray.randn(new Generator(1234), out.dtype(), out.shape()).to(out.data().device());
    Tensor y = out.mul(Tensor.of(v)).sum();
    y.backward();
    return v;
  }

  private static NDArray analytic(Tensor leaf) {
    NDArray x = leaf.data();
    return leaf.gradOrNull() == null
        ? NDArray.zeros(DType.FLOAT64, x.device(), x.shape())
        : leaf.grad().cast(DType.FLOAT64);
  }

  private static NDArray unit(NDArray like, int j) {
    NDArray u = NDArray.zeros(DType.FLOAT64, like.device(), like.shape());
    try (NDArray flat = u.reshape(-1);
        NDArray e = flat.narrow(0, j, 1)) {
      e.fill(1);
    }
    return u;
  }

  /** (f(x + eps u) - f(x - eps u)) / (2 eps), projected on v. */
  private double directional(Fn f, Tensor[] leaves, NDArray v, int i, NDArray u) {
    try (NoGrad ignored = NoGrad.enter();
        MemoryScope scope = MemoryScope.open()) {
      NDArray x = leaves[i].data();
      x.addInPlace(u, eps);
      double plus = project(f.apply(leaves), v);
      x.addInPlace(u, -2 * eps);
      double minus = project(f.apply(leaves), v);
      x.addInPlace(u, eps);
      return (plus - minus) / (2 * eps);
    }
  }

  private static double project(Tensor out, NDArray v) {
    return out.data().cast(DType.FLOAT64).mul(v).sum().item();
  }

  private void compare(double numeric, double analytic, int input, String where) {
    if (!(Math.abs(numeric - analytic) <= atol + rtol * Math.abs(numeric))) {
      throw new AssertionError(
          String.format(
              Locale.ROOT,
              "gradient mismatch for input %d at %s: numeric %.10g, analytic %.10g",
              input,
              where,
              numeric,
              analytic));
    }
  }
}
