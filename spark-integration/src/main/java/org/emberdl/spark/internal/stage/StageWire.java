package org.emberdl.spark.internal.stage;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.emberdl.federated.Step;
import org.emberdl.federated.Update;
import org.emberdl.spark.internal.local.RoundWeights;

/**
 * The bytes a training stage's messages travel as over Spark's RPC: a small binary format, raw
 * little-endian floats copied in bulk, no Java serialization.
 *
 * <p>Why bytes: Spark deserializes an RPC message on its dispatcher threads with Spark's own class
 * loader, which does not see the classes of an application jar (spark-submit loads those in a child
 * loader): a message of an Ember class would fail with {@code ClassNotFoundException} on a real
 * cluster and tear the connection down. So every message is a {@code byte[]} (known to every
 * loader), written and read back here. Why not {@code ObjectOutputStream}: a step sends the whole
 * gradient up and the whole model down (~1 MB each for a 235k-parameter MLP, every few
 * milliseconds), and Java serialization of a {@code float[]} converts it float by float into a
 * growing buffer, then copies it again; here each array is one bulk copy into a buffer of the exact
 * size. In local mode Spark's RPC hands the {@code byte[]} over without serializing it, so this
 * codec is the whole serialization cost of a step.
 *
 * <p>Layout: {@code int magic, int type}, then the message's fields in order; an array is its
 * {@code int} length followed by its elements. Decoding checks the magic, the type the caller
 * expects, every length against the bytes that remain, and that no byte is left over, and says
 * which of these failed.
 */
public final class StageWire {
  /** "EMSW": Ember stage wire, format 1. */
  static final int MAGIC = 0x454d5357;

  static final int REGISTER = 1;
  static final int RESUME = 2;
  static final int SUBMIT = 3;
  static final int WEIGHTS = 4;
  static final int SHARD = 5;
  static final int WEIGHTS_CHUNK = 6;
  static final int STEP = 7;

  private static final int HEADER = 8;
  private static final int TIMES = 5 * Long.BYTES;

  private StageWire() {}

  /** {@code message} (a {@link StageMessages} record or {@link RoundWeights}) as bytes. */
  public static byte[] encode(Object message) {
    if (message instanceof RoundWeights w) {
      return encodeWeights(w, null);
    }
    if (message instanceof StageMessages.Submit s) {
      return encodeSubmit(s, null);
    }
    if (message instanceof StageMessages.Shard s) {
      return encodeShard(s, null);
    }
    if (message instanceof StageMessages.WeightsChunk c) {
      return encodeWeightsChunk(c.from(), c.floats(), 0, c.floats().length, null);
    }
    if (message instanceof StageMessages.Register r) {
      ByteBuffer b = start(REGISTER, 2 * Integer.BYTES);
      b.putInt(r.partition()).putInt(r.stageAttempt());
      return done(b);
    }
    if (message instanceof StageMessages.Resume r) {
      byte[][] names = optimizerNames(r.optimizer());
      ByteBuffer b =
          start(
              RESUME,
              2 * Integer.BYTES + weightsSize(r.weights()) + optimizerSize(r.optimizer(), names));
      b.putInt(r.step());
      putWeights(b, r.weights());
      putOptimizer(b, r.optimizer(), names);
      return done(b);
    }
    if (message instanceof Step s) {
      return encodeStep(s, null);
    }
    throw new IllegalArgumentException(
        "not a training-stage message: "
            + (message == null ? "null" : message.getClass().getName()));
  }

  /**
   * {@code w} as bytes, written into {@code reuse} when it has exactly the size needed (see {@link
   * StepExchange#publish} for when the driver may reuse a reply's array).
   */
  static byte[] encodeWeights(RoundWeights w, byte[] reuse) {
    int size = HEADER + weightsSize(w);
    ByteBuffer b = open(size, reuse, WEIGHTS);
    putWeights(b, w);
    return done(b);
  }

