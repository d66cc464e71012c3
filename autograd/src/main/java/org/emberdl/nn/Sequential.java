package org.emberdl.nn;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.emberdl.autograd.Tensor;
import org.emberdl.tensor.ops.UnaryOp;

/**
 * Modules applied in order, each to the previous one's output, as {@code torch.nn.Sequential}.
 * Children are named {@code "0"}, {@code "1"}, ..., so parameters appear as {@code 0.weight}, as in
 * a PyTorch state dict. Closing the Sequential closes its modules.
 *
 * <pre>{@code
 * Sequential model = new Sequential(
 *     new Conv2d(1, 8, 3, gen), new ReLU(), new MaxPool2d(2), new Flatten(), new Linear(8 * 13 * 13, 10, gen));
 * }</pre>
 */
public class Sequential extends Module implements Iterable<Module> {
  private final List<Module> layers = new ArrayList<>();

  public Sequential(Module... modules) {
    for (Module m : modules) {
      add(m);
    }
  }

  /**
   * Appends {@code module} under the next index (this Sequential now owns it); returns this.
   *
   * @throws IllegalStateException after {@link #flatParameters()}
   */
  public Sequential add(Module module) {
    registerModule(Integer.toString(layers.size()), java.util.Objects.requireNonNull(module));
    layers.add(module);
    return this;
  }

  /** The module at {@code index}; negative counts from the end, as in Python. */
  public Module get(int index) {
    int i = index < 0 ? index + layers.size() : index;
    if (i < 0 || i >= layers.size()) {
      throw new IndexOutOfBoundsException(
          "index " + index + " is out of range for a Sequential of " + layers.size());
    }
    return layers.get(i);
  }

  public int size() {
    return layers.size();
  }

  @Override
  public Iterator<Module> iterator() {
    return java.util.Collections.unmodifiableList(layers).iterator();
  }

  /**
   * Runs the modules in order. Intermediate results are closed as soon as the next module has
   * consumed them (the graph keeps what backward needs), so peak memory stays near one layer's; an
   * empty Sequential returns a new tensor sharing the input's values. A {@link Linear} followed by
   * a {@link ReLU} runs as one call ({@link Linear#forward(Tensor, UnaryOp)}): without a graph that
   * is one fused kernel, with one the same recorded ops as the two modules. A {@link ReLU} directly
   * followed by a {@link MaxPool2d} runs as one op ({@link Tensor#reluMaxPool2d}: the same values
   * and gradients, one pass over the input instead of three).
   */
  @Override
  public Tensor forward(Tensor input) {
    Tensor x = input;
    for (int i = 0; i < layers.size(); i++) {
      Module m = layers.get(i);
      Tensor y;
      // exact classes only: a subclass may override forward
      if (m.getClass() == Linear.class
          && i + 1 < layers.size()
          && layers.get(i + 1).getClass() == ReLU.class) {
        y = ((Linear) m).forward(x, UnaryOp.RELU);
        i++;
      } else if (fusesReluPool(i)) {
        // ReLU then MaxPool2d: one op, the same values and gradients (Tensor#reluMaxPool2d)
        MaxPool2d pool = (MaxPool2d) layers.get(++i);
        y = x.reluMaxPool2d(pool.kernel, pool.stride, pool.padding);
      } else {
        y = m.forward(x);
      }
      if (x != input && y != x) {
        x.close();
      }
      x = y;
    }
    return x == input ? Identity.of(input) : x;
  }

  /**
   * True when layer i is a plain {@link ReLU} and the next a plain {@link MaxPool2d} (not
   * subclasses, whose forward may differ), which run as one op.
   */
  private boolean fusesReluPool(int i) {
    return i + 1 < layers.size()
        && layers.get(i).getClass() == ReLU.class
        && layers.get(i + 1).getClass() == MaxPool2d.class;
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder("Sequential(");
    for (int i = 0; i < layers.size(); i++) {
      String child = layers.get(i).toString().replace("\n", "\n  ");
      sb.append("\n  (").append(i).append("): ").append(child);
    }
    return sb.append(layers.isEmpty() ? ")" : "\n)").toString();
  }
}
