package org.emberdl.spark.internal.local;

import java.lang.ref.WeakReference;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.OutOfMemoryException;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;
import org.apache.spark.sql.SparkSession;
import org.emberdl.nn.Module;
import org.emberdl.spark.internal.plan.DeviceChoice;
import org.emberdl.spark.internal.rounds.SecureClientTasks;
import org.emberdl.tensor.Backends;
import org.emberdl.tensor.Device;
import org.emberdl.tensor.EmberConfig;
import org.emberdl.tensor.cuda.CudaAvailability;
import org.emberdl.tensor.memory.Allocators;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The tensor engine of one executor JVM, shared by its tasks: the device and thread settings, the
 * off-heap budget, and a pool of network replicas per training run or model so that a round's task
 * reuses a network built by an earlier round instead of rebuilding it.
 *
 * <p>Each concurrently running task borrows its own replica (a network's weights and gradients are
 * mutable), so a JVM holds at most one replica per task slot and run. Replicas of the least
 * recently used runs are closed when more than {@link #MAX_RUNS} runs are pooled, and {@link
 * #release} closes a run's replicas when its driver is done with it.
 *
 * <p>Device: chosen per task by the stage's {@code device} Param ({@link #enterTask}): a task given
 * GPUs ({@code TaskContext.resources()("gpu")}) would run on the first one; this build has no CUDA
 * backend, so under {@code auto} such tasks log once why (CUDA unavailable here, with the reason,
 * or no backend) and run on the CPU, and under {@code cuda} they fail with that reason. Threads:
 * kernels use {@code spark.task.cpus} threads. Off-heap memory: bounded by {@code
 * spark.ember.memoryLimit}, else the executor's memory overhead ({@code
 * spark.executor.memoryOverhead}, default max(384 MiB, 10% of {@code spark.executor.memory})),
 * where Spark leaves room for native memory. The bound is set on the CPU allocator when the engine
 * starts, so every array allocation in the JVM is checked against it before it is made (in local
 * mode that includes the driver's). A training-stage task's copy of its partition lives in a child
 * allocator of its own ({@link #newTaskAllocator}), so it counts against the same budget and is
 * accounted, and freed, per task.
 */
public final class ExecutorEngine {
  private static final Logger LOG = LoggerFactory.getLogger(ExecutorEngine.class);
  static final int MAX_RUNS = 4;
  public static final String MEMORY_LIMIT_CONF = "spark.ember.memoryLimit";

  private static ExecutorEngine instance;

  private final long memoryLimitBytes;
  private final Map<String, Deque<Module>> pools = new LinkedHashMap<>(16, 0.75f, true);

  /** Partitions' off-heap training rows kept between a run's stages: by run key, by partition. */
  private final Map<String, Map<Integer, KeptRows>> keptRows = new HashMap<>();

  private long keptBytes;

  /**
   * Rows of {@code bytes} off-heap bytes copied from {@code source}, the cached partition they hold
   * a copy of: weakly, so that a partition Spark evicted or that was fetched from another executor
   * (a new object every time, never reused) is not pinned on the heap, and its rows are freed at
   * the next keep or take.
   */
  private record KeptRows(WeakReference<Object> source, AutoCloseable rows, long bytes) {}

  private boolean gpuNoticeLogged;

  private ExecutorEngine(long memoryLimitBytes) {
    this.memoryLimitBytes = memoryLimitBytes;
  }

  /** This JVM's engine, created on first use (its settings are logged once). */
  public static synchronized ExecutorEngine get() {
    if (instance == null) {
      SparkEnv env = SparkEnv.get();
      long limit = env == null ? Long.MAX_VALUE : memoryLimit(env.conf());
      // The budget is enforced by the allocator itself, so an allocation over it fails before
      // any memory is taken, wherever it happens (a batch, a replica, a weights file); the
      // JVM-wide -Demberdl.cpu.maxBytes still applies when it is lower.
      if (limit < Allocators.cpu().getLimit()) {
        Allocators.cpu().setLimit(limit);
      }
      instance = new ExecutorEngine(limit);
      LOG.info(
          "Ember engine started: device cpu, {} kernel threads per task, off-heap limit {} MiB",
          taskThreads(),
          limit == Long.MAX_VALUE ? "none" : limit >> 20);
    }
    return instance;
  }

  public static long memoryLimit(SparkConf conf) {
    if (conf.contains(MEMORY_LIMIT_CONF)) {
      try {
        return conf.getSizeAsBytes(MEMORY_LIMIT_CONF);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(
            MEMORY_LIMIT_CONF
                + " must be a size such as 512m or 4g, got '"
                + conf.get(MEMORY_LIMIT_CONF)
                + "'",
            e);
      }
    }
    if (conf.contains("spark.executor.memoryOverhead")) {
      return conf.getSizeAsMb("spark.executor.memoryOverhead") << 20;
    }
    long executorMb = conf.getSizeAsMb("spark.executor.memory", "1g");
    return Math.max(384L, executorMb / 10) << 20;
  }

  private static int taskThreads() {
    TaskContext task = TaskContext.get();
    return task == null ? EmberConfig.threads() : Math.max(1, task.cpus());
  }

  /**
   * Applies the task's thread count and picks its device ({@link TaskDevice#select}) from {@code
   * choice} and the GPU Spark assigned it ({@code TaskContext.resources()("gpu")}, its first
   * address). A GPU that cannot be used under {@code auto} is logged once per executor, with the
   * reason.
   *
   * @return the task's device (the CPU in this build)
   * @throws IllegalStateException naming this executor and the reason, for {@code cuda} where CUDA
   *     cannot be used
   */
  public Device enterTask(DeviceChoice choice) {
    TaskContext task = TaskContext.get();
    if (task != null) {
      EmberConfig.setThreads(Math.max(1, task.cpus()));
    }
    String gpu =
        task != null && task.resources().contains("gpu")
            ? firstAddress(task.resources().apply("gpu").addresses())
            : null;
    return selectDevice(choice, gpu);
  }

  /**
   * The device for a task that Spark gave GPU {@code gpu} (null: none); logs the first notice of
   * this executor at WARN. (A seam for tests: Spark's local mode assigns tasks no resources.)
   */
  Device selectDevice(DeviceChoice choice, String gpu) {
    TaskDevice d =
        TaskDevice.select(
            choice,
            executorName(),
            gpu,
            CudaAvailability::status,
            TaskDevice.STAGES_ON_CUDA && Backends.provides(Device.Type.CUDA));
    if (d.notice() != null) {
      synchronized (this) {
        if (!gpuNoticeLogged) {
          gpuNoticeLogged = true;
          LOG.warn("{}", d.notice());
        }
      }
    }
    return d.device();
  }

  private static String firstAddress(String[] addresses) {
    return addresses.length == 0 ? null : addresses[0];
  }

  /**
   * This JVM as errors name it: the executor id and host, e.g. {@code 3 (worker-1)}, or {@code
   * driver (127.0.0.1)} in local mode.
   */
  static String executorName() {
    SparkEnv env = SparkEnv.get();
    if (env == null) {
      return "(no Spark environment)";
    }
    String host;
    try {
      host = env.blockManager().blockManagerId().host();
    } catch (RuntimeException e) {
      // a block manager not yet registered: the id alone still names the executor
      return env.executorId();
    }
    return env.executorId() + " (" + host + ")";
  }

  /** A replica for {@code key}: a pooled one, or a new one from {@code build}. */
  public Module borrow(String key, Supplier<Module> build) {
    synchronized (this) {
      Deque<Module> pool = pools.computeIfAbsent(key, k -> new ArrayDeque<>());
      Module m = pool.pollFirst();
      evictOldRuns(key);
      if (m != null) {
        return m;
      }
    }
    return build.get();
  }

  /** Returns a replica to {@code key}'s pool (or closes it when that run was released). */
  public synchronized void giveBack(String key, Module replica) {
    Deque<Module> pool = pools.get(key);
    if (pool == null) {
      replica.close();
    } else {
      pool.addFirst(replica);
    }
  }

  /**
   * The off-heap copy of partition {@code partition}'s rows that a task of run {@code key} kept
   * ({@link #keepRows}), taken out of the cache (so that one task at a time holds it); null when
   * none was kept, or when it was copied from another object than {@code source} (the partition was
   * evicted and recomputed since), which is then freed.
   */
  public synchronized AutoCloseable takeRows(String key, int partition, Object source) {
    dropCollected();
    Map<Integer, KeptRows> run = keptRows.get(key);
    KeptRows kept = run == null ? null : run.remove(partition);
    if (kept == null) {
      return null;
    }
    keptBytes -= kept.bytes();
    if (kept.source().get() != source) {
      close(kept.rows());
      return null;
    }
    return kept.rows();
  }

  /**
   * Keeps {@code rows} ({@code bytes} off-heap bytes), copied from {@code source}, for the next
   * stage of run {@code key} (a fit's epochs each run a stage over the same cached partitions).
   * Frees them instead when the run is not pooled here (released, or never started), so that {@link
   * #release} frees whatever is kept, or when keeping them would put more than half of this
   * executor's off-heap budget into kept rows: an executor that runs more partitions than it has
   * cores then keeps some and copies the others each epoch, as before.
   */
  public synchronized void keepRows(
      String key, int partition, Object source, AutoCloseable rows, long bytes) {
    dropCollected();
    if (!pools.containsKey(key) || keptBytes + bytes > Allocators.cpu().getLimit() / 2) {
      close(rows);
      return;
    }
    KeptRows old =
        keptRows
            .computeIfAbsent(key, k -> new HashMap<>())
            .put(partition, new KeptRows(new WeakReference<>(source), rows, bytes));
    keptBytes += bytes;
    if (old != null) {
      keptBytes -= old.bytes();
      close(old.rows());
    }
  }

  /**
   * Frees every kept copy of every run (for a copy the budget refused: running tasks come first);
   * returns how many there were.
   */
  public synchronized int dropKeptRows() {
    int n = 0;
    for (String key : new ArrayList<>(keptRows.keySet())) {
      Map<Integer, KeptRows> run = keptRows.remove(key);
      n += run.size();
      run.values().forEach(k -> close(k.rows()));
    }
    keptBytes = 0;
    return n;
  }

  /** Off-heap bytes held by kept copies (tests). */
  synchronized long keptBytes() {
    return keptBytes;
  }

  /** Frees the kept copies whose partition object is gone (lock held). */
  private void dropCollected() {
    for (Map<Integer, KeptRows> run : keptRows.values()) {
      run.values()
          .removeIf(
              k -> {
                if (k.source().get() != null) {
                  return false;
                }
                keptBytes -= k.bytes();
                close(k.rows());
                return true;
              });
    }
  }

  private static void close(AutoCloseable rows) {
    try {
      rows.close();
    } catch (Exception e) {
      throw new IllegalStateException("could not free a partition's off-heap rows", e);
    }
  }

  /**
   * Closes every pooled replica of {@code key}, frees the rows its tasks kept and forgets the fit's
   * secure-aggregation clients.
   */
  public synchronized void release(String key) {
    SecureClientTasks.release(key);
    Deque<Module> pool = pools.remove(key);
    if (pool != null) {
      pool.forEach(Module::close);
    }
    Map<Integer, KeptRows> rows = keptRows.remove(key);
    if (rows != null) {
      rows.values()
          .forEach(
              k -> {
                keptBytes -= k.bytes();
                close(k.rows());
              });
    }
  }

  /**
   * Closes every pooled replica of this JVM (e.g. after batch scoring is done, or between tests);
   * replicas currently borrowed are closed when given back.
   */
  public synchronized void releaseAll() {
    for (String key : new java.util.ArrayList<>(pools.keySet())) {
      release(key);
    }
    SecureClientTasks.release("");
  }

  private void evictOldRuns(String current) {
    while (pools.size() > MAX_RUNS) {
      String oldest = pools.keySet().iterator().next();
      if (oldest.equals(current)) {
        return;
      }
      release(oldest);
    }
  }

  /**
   * The error for a batch whose arrays the allocator refused (the limit is the allocator's, so it
   * is refused before it is allocated): names the batch size, the limit, the allocator's account of
   * the request, and the settings to change.
   */
  public IllegalStateException batchOverBudget(
      int batchRows, String batchParam, OutOfMemoryException cause) {
    return new IllegalStateException(
        String.format(
            "a batch of %d rows needs more off-heap memory than this executor allows (limit %d"
                + " MiB; %s); lower %s (or use more partitions), or raise "
                + "spark.executor.memoryOverhead or %s",
            batchRows, memoryLimitBytes >> 20, cause.getMessage(), batchParam, MEMORY_LIMIT_CONF),
        cause);
  }

  /**
   * A new allocator for one task's off-heap data, a child of the CPU allocator whose limit is this
   * executor's budget: what the task allocates in it counts against the budget, is accounted under
   * {@code name}, and must be freed before the task closes it (closing fails otherwise).
   */
  public BufferAllocator newTaskAllocator(String name) {
    return Allocators.cpu().newChildAllocator(name, 0, Long.MAX_VALUE);
  }

  /**
   * The error for a partition whose rows the allocator refused: names the partition, its rows and
   * bytes, the limit, the allocator's account of the request, and the settings to change.
   */
  public IllegalStateException partitionOverBudget(
      int partition, int rows, int dim, OutOfMemoryException cause) {
    long bytes = 4L * rows * (dim + 1L);
    return new IllegalStateException(
        String.format(
            "partition %d's %d training rows of %d features (%d MiB off-heap) do not fit the"
                + " memory this executor allows (limit %d MiB; %s); use more partitions, or raise"
                + " spark.executor.memoryOverhead or %s",
            partition,
            rows,
            dim,
            bytes >> 20,
            memoryLimitBytes >> 20,
            cause.getMessage(),
            MEMORY_LIMIT_CONF),
        cause);
  }

  /**
   * The off-heap budget for work on the driver, such as loading a model: {@code
   * spark.ember.memoryLimit} from the session's runtime conf (settable with {@code
   * spark.conf().set}), else what the executors get ({@link #memoryLimit(SparkConf)}).
   */
  public static long memoryLimit(SparkSession spark) {
    scala.Option<String> set = spark.conf().getOption(MEMORY_LIMIT_CONF);
    if (set.isDefined()) {
      return memoryLimit(new SparkConf(false).set(MEMORY_LIMIT_CONF, set.get()));
    }
    return memoryLimit(spark.sparkContext().conf());
  }
}
