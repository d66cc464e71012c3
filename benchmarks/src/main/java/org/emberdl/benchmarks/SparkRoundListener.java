package org.emberdl.benchmarks;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.spark.executor.TaskMetrics;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobEnd;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.TaskInfo;
import scala.jdk.javaapi.CollectionConverters;

/**
 * Spark's own timing of Ember's training rounds: for every job whose description starts with {@code
 * "Ember epoch E/N, round"} (the coordinator sets one per round), the job's submit and end times
 * and each task's launch, finish, deserialization, run, result serialization and GC times
 * (milliseconds, wall clock, as the scheduler records them).
 */
final class SparkRoundListener extends SparkListener {
  /** One task of a round. */
  record Task(
      long launch,
      long finish,
      long deserialize,
      long run,
      long cpuNanos,
      long resultSerialize,
      long gc,
      long resultBytes) {}

  /** One round (= one Spark job). */
  static final class Round {
    final int epoch;
    final long submitted;
    long ended = -1;
    final List<Task> tasks = new ArrayList<>();

    Round(int epoch, long submitted) {
      this.epoch = epoch;
      this.submitted = submitted;
    }

    long firstLaunch() {
      return tasks.stream().mapToLong(Task::launch).min().orElse(submitted);
    }

    long lastFinish() {
      return tasks.stream().mapToLong(Task::finish).max().orElse(ended);
    }
  }

  private final Map<Integer, Round> byJob = new HashMap<>();
  private final Map<Integer, Round> byStage = new HashMap<>();
  private final List<Round> done = new ArrayList<>();

  @Override
  public synchronized void onJobStart(SparkListenerJobStart e) {
    Properties props = e.properties();
    String desc = props == null ? null : props.getProperty("spark.job.description");
    if (desc == null || !desc.startsWith("Ember epoch ") || !desc.contains(", round ")) {
      return;
    }
    int epoch = Integer.parseInt(desc.substring("Ember epoch ".length(), desc.indexOf('/')));
    Round r = new Round(epoch, e.time());
    byJob.put(e.jobId(), r);
    for (Object stage : CollectionConverters.asJava(e.stageIds())) {
      byStage.put((Integer) stage, r);
    }
  }

  @Override
  public synchronized void onTaskEnd(SparkListenerTaskEnd e) {
    Round r = byStage.get(e.stageId());
    if (r == null) {
      return;
    }
    TaskInfo i = e.taskInfo();
    TaskMetrics m = e.taskMetrics();
    r.tasks.add(
        new Task(
            i.launchTime(),
            i.finishTime(),
            m == null ? 0 : m.executorDeserializeTime(),
            m == null ? 0 : m.executorRunTime(),
            m == null ? 0 : m.executorCpuTime(),
            m == null ? 0 : m.resultSerializationTime(),
            m == null ? 0 : m.jvmGCTime(),
            m == null ? 0 : m.resultSize()));
  }

  @Override
  public synchronized void onJobEnd(SparkListenerJobEnd e) {
    Round r = byJob.remove(e.jobId());
    if (r != null) {
      r.ended = e.time();
      done.add(r);
      byStage.values().removeIf(x -> x == r);
    }
  }

  /**
   * The finished rounds recorded since the last call, once {@code expected} of them have arrived
   * (the listener bus is asynchronous) or after 30 s.
   */
  List<Round> drain(int expected) throws InterruptedException {
    long deadline = System.nanoTime() + 30_000_000_000L;
    while (System.nanoTime() < deadline) {
      synchronized (this) {
        if (done.size() >= expected) {
          break;
        }
      }
      Thread.sleep(20);
    }
    synchronized (this) {
      List<Round> out = new ArrayList<>(done);
      done.clear();
      return out;
    }
  }
}