  /**
   * The driver's {@code step} (what the tasks apply to their replicas with the same code as the
   * driver), written into {@code reuse} when it has exactly the size needed. Layout: the kind's
   * ordinal, the values, then -1 for no buffers or the buffers as an array.
   */
  static byte[] encodeStep(Step step, byte[] reuse) {
    float[] buffers = step.buffers();
    int size =
        HEADER
            + 2 * Integer.BYTES
            + Float.BYTES * step.values().length
            + Integer.BYTES
            + (buffers == null ? 0 : Float.BYTES * buffers.length);
    ByteBuffer b = open(size, reuse, STEP);
    b.putInt(step.kind().ordinal());
    putFloats(b, step.values());
    if (buffers == null) {
      b.putInt(-1);
    } else {
      putFloats(b, buffers);
    }
    return done(b);
  }

  /**
   * The {@link Step} in {@code bytes}, its arrays read into {@code values} and {@code buffers} when
   * their sizes match (a task receives steps of one size every step), else into new ones.
   *
   * @throws IllegalArgumentException naming what is wrong, as {@link #decode}
   */
  static Step decodeStep(byte[] bytes, float[] values, float[] buffers) {
    Reader r = expect(bytes, STEP);
    Step step = r.step(bytes, values, buffers);
    r.end();
    return step;
  }

  private static byte[][] optimizerNames(StageMessages.OptimizerState o) {
    if (o == null) {
      return new byte[0][];
    }
    List<byte[]> names = new ArrayList<>();
    for (String k : o.scalars().keySet()) {
      names.add(k.getBytes(StandardCharsets.UTF_8));
    }
    for (String k : o.buffers().keySet()) {
      names.add(k.getBytes(StandardCharsets.UTF_8));
    }
    return names.toArray(new byte[0][]);
  }

  /**
   * After the flag: the scalar count, each (name, double), the buffer count, each (name, floats).
   */
  private static int optimizerSize(StageMessages.OptimizerState o, byte[][] names) {
    if (o == null) {
      return 0;
    }
    long size = 2 * Integer.BYTES + (long) o.scalars().size() * Double.BYTES;
    for (byte[] name : names) {
      size += Integer.BYTES + name.length;
    }
    for (float[] f : o.buffers().values()) {
      size += Integer.BYTES + (long) Float.BYTES * f.length;
    }
    return Math.toIntExact(size);
  }

  private static void putOptimizer(ByteBuffer b, StageMessages.OptimizerState o, byte[][] names) {
    b.putInt(o == null ? 0 : 1);
    if (o == null) {
      return;
    }
    int i = 0;
    b.putInt(o.scalars().size());
    for (double v : o.scalars().values()) {
      b.putInt(names[i].length).put(names[i++]).putDouble(v);
    }
    b.putInt(o.buffers().size());
    for (float[] f : o.buffers().values()) {
      b.putInt(names[i].length).put(names[i++]);
      putFloats(b, f);
    }
  }

  /**
   * A little-endian buffer of {@code size} bytes, over {@code reuse} when it has exactly that size,
   * with the header of message {@code type} written.
   */
  private static ByteBuffer open(int size, byte[] reuse, int type) {
    ByteBuffer b =
        reuse != null && reuse.length == size ? ByteBuffer.wrap(reuse) : ByteBuffer.allocate(size);
    return b.order(ByteOrder.LITTLE_ENDIAN).putInt(MAGIC).putInt(type);
  }

  private static void putTimes(ByteBuffer b, StageMessages.TaskTimes t) {
    b.putLong(t.steps())
        .putLong(t.computeNanos())
        .putLong(t.encodeNanos())
        .putLong(t.waitNanos())
        .putLong(t.loadNanos());
  }

  /**
   * {@code s} as bytes, written into {@code reuse} when it has exactly the size needed (a task
   * sends updates of one size every step). The caller may reuse the array once the message has been
   * handed to Spark: Spark's RPC serializes a remote message in {@code ask} itself, and a local one
   * is read by the driver's endpoint before it answers.
   */
  static byte[] encodeSubmit(StageMessages.Submit s, byte[] reuse) {
    int body = 3 * Integer.BYTES + TIMES + updateSize(s.update());
    ByteBuffer b = open(HEADER + body, reuse, SUBMIT);
    b.putInt(s.partition()).putInt(s.stageAttempt()).putInt(s.step());
    putTimes(b, s.times());
    Update u = s.update();
    b.putLong(u.examples()).putDouble(u.lossSum()).putLong(u.correct());
    putFloats(b, u.values());
    putFloats(b, u.buffers());
    return done(b);
  }

