package org.emberdl.onnx;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The order nodes run in: topological (refusing cycles), without nodes no output needs. */
final class GraphOrder {
  private static final Logger LOG = LoggerFactory.getLogger(GraphOrder.class);

  private GraphOrder() {}

  /** Kahn's algorithm, ties broken by file order; what is left is on a cycle. */
  static List<OnnxNode> sort(List<OnnxNode> nodes, String source) throws OnnxFormatException {
    Map<String, OnnxNode> producer = new HashMap<>();
    for (OnnxNode n : nodes) {
      for (String o : n.outputs()) {
        if (!o.isEmpty()) {
          producer.put(o, n);
        }
      }
    }
    int[] pending = new int[nodes.size()];
    List<List<OnnxNode>> consumers = new ArrayList<>();
    for (int i = 0; i < nodes.size(); i++) {
      consumers.add(new ArrayList<>());
    }
    for (OnnxNode n : nodes) {
      Set<Integer> deps = new HashSet<>();
      for (String in : n.inputs()) {
        OnnxNode p = producer.get(in);
        if (p != null && deps.add(p.index())) {
          consumers.get(p.index()).add(n);
        }
      }
      pending[n.index()] = deps.size();
    }
    PriorityQueue<Integer> ready = new PriorityQueue<>();
    for (OnnxNode n : nodes) {
      if (pending[n.index()] == 0) {
        ready.add(n.index());
      }
    }
    List<OnnxNode> order = new ArrayList<>();
    while (!ready.isEmpty()) {
      OnnxNode n = nodes.get(ready.poll());
      order.add(n);
      for (OnnxNode c : consumers.get(n.index())) {
        if (--pending[c.index()] == 0) {
          ready.add(c.index());
        }
      }
    }
    if (order.size() < nodes.size()) {
      List<String> stuck = new ArrayList<>();
      for (OnnxNode n : nodes) {
        if (pending[n.index()] > 0 && stuck.size() < 5) {
          stuck.add(n.describe());
        }
      }
      throw new OnnxFormatException(
          source
              + ": the graph has a cycle; "
              + (nodes.size() - order.size())
              + " nodes wait on each other, e.g. "
              + String.join(", ", stuck));
    }
    return order;
  }

  /** The nodes some graph output depends on, in order; the others' attributes are closed. */
  static List<OnnxNode> prune(List<OnnxNode> order, List<String> outputs, String source) {
    Set<String> needed = new HashSet<>(outputs);
    Deque<OnnxNode> kept = new ArrayDeque<>();
    for (int i = order.size() - 1; i >= 0; i--) {
      OnnxNode n = order.get(i);
      if (n.outputs().stream().anyMatch(needed::contains)) {
        kept.addFirst(n);
        needed.addAll(n.inputs());
      } else {
        n.attributes().close();
        LOG.debug("{}: {} does not lead to any output; it is left out", source, n.describe());
      }
    }
    return new ArrayList<>(kept);
  }
}
