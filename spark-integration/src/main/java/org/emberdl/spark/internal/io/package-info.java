/**
 * Model persistence and checkpoints: MLWriter/MLReader, state dicts, safetensors weights, atomic
 * saves on any Hadoop file system. Internal: not a public API, may change without notice.
 */
package org.emberdl.spark.internal.io;