  /**
   * {@code s} as bytes, written into {@code reuse} when it has exactly the size needed (a task
   * sends shards of one size every step; reusable as {@link #encodeSubmit}'s).
   */
  static byte[] encodeShard(StageMessages.Shard s, byte[] reuse) {
    UpdateChunks.Summed sum = s.sum();
    int body =
        // partition, attempt, step, values, buffers, the floats' length; examples, loss, correct
        6 * Integer.BYTES
            + TIMES
            + 2 * Long.BYTES
            + Double.BYTES
            + Float.BYTES * sum.floats().length;
    ByteBuffer b = open(HEADER + body, reuse, SHARD);
    b.putInt(s.partition()).putInt(s.stageAttempt()).putInt(s.step());
    putTimes(b, s.times());
    b.putInt(s.values()).putInt(s.buffers());
    b.putLong(sum.examples()).putDouble(sum.lossSum()).putLong(sum.correct());
    putFloats(b, sum.floats());
    return done(b);
  }

  /**
   * A {@link StageMessages.WeightsChunk} of floats {@code [from, from + n)} of the weights' values
   * followed by their buffers, taken from {@code w} (its values, then its buffers), written into
   * {@code reuse} when it has exactly the size needed.
   */
  static byte[] encodeWeightsChunk(RoundWeights w, int from, int n, byte[] reuse) {
    ByteBuffer b = startChunk(from, n, reuse);
    int values = w.values().length;
    int inValues = Math.max(0, Math.min(values - from, n));
    FloatBuffer f = b.asFloatBuffer();
    if (inValues > 0) {
      f.put(w.values(), from, inValues);
    }
    if (n > inValues) {
      f.put(w.buffers(), from + inValues - values, n - inValues);
    }
    b.position(b.position() + Float.BYTES * n);
    return done(b);
  }

  private static byte[] encodeWeightsChunk(int from, float[] floats, int at, int n, byte[] reuse) {
    ByteBuffer b = startChunk(from, n, reuse);
    b.asFloatBuffer().put(floats, at, n);
    b.position(b.position() + Float.BYTES * n);
    return done(b);
  }

  private static ByteBuffer startChunk(int from, int n, byte[] reuse) {
    int size = HEADER + 2 * Integer.BYTES + Float.BYTES * n;
    return open(size, reuse, WEIGHTS_CHUNK).putInt(from).putInt(n);
  }

  /**
   * The floats of the {@link StageMessages.WeightsChunk} in {@code bytes}, read into {@code into}
   * (reused every step), which must be exactly the chunk that starts at {@code from}.
   *
   * @throws IllegalArgumentException naming what differs: another message, another chunk's start or
   *     size, or a length that does not fit the bytes
   */
  static float[] decodeWeightsChunk(byte[] bytes, int from, float[] into) {
    Reader r = expect(bytes, WEIGHTS_CHUNK);
    ByteBuffer b = r.b;
    int start = r.getInt();
    int n = r.skipFloats("floats");
    r.end();
    if (start != from || n != into.length) {
      throw new IllegalArgumentException(
          "training stage: the driver sent the weights' floats ["
              + start
              + ", "
              + ((long) start + n)
              + ") where this task's chunk is ["
              + from
              + ", "
              + ((long) from + into.length)
              + ")");
    }
    readFloats(bytes, b.position() - Float.BYTES * n, into, n);
    return into;
  }

  /**
   * The message in {@code bytes}, which must be of {@code type} ({@code Object.class}: any).
   *
   * @throws IllegalArgumentException naming what is wrong: not this format, another message type
   *     than expected, a length that does not fit the bytes, or bytes left over
   */
  public static <T> T decode(byte[] bytes, Class<T> type) {
    ByteBuffer b = header(bytes);
    int kind = b.getInt();
    Class<?> actual = typeOf(kind);
    if (type != Object.class && type != actual) {
      throw new IllegalArgumentException(
          "expected a training-stage "
              + type.getSimpleName()
              + ", got a "
              + actual.getSimpleName());
    }
    Reader r = new Reader(b, actual.getSimpleName());
    Object message =
        switch (kind) {
          case REGISTER -> new StageMessages.Register(r.getInt(), r.getInt());
          case RESUME -> new StageMessages.Resume(r.getInt(), r.weights(), r.optimizer());
          case SUBMIT -> r.submit();
          case WEIGHTS -> r.weights();
          case SHARD -> r.shard();
          case WEIGHTS_CHUNK -> new StageMessages.WeightsChunk(r.getInt(), r.floats("floats"));
          case STEP -> r.step(bytes);
          default -> throw new AssertionError(kind); // typeOf refused it
        };
    r.end();
    return type.cast(message);
  }

