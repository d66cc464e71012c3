/**
 * Arrow columnar data to and from Ember arrays without copying: a tensor's memory <em>is</em> the
 * Arrow buffer.
 *
 * <ul>
 *   <li>{@link org.emberdl.arrow.ArrowTensors}: one column to an {@code NDArray} ({@code wrap},
 *       zero-copy; {@code copy}, {@code copyColumns}, which copy), arrays to vectors ({@code
 *       export}, zero-copy), and the device-upload hook ({@code upload}).
 *   <li>{@link org.emberdl.arrow.ArrowBatch} and {@link org.emberdl.arrow.ArrowBatchSpec}: a record
 *       batch's features and labels by column name, with schema validation.
 *   <li>{@link org.emberdl.arrow.ArrowBatchWriter} and {@link org.emberdl.arrow.ArrowBatchReader}:
 *       Arrow IPC, stream and file formats.
 * </ul>
 *
 * <p>Shared memory is reference-counted by Arrow itself: an imported array holds a reference on the
 * vector's buffer, an exported vector one on the array's storage. Either side can be closed first;
 * the last one frees the memory. Bad input is an {@link org.emberdl.arrow.ArrowImportException}
 * naming the column and the first bad row.
 */
package org.emberdl.arrow;
