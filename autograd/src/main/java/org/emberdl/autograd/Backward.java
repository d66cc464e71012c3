package org.emberdl.autograd;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.emberdl.tensor.MemoryScope;
import org.emberdl.tensor.NDArray;

/**
 * The reverse pass: visits the graph below a tensor in reverse topological order, calls each
 * function's backward rule once with the sum of the gradients flowing into its output, and
 * accumulates into leaves' {@code grad}. Gradients of a tensor used twice are summed before its
 * rule runs, so every rule sees the full gradient exactly once.
 */
final class Backward {
  private Backward() {}

  static void run(Tensor root, NDArray seed, boolean retainGraph) {
    List<Tensor> order = topologicalOrder(root);
    Map<Tensor, NDArray> pending = new IdentityHashMap<>();
    pending.put(root, seed.share());
    try {
      for (Tensor t : order) {
        NDArray grad = pending.remove(t);
        if (grad == null) {
          continue;
        }
        Function fn = t.gradFn();
        if (fn == null) {
          accumulateLeaf(t, grad);
          continue;
        }
        NDArray[] inputGrads;
        try (grad) {
          inputGrads = fn.backward(grad);
        }
        Tensor[] inputs = fn.inputs();
        for (int i = 0; i < inputs.length; i++) {
          NDArray g = inputGrads[i];
          if (g == null) {
            continue;
          }
          Tensor in = inputs[i];
          if (in == null || !in.requiresGrad()) {
            g.close();
            continue;
          }
          if (!Arrays.equals(g.shape(), in.data().shape())) {
            g.close();
            throw new IllegalStateException(
                fn
                    + " returned a gradient of shape "
                    + Arrays.toString(g.shape())
                    + " for an input of shape "
                    + Arrays.toString(in.data().shape()));
          }
          NDArray prev = pending.get(in);
          if (prev == null) {
            pending.put(in, g);
          } else {
            // prev may be a view of another array (a rule passing grad through): never
            // accumulate into it in place.
            pending.put(in, prev.add(g));
            prev.close();
            g.close();
          }
        }
        if (!retainGraph) {
          fn.release();
        }
      }
    } finally {
      for (NDArray g : pending.values()) {
        g.close();
      }
    }
  }

  private static void accumulateLeaf(Tensor leaf, NDArray grad) {
    NDArray existing = leaf.gradOrNull();
    if (existing == null) {
      // an owned, contiguous array of the leaf's dtype (cast() of another dtype is a new array)
      NDArray owned =
          grad.dtype() == leaf.data().dtype() ? grad.copy() : grad.cast(leaf.data().dtype());
      // the gradient lives exactly as long as the leaf's data (same scope, or none)
      leaf.setGrad(MemoryScope.sameOwnerAs(owned, leaf.data()));
      grad.close();
    } else {
      try (grad) {
        existing.addInPlace(grad);
      }
    }
  }

  /** Tensors that need grad below {@code root}, root first, each after every tensor using it. */
  private static List<Tensor> topologicalOrder(Tensor root) {
    List<Tensor> postOrder = new ArrayList<>();
    Map<Tensor, Boolean> visited = new IdentityHashMap<>();
    // iterative DFS: deep graphs (an RNN unrolled 10k steps) must not overflow the stack
    Deque<Object[]> stack = new ArrayDeque<>();
    stack.push(new Object[] {root, 0});
    visited.put(root, true);
    while (!stack.isEmpty()) {
      Object[] frame = stack.peek();
      Tensor t = (Tensor) frame[0];
      int next = (Integer) frame[1];
      Function fn = t.gradFn();
      Tensor[] inputs = fn == null ? new Tensor[0] : fn.inputs();
      if (next < inputs.length) {
        frame[1] = next + 1;
        Tensor in = inputs[next];
        if (in != null && in.requiresGrad() && visited.put(in, true) == null) {
          stack.push(new Object[] {in, 0});
        }
      } else {
        stack.pop();
        postOrder.add(t);
      }
    }
    java.util.Collections.reverse(postOrder);
    return postOrder;
  }
}