  /**
   * A {@link StageMessages.Submit} read without copying its arrays: its fields, and where its
   * values and buffers lie in {@code bytes}, which the driver adds into the step's sum directly
   * ({@link #readFloats}). Checked as strictly as {@link #decode}.
   */
  record SubmitHead(
      int partition,
      int stageAttempt,
      int step,
      StageMessages.TaskTimes times,
      long examples,
      double lossSum,
      long correct,
      int values,
      int valuesOffset,
      int buffers,
      int buffersOffset,
      byte[] bytes) {}

  /** The type of message {@code bytes} holds ({@link #REGISTER}, ...), checking the header. */
  static int type(byte[] bytes) {
    ByteBuffer b = header(bytes);
    typeOf(b.getInt(Integer.BYTES));
    return b.getInt(Integer.BYTES);
  }

  /** The Submit in {@code bytes}, its arrays left in place. */
  static SubmitHead submitHead(byte[] bytes) {
    Reader r = expect(bytes, SUBMIT);
    SubmitHead h = r.submitHead();
    r.end();
    return h;
  }

  /**
   * The weights in {@code bytes}, read into {@code reuse}'s arrays when their sizes match (a task
   * receives weights of one size every step), else into new ones.
   */
  static RoundWeights decodeWeights(byte[] bytes, RoundWeights reuse) {
    Reader r = expect(bytes, WEIGHTS);
    ByteBuffer b = r.b;
    int values = r.skipFloats("values");
    int valuesOffset = b.position() - Float.BYTES * values;
    int buffers = r.skipFloats("buffers");
    int buffersOffset = b.position() - Float.BYTES * buffers;
    r.end();
    RoundWeights w =
        reuse != null && reuse.values().length == values && reuse.buffers().length == buffers
            ? reuse
            : new RoundWeights(new float[values], new float[buffers]);
    readFloats(bytes, valuesOffset, w.values(), values);
    readFloats(bytes, buffersOffset, w.buffers(), buffers);
    return w;
  }

  /**
   * A reader of {@code bytes} past the header, which must be a message of {@code type}.
   *
   * @throws IllegalArgumentException naming the expected and the actual message type
   */
  private static Reader expect(byte[] bytes, int type) {
    ByteBuffer b = header(bytes);
    int kind = b.getInt();
    String name = typeOf(type).getSimpleName();
    if (kind != type) {
      throw new IllegalArgumentException(
          "expected a training-stage " + name + ", got a " + typeOf(kind).getSimpleName());
    }
    return new Reader(b, name);
  }

  /** Copies {@code n} floats at {@code offset} of {@code bytes} into {@code into}, in bulk. */
  static void readFloats(byte[] bytes, int offset, float[] into, int n) {
    ByteBuffer.wrap(bytes, offset, Float.BYTES * n)
        .slice()
        .order(ByteOrder.LITTLE_ENDIAN)
        .asFloatBuffer()
        .get(into, 0, n);
  }

  private static Class<?> typeOf(int kind) {
    return switch (kind) {
      case REGISTER -> StageMessages.Register.class;
      case RESUME -> StageMessages.Resume.class;
      case SUBMIT -> StageMessages.Submit.class;
      case WEIGHTS -> RoundWeights.class;
      case SHARD -> StageMessages.Shard.class;
      case WEIGHTS_CHUNK -> StageMessages.WeightsChunk.class;
      case STEP -> Step.class;
      default ->
          throw new IllegalArgumentException("not a training-stage message: unknown type " + kind);
    };
  }

  /** A little-endian buffer over {@code bytes}, positioned after the checked magic. */
  private static ByteBuffer header(byte[] bytes) {
    if (bytes == null || bytes.length < HEADER) {
      throw new IllegalArgumentException(
          "not a training-stage message: "
              + (bytes == null ? "null" : bytes.length + " bytes")
              + ", shorter than the "
              + HEADER
              + "-byte header");
    }
    ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    int magic = b.getInt();
    if (magic != MAGIC) {
      throw new IllegalArgumentException(
          String.format(
              "not a training-stage message: magic 0x%08x, expected 0x%08x (a task and a"
                  + " driver of different Ember versions?)",
              magic, MAGIC));
    }
    return b;
  }

