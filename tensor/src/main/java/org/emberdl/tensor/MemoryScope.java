package org.emberdl.tensor;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * Frees every array created inside it, unless kept, when closed. Scopes nest on a thread-local
 * stack; each new array joins the innermost open scope of its thread.
 *
 * <pre>{@code
 * try (MemoryScope scope = MemoryScope.open()) {
 *   NDArray h = x.matmul(w).relu();     // freed at the end of the block
 *   return scope.keep(h.sum());         // handed to the enclosing scope (or to the caller)
 * }
 * }</pre>
 *
 * <p>Arrays created outside any scope belong to the caller, who closes them.
 */
public final class MemoryScope implements AutoCloseable {
  private static final ThreadLocal<Deque<MemoryScope>> STACK =
      ThreadLocal.withInitial(ArrayDeque::new);

  private final Thread thread = Thread.currentThread();
  private final MemoryScope parent;
  private final List<NDArray> arrays = new ArrayList<>();
  private boolean closed;

  private MemoryScope(MemoryScope parent) {
    this.parent = parent;
  }

  /** Opens a scope nested in the current thread's innermost scope. */
  public static MemoryScope open() {
    Deque<MemoryScope> stack = STACK.get();
    MemoryScope scope = new MemoryScope(stack.peek());
    stack.push(scope);
    return scope;
  }

  /** The innermost open scope of this thread, or null. */
  static MemoryScope current() {
    return STACK.get().peek();
  }

  void register(NDArray array) {
    arrays.add(array);
  }

  /**
   * Moves {@code array} out of this scope into the enclosing one (or to the caller when this is the
   * outermost scope) and returns it.
   */
  public <T extends NDArray> T keep(T array) {
    if (array.owner() == this) {
      array.setOwner(parent);
      if (parent != null) {
        parent.register(array);
      }
    }
    return array;
  }

  /**
   * Takes {@code array} out of whatever scope owns it: no scope will close it, the caller must. For
   * long-lived state created during a scoped step (a parameter's first gradient).
   */
  public static <T extends NDArray> T detach(T array) {
    array.setOwner(null);
    return array;
  }

  /**
   * Moves {@code array} into the scope that owns {@code owner} (or out of every scope when {@code
   * owner} has none), so both are freed together: a leaf's gradient lives as long as the leaf.
   */
  public static <T extends NDArray> T sameOwnerAs(T array, NDArray owner) {
    MemoryScope scope = owner.owner();
    array.setOwner(scope);
    if (scope != null && !scope.closed) {
      scope.register(array);
    }
    return array;
  }

  /** Keeps every array of {@code arrays}; see {@link #keep(NDArray)}. */
  public void keepAll(Iterable<? extends NDArray> arrays) {
    for (NDArray a : arrays) {
      keep(a);
    }
  }

  /** Number of arrays this scope still owns. */
  public int size() {
    int n = 0;
    for (NDArray a : arrays) {
      if (a.owner() == this && !a.isClosed()) {
        n++;
      }
    }
    return n;
  }

  /**
   * Closes every array still owned by this scope and pops it.
   *
   * @throws IllegalStateException when closed on another thread or out of nesting order
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    if (Thread.currentThread() != thread) {
      throw new IllegalStateException("a MemoryScope must be closed on the thread that opened it");
    }
    Deque<MemoryScope> stack = STACK.get();
    if (stack.peek() != this) {
      throw new IllegalStateException("MemoryScopes must be closed innermost first");
    }
    stack.pop();
    closed = true;
    for (NDArray a : arrays) {
      if (a.owner() == this) {
        a.close();
      }
    }
    arrays.clear();
  }
}
