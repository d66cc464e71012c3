package org.emberdl.spark.internal.stage;

import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * The training stages whose driver runs in this JVM, by endpoint name: a task of such a stage (in
 * {@code local[N]} mode, where the executor is the driver's JVM) hands its messages to the {@link
 * StepExchange} directly instead of through Spark's RPC dispatcher. In-process, Spark's RPC passes
 * the same objects by reference through a dispatcher thread; the direct call spares each step that
 * thread's hand-off, and the task that brings a step's last update combines it and goes on without
 * waiting to be woken. Where the tasks apply the steps themselves, a task hands over its update and
 * takes the step as objects ({@link #stepChannel}): no message is encoded or read on either side.
 * Executors in other JVMs never find a stage here and use the RPC endpoint.
 *
 * <p>A stage is registered for its epoch's job and removed when the job ends or is cancelled.
 * {@code spark.ember.stageInProcess=false} (Spark conf, or a local property for one fit) keeps the
 * RPC path in local mode too, for comparison.
 */
final class LocalStages {
  /** Spark conf: whether tasks in the driver's JVM talk to their stage without the RPC layer. */
  static final String IN_PROCESS_CONF = "spark.ember.stageInProcess";

  private static final Map<String, StepExchange> STAGES = new ConcurrentHashMap<>();

  /** Messages handed over in-process so far (tests check which path a fit took). */
  private static final AtomicLong MESSAGES = new AtomicLong();

  private LocalStages() {}

  /**
   * Whether a stage started now may be reached in-process: {@link #IN_PROCESS_CONF} from the
   * thread's Spark local properties (one fit), else from the Spark conf; true by default.
   */
  static boolean enabled(JavaSparkContext sc) {
    String local = sc.getLocalProperty(IN_PROCESS_CONF);
    return local != null
        ? Boolean.parseBoolean(local)
        : sc.getConf().getBoolean(IN_PROCESS_CONF, true);
  }

  static long messages() {
    return MESSAGES.get();
  }

  static void register(String endpoint, StepExchange exchange) {
    STAGES.put(endpoint, exchange);
  }

  static void remove(String endpoint) {
    STAGES.remove(endpoint);
  }

  /**
   * How a task of a stage whose tasks apply the steps themselves hands the stage {@code endpoint}
   * its update and gets the step back, as objects: directly when the stage's driver is in this JVM,
   * else null.
   */
  static Function<StepExchange.LocalSubmit, CompletableFuture<StepExchange.Published>> stepChannel(
      String endpoint) {
    StepExchange exchange = STAGES.get(endpoint);
    if (exchange == null) {
      return null;
    }
    return submit -> {
      MESSAGES.incrementAndGet();
      CompletableFuture<StepExchange.Published> reply = new CompletableFuture<>();
      StageReply to = StageReply.toSteps(reply);
      try {
        exchange.submit(submit, to);
      } catch (RuntimeException e) {
        to.fail(e);
      }
      return reply;
    };
  }

  /**
   * How a task sends the stage {@code endpoint} a message and gets its answer: directly when the
   * stage's driver is in this JVM, else null.
   */
  static Function<byte[], CompletableFuture<byte[]>> channel(String endpoint) {
    StepExchange exchange = STAGES.get(endpoint);
    if (exchange == null) {
      return null;
    }
    return message -> {
      MESSAGES.incrementAndGet();
      CompletableFuture<byte[]> reply = new CompletableFuture<>();
      StageEndpoint.handle(exchange, message, StageReply.to(reply));
      return reply;
    };
  }
}
