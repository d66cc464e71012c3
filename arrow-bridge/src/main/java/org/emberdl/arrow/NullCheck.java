package org.emberdl.arrow;

/**
 * Whether a zero-copy import reads the validity bitmaps to reject nulls.
 *
 * <p>Arrow leaves the value under a null slot unspecified, so an unchecked null would reach the
 * model as whatever bytes the producer left there. {@link #SCAN} is therefore the default. It reads
 * one bit per value (1/32 of a float32 column's bytes, never the values), so its cost grows with
 * the column; {@link #SKIP} makes a wrap constant-time, for columns already known to be null-free:
 * a cached batch scanned once when it was cached, or a column Ember exported itself.
 */
public enum NullCheck {
  /** Reject the first null (of a row, or of a value inside a list row) with its row number. */
  SCAN,
  /** Do not read the validity bitmaps: the caller vouches that there are no nulls. */
  SKIP
}
