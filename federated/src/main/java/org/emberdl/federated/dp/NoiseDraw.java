package org.emberdl.federated.dp;

import java.util.Arrays;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import org.emberdl.tensor.DType;
import org.emberdl.tensor.Generator;
import org.emberdl.tensor.NDArray;
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
 * <p>The draw runs on {@link NoiseThread}, one JVM-wide daemon thread that exits when idle, so
 * nothing has to shut it down. It calls {@link Philox} directly and never Ember's CPU thread pool,
 * whose workers the caller's forward and backward passes use. The noise array is owned: {@link
 * #join} hands it to the caller, and {@link #close} without a join (the clipping failed) waits for
 * the draw and frees it.
 */
final class NoiseDraw implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(NoiseDraw.class);

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
      Generator gen, DType dtype, double std, int[] shape, Fill fill, boolean background) {
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
      task = NoiseThread.submit(() -> fill.draw(philox, offset, dtype, std, s));
      if (task == null) {
        LOG.debug("the DP noise thread refused the draw; drawing on the calling thread");
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
    boolean supported = dtype == DType.FLOAT32 || dtype == DType.FLOAT64;
    return start(gen, dtype, std, background && supported, NoiseDraw::fill, shape);
  }

  /** As above with the background fill given (tests make it fail). */
  static NoiseDraw start(
      Generator gen, DType dtype, double std, boolean background, Fill fill, int... shape) {
    return new NoiseDraw(gen, dtype, std, shape, fill, background);
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
          "drawing the DP-SGD noise (" + describe() + ") on the background thread failed: " + cause,
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
}