  private static int weightsSize(RoundWeights w) {
    return arraysSize(w.values().length, w.buffers().length);
  }

  private static int updateSize(Update u) {
    // examples, loss sum, correct, then the two arrays
    return 2 * Long.BYTES + Double.BYTES + arraysSize(u.values().length, u.buffers().length);
  }

  private static int arraysSize(int values, int buffers) {
    return Math.toIntExact(
        2L * Integer.BYTES + (long) Float.BYTES * values + Float.BYTES * buffers);
  }

  private static ByteBuffer start(int kind, int body) {
    return ByteBuffer.allocate(HEADER + body)
        .order(ByteOrder.LITTLE_ENDIAN)
        .putInt(MAGIC)
        .putInt(kind);
  }

  private static byte[] done(ByteBuffer b) {
    if (b.hasRemaining()) {
      throw new IllegalStateException("StageWire sized a message wrongly: " + b);
    }
    return b.array();
  }

  private static void putWeights(ByteBuffer b, RoundWeights w) {
    putFloats(b, w.values());
    putFloats(b, w.buffers());
  }

  /** The length, then the floats in one bulk copy through a float view of the buffer. */
  private static void putFloats(ByteBuffer b, float[] values) {
    b.putInt(values.length);
    b.asFloatBuffer().put(values);
    b.position(b.position() + Float.BYTES * values.length);
  }

  /** Reads fields, checking each length against what remains. */
  private static final class Reader {
    private final ByteBuffer b;
    private final String what;

    Reader(ByteBuffer b, String what) {
      this.b = b;
      this.what = what;
    }

    private void need(long bytes, String field) {
      if (bytes > b.remaining()) {
        throw new IllegalArgumentException(
            "truncated training-stage "
                + what
                + ": its "
                + field
                + " needs "
                + bytes
                + " bytes at offset "
                + b.position()
                + ", only "
                + b.remaining()
                + " of "
                + b.capacity()
                + " remain");
      }
    }

    int getInt() {
      need(Integer.BYTES, "header");
      return b.getInt();
    }

    long getLong(String field) {
      need(Long.BYTES, field);
      return b.getLong();
    }

    float[] floats(String field) {
      need(Integer.BYTES, field + " length");
      int n = b.getInt();
      if (n < 0) {
        throw new IllegalArgumentException(
            "corrupt training-stage " + what + ": its " + field + " has length " + n);
      }
      need((long) Float.BYTES * n, field + " (" + n + " floats)");
      float[] out = new float[n];
      b.asFloatBuffer().get(out);
      b.position(b.position() + Float.BYTES * n);
      return out;
    }

    RoundWeights weights() {
      float[] values = floats("values");
      return new RoundWeights(values, floats("buffers"));
    }

    Step step(byte[] bytes) {
      return step(bytes, null, null);
    }

    /** A Step's fields, its arrays read into {@code values}/{@code buffers} when they fit. */
    Step step(byte[] bytes, float[] values, float[] buffers) {
      int k = getInt();
      if (k < 0 || k >= Step.Kind.values().length) {
        throw new IllegalArgumentException("corrupt training-stage Step: kind " + k);
      }
      int n = skipFloats("values");
      float[] v = values != null && values.length == n ? values : new float[n];
      readFloats(bytes, b.position() - Float.BYTES * n, v, n);
      need(Integer.BYTES, "buffers length");
      float[] bufs = null;
      if (b.getInt(b.position()) == -1) {
        b.getInt();
      } else {
        int m = skipFloats("buffers");
        bufs = buffers != null && buffers.length == m ? buffers : new float[m];
        readFloats(bytes, b.position() - Float.BYTES * m, bufs, m);
      }
      return new Step(Step.Kind.values()[k], v, bufs);
    }

    private int count(String field) {
      int n = getInt();
      if (n < 0) {
        throw new IllegalArgumentException(
            "corrupt training-stage " + what + ": its " + field + " count is " + n);
      }
      return n;
    }

