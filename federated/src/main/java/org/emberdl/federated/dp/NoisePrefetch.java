package org.emberdl.federated.dp;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The noise of a central DP aggregator's next round, drawn on the {@link NoiseThread} while that
 * round's updates are being computed (the driver is idle then): each {@link #take} returns round
 * {@code r}'s noise and starts drawing round {@code r + 1}'s. The values are exactly {@code
 * source.sample(n, std, r)}, prefetched or not (the source keys them by round); a prefetch for
 * another round, length or std is dropped and the noise drawn on the calling thread. Heap arrays
 * only, so a dropped or unused prefetch needs no freeing.
 */
final class NoisePrefetch {
  private static final Logger LOG = LoggerFactory.getLogger(NoisePrefetch.class);

  private final NoiseSource source;
  private Future<float[]> pending;
  private long pendingRound = -1;
  private int pendingLength;
  private double pendingStd;

  NoisePrefetch(NoiseSource source) {
    this.source = source;
  }

  /**
   * {@code source.sample(n, std, round)}, then starts drawing {@code sample(n, std, round + 1)} in
   * the background.
   *
   * @throws IllegalStateException when the calling thread is interrupted while waiting for it
   */
  synchronized float[] take(int n, double std, long round) {
    float[] noise = null;
    if (pending != null && pendingRound == round && pendingLength == n && pendingStd == std) {
      try {
        noise = pending.get();
      } catch (ExecutionException e) {
        // drawn again below: the same call on this thread fails the same way, or succeeds
        LOG.warn(
            "prefetching the DP noise of round {} failed; drawing it now", round, e.getCause());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        pending = null;
        throw new IllegalStateException(
            "interrupted while waiting for the DP noise of round " + round, e);
      }
    }
    pending = null;
    if (noise == null) {
      noise = source.sample(n, std, round);
    }
    long next = round + 1;
    pending = NoiseThread.submit(() -> source.sample(n, std, next));
    pendingRound = next;
    pendingLength = n;
    pendingStd = std;
    return noise;
  }
}
