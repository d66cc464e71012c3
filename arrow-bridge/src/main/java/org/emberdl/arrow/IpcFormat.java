package org.emberdl.arrow;

/** The two Arrow IPC formats. */
public enum IpcFormat {
  /**
   * A sequence of messages read front to back: for pipes and sockets between processes, and for
   * writers that do not know how many batches will follow.
   */
  STREAM,
  /**
   * The stream plus a footer indexing every batch ({@code .arrow} files, Feather v2): for files,
   * read back with random access.
   */
  FILE
}