    private String name(String field) {
      int n = count(field + " name length");
      need(n, field + " name");
      byte[] name = new byte[n];
      b.get(name);
      return new String(name, StandardCharsets.UTF_8);
    }

    /** The optimizer state after a Resume's weights, or null when it carries none. */
    StageMessages.OptimizerState optimizer() {
      int flag = getInt();
      if (flag == 0) {
        return null;
      }
      if (flag != 1) {
        throw new IllegalArgumentException(
            "corrupt training-stage " + what + ": optimizer flag " + flag);
      }
      Map<String, Double> scalars = new LinkedHashMap<>();
      for (int i = count("optimizer scalar"); i > 0; i--) {
        String name = name("optimizer scalar");
        need(Double.BYTES, "optimizer scalar " + name);
        scalars.put(name, b.getDouble());
      }
      Map<String, float[]> buffers = new LinkedHashMap<>();
      for (int i = count("optimizer buffer"); i > 0; i--) {
        String name = name("optimizer buffer");
        buffers.put(name, floats("optimizer buffer " + name));
      }
      return new StageMessages.OptimizerState(scalars, buffers);
    }

    /** Skips an array after checking its length; returns the length (position: its data). */
    int skipFloats(String field) {
      need(Integer.BYTES, field + " length");
      int n = b.getInt();
      if (n < 0) {
        throw new IllegalArgumentException(
            "corrupt training-stage " + what + ": its " + field + " has length " + n);
      }
      need((long) Float.BYTES * n, field + " (" + n + " floats)");
      b.position(b.position() + Float.BYTES * n);
      return n;
    }

    /** The task's timings, as {@link #putTimes} wrote them. */
    StageMessages.TaskTimes times() {
      return new StageMessages.TaskTimes(
          getLong("times"), getLong("times"), getLong("times"), getLong("times"), getLong("times"));
    }

    SubmitHead submitHead() {
      int partition = getInt();
      int attempt = getInt();
      int step = getInt();
      StageMessages.TaskTimes times = times();
      long examples = getLong("examples");
      need(Double.BYTES, "loss");
      double loss = b.getDouble();
      long correct = getLong("correct");
      if (examples < 0) {
        throw new IllegalArgumentException(
            "corrupt training-stage Submit: partition "
                + partition
                + " reports "
                + examples
                + " examples");
      }
      int values = skipFloats("values");
      int valuesOffset = b.position() - Float.BYTES * values;
      int buffers = skipFloats("buffers");
      int buffersOffset = b.position() - Float.BYTES * buffers;
      return new SubmitHead(
          partition,
          attempt,
          step,
          times,
          examples,
          loss,
          correct,
          values,
          valuesOffset,
          buffers,
          buffersOffset,
          b.array());
    }

    StageMessages.Shard shard() {
      int partition = getInt();
      int attempt = getInt();
      int step = getInt();
      StageMessages.TaskTimes times = times();
      int values = getInt();
      int buffers = getInt();
      long examples = getLong("examples");
      need(Double.BYTES, "loss");
      double loss = b.getDouble();
      long correct = getLong("correct");
      if (examples < 0 || values < 0 || buffers < 0) {
        throw new IllegalArgumentException(
            "corrupt training-stage Shard: partition "
                + partition
                + " reports "
                + examples
                + " examples of an update of "
                + values
                + "+"
                + buffers
                + " floats");
      }
      float[] floats = floats("floats");
      return new StageMessages.Shard(
          partition,
          attempt,
          step,
          values,
          buffers,
          new UpdateChunks.Summed(floats, examples, loss, correct),
          times);
    }

    StageMessages.Submit submit() {
      SubmitHead h = submitHead();
      float[] values = new float[h.values()];
      readFloats(h.bytes(), h.valuesOffset(), values, values.length);
      float[] buffers = new float[h.buffers()];
      readFloats(h.bytes(), h.buffersOffset(), buffers, buffers.length);
      return new StageMessages.Submit(
          h.partition(),
          h.stageAttempt(),
          h.step(),
          new Update(values, buffers, h.examples(), h.lossSum(), h.correct()),
          h.times());
    }

    void end() {
      if (b.hasRemaining()) {
        throw new IllegalArgumentException(
            "oversized training-stage "
                + what
                + ": "
                + b.remaining()
                + " bytes left over after "
                + b.position()
                + " of "
                + b.capacity());
      }
    }
  }
}
