package org.emberdl.federated.dp;

import java.util.Arrays;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.NDArray;
import org.emberdl.tensor.cpu.CpuNormalFill;
import org.emberdl.tensor.cpu.IdleWork;
import org.emberdl.tensor.random.Philox;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Gaussian noise of one DP-SGD step, drawn on a background thread while the caller computes the
 * clipped sum: the noise depends only on the generator's (seed, stream, position), never on the
 * gradient, so it can be drawn before the gradient exists.
 *
 * <p>Same bits as {@code NDArray.normal(gen, dtype, 0, std, shape)} called after the clipping: the
 * draw reads the values that call would reserve at the generator's position when the draw starts,
 * and {@link #join} moves the generator past them. If something else drew from the generator in
 * between (a dropout layer sharing it), the noise belongs after those draws: the background values
 * are dropped and the noise is drawn again, on the calling thread, where the plain call would have
 * drawn it.
 *
 * <p>Where it runs ({@link DpSgd.NoiseDrawing}): on {@link NoiseThread}, one JVM-wide daemon thread
 * that exits when idle, so nothing has to shut it down, when a core is left over by Ember's pool;
 * or, when every core is in the pool, in chunks of {@link #CHUNK} values that the pool's workers
 * draw while the clipping leaves them idle ({@link IdleWork}: between the step's parallel regions,
 * while the calling thread runs serial code), with {@link #join} drawing the chunks left on every
 * pool thread. Either way it calls {@link Philox} directly, so the values are those of one draw.
 * The noise array is owned: {@link #join} hands it to the caller, and {@link #close} without a join
 * (the clipping failed) waits for the draw and frees it.
 */
final class NoiseDraw implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(NoiseDraw.class);

  /**
   * Values per chunk drawn by an idle pool worker: small enough that a parallel region the worker
   * is needed for waits little for the chunk in hand (about 10-20 us of one core here).
   */
  static final int CHUNK = 2048;

  /** Computes the values {@code [offset, offset + numel)} of {@code philox}'s normal sequence. */
  @FunctionalInterface
  interface Fill {
    NDArray draw(Philox philox, long offset, DType dtype, double std, int[] shape);
  }

  private final Generator gen;
  private final long start;
  private final long end;
  private final DType dtype;
  private final double std;
  private final int[] shape;
  private final Future<NDArray> pending;
  private boolean done;

  private NoiseDraw(
      Generator gen, DType dtype, double std, int[] shape, Fill fill, DpSgd.NoiseDrawing where) {
    boolean background = where != DpSgd.NoiseDrawing.CALLER;
    this.gen = gen;
    this.dtype = dtype;
    this.std = std;
    this.shape = shape.clone();
    Future<NDArray> task = null;
    long first = 0;
    long last = 0;
    if (background) {
      long n = 1;
      for (int d : shape) {
        n *= d;
      }
      // Where NDArray.normal would read now, worked out on a copy: the caller's generator only
      // moves in join().
      Generator probe = new Generator(gen.seed(), gen.stream());
      synchronized (gen) {
        first = gen.position();
      }
      probe.setPosition(first);
      long offset = probe.reserveNormal(n, dtype);
      last = probe.position();
      Philox philox = new Philox(gen.seed(), gen.stream());
      int[] s = this.shape;
      if (where == DpSgd.NoiseDrawing.IDLE_POOL_WORKERS) {
        task = IdleFill.offer(philox, offset, dtype, std, s);
        if (task == null) {
          LOG.debug("the CPU pool took no idle work; drawing the noise on the calling thread");
        }
      } else {
        task = NoiseThread.submit(() -> fill.draw(philox, offset, dtype, std, s));
        if (task == null) {
          LOG.debug("the DP noise thread refused the draw; drawing on the calling thread");
        }
      }
    }
    this.start = first;
    this.end = last;
    this.pending = task;
  }

  /**
   * Starts drawing {@code N(0, std^2)} values of {@code shape} from {@code gen} on the noise thread
   * (on the calling thread, in {@link #join}, for dtypes other than float32 and float64 or when
   * {@code background} is false).
   */
  static NoiseDraw start(Generator gen, DType dtype, double std, boolean background, int... shape) {
    return start(
        gen,
        dtype,
        std,
        background ? DpSgd.NoiseDrawing.NOISE_THREAD : DpSgd.NoiseDrawing.CALLER,
        shape);
  }

  /**
   * Starts drawing {@code N(0, std^2)} values of {@code shape} from {@code gen} where {@code where}
   * says (on the calling thread, in {@link #join}, for dtypes other than float32 and float64).
   */
  static NoiseDraw start(
      Generator gen, DType dtype, double std, DpSgd.NoiseDrawing where, int... shape) {
    boolean supported = dtype == DType.FLOAT32 || dtype == DType.FLOAT64;
    return new NoiseDraw(
        gen, dtype, std, shape, NoiseDraw::fill, supported ? where : DpSgd.NoiseDrawing.CALLER);
  }

  /** As above on the noise thread, with the background fill given (tests make it fail). */
  static NoiseDraw start(
      Generator gen, DType dtype, double std, boolean background, Fill fill, int... shape) {
    return new NoiseDraw(
        gen,
        dtype,
        std,
        shape,
        fill,
        background ? DpSgd.NoiseDrawing.NOISE_THREAD : DpSgd.NoiseDrawing.CALLER);
  }

  /**
   * The noise (owned by the caller), with the generator moved past it as {@code NDArray.normal}
   * would have moved it.
   *
   * @throws IllegalStateException when the background draw failed (the cause attached), or the
   *     calling thread was interrupted while waiting for it
   */
  NDArray join() {
    if (done) {
      throw new IllegalStateException("the DP-SGD noise was already taken");
    }
    done = true;
    if (pending == null) {
      return NDArray.normal(gen, dtype, 0, std, shape);
    }
    NDArray noise = await();
    synchronized (gen) {
      if (gen.position() == start) {
        gen.setPosition(end);
        return noise;
      }
    }
    noise.close();
    LOG.debug(
        "generator moved from {} to {} during the DP-SGD noise draw; drawing it again after",
        start,
        gen.position());
    return NDArray.normal(gen, dtype, 0, std, shape);
  }

  private NDArray await() {
    try {
      return pending.get();
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      throw new IllegalStateException(
          "drawing the DP-SGD noise ("
              + describe()
              + ") "
              + (pending instanceof IdleFill ? "on idle pool workers" : "on the background thread")
              + " failed: "
              + cause,
          cause);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      discard();
      throw new IllegalStateException(
          "interrupted while waiting for the DP-SGD noise (" + describe() + ")", e);
    } catch (CancellationException e) {
      throw new IllegalStateException("the DP-SGD noise draw (" + describe() + ") was cancelled");
    }
  }

  private String describe() {
    return Arrays.toString(shape)
        + " "
        + dtype
        + " values, std "
        + std
        + ", seed "
        + gen.seed()
        + ", stream "
        + gen.stream()
        + ", position "
        + start;
  }

  /** Frees the noise unless {@link #join} handed it out (waits for a draw in progress). */
  @Override
  public void close() {
    if (!done) {
      done = true;
      discard();
    }
  }

  private void discard() {
    if (pending == null) {
      return;
    }
    if (pending instanceof IdleFill idle) {
      idle.discard();
      return;
    }
    // No cancel: FutureTask.cancel reports success for a draw already running, whose array would
    // then never be freed. Waiting costs at most one draw.
    boolean interrupted = false;
    while (true) {
      try {
        pending.get().close();
        break;
      } catch (InterruptedException e) {
        interrupted = true; // the array must still be freed: wait on
      } catch (ExecutionException | CancellationException e) {
        LOG.debug("discarded DP-SGD noise draw had failed", e);
        break;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  /** Philox's normal fill into a heap array, then one copy into a new owned array. */
  private static NDArray fill(Philox philox, long offset, DType dtype, double std, int[] shape) {
    int n = 1;
    for (int d : shape) {
      n = Math.multiplyExact(n, d);
    }
    if (dtype == DType.FLOAT32) {
      float[] v = new float[n];
      philox.normal(offset, v, 0, n, 0f, (float) std);
      return NDArray.of(v, shape);
    }
    double[] v = new double[n];
    philox.normal(offset, v, 0, n, 0.0, std);
    return NDArray.of(v, shape);
  }

  /**
   * The noise drawn in chunks by idle pool workers ({@link IdleWork}) straight into its owned
   * array, as a future: {@link #get} draws the chunks left on every pool thread.
   */
  private static final class IdleFill implements Future<NDArray> {
    private final IdleWork.Job job;
    private NDArray out;
    private ExecutionException failure;
    private boolean finished;

    private IdleFill(IdleWork.Job job, NDArray out) {
      this.job = job;
      this.out = out;
    }

    /** Null when the pool takes no idle work (one worker-less pool, or another job pending). */
    static IdleFill offer(Philox philox, long offset, DType dtype, double std, int[] shape) {
      NDArray out = NDArray.empty(dtype, shape);
      long n = out.numel();
      int chunks = Math.toIntExact((n + CHUNK - 1) / CHUNK);
      IdleWork.Job job;
      try {
        job =
            IdleWork.offer(
                chunks,
                // Philox is counter-based: a chunk reads the values at offset + its first index,
                // whichever thread draws it and when, so the whole array equals one draw
                i -> {
                  long from = (long) i * CHUNK;
                  int len = (int) Math.min(CHUNK, n - from);
                  CpuNormalFill.normal(philox, offset, out, from, len, 0.0, std);
                });
      } catch (RuntimeException e) {
        out.close();
        throw e;
      }
      if (job == null) {
        out.close();
        return null;
      }
      return new IdleFill(job, out);
    }

    @Override
    public synchronized NDArray get() throws ExecutionException {
      if (!finished) {
        finished = true;
        try {
          job.finish();
        } catch (RuntimeException | Error e) {
          out.close();
          out = null;
          failure = new ExecutionException(e);
        }
      }
      if (failure != null) {
        throw failure;
      }
      return out;
    }

    /** Withdraws the chunks not drawn yet, waits for those being drawn, and frees the array. */
    synchronized void discard() {
      if (!finished) {
        finished = true;
        job.cancel();
      }
      if (out != null) {
        out.close();
        out = null;
      }
    }

    @Override
    public NDArray get(long timeout, TimeUnit unit) throws ExecutionException {
      return get();
    }

    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
      return false;
    }

    @Override
    public boolean isCancelled() {
      return false;
    }

    @Override
    public synchronized boolean isDone() {
      return finished;
    }
  }
}
