package org.emberdl.spark.internal.io;

import java.io.IOException;
import java.util.UUID;
import org.apache.hadoop.fs.FSError;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes a directory beside its destination and renames it into place, so that a save that fails (a
 * full disk, a killed job) leaves the destination as it was: no half-written directory, and an
 * overwritten one intact. Spark's own {@code MLWriter.save} deletes the destination before writing;
 * this keeps its rules (an existing path is an error unless overwrite is asked for) without that
 * window.
 *
 * <p>File systems have no atomic replacement of a non-empty directory, so an overwrite moves the
 * old directory aside, moves the new one in, and then deletes the old one; a reader may see no
 * directory between the two renames, never a partial one. The temporary siblings are hidden ({@code
 * .name.ember-saving-<uuid>}, {@code .name.ember-replaced-<uuid>}) and removed on failure.
 */
final class AtomicSave {
  private static final Logger LOG = LoggerFactory.getLogger(AtomicSave.class);

  /** Writes the directory's contents under the path it is given (which does not exist yet). */
  @FunctionalInterface
  interface Writer {
    void write(Path dir) throws IOException;
  }

  /** Whether an existing directory is one this kind of save may replace. */
  @FunctionalInterface
  interface Ownership {
    boolean isOurs(FileSystem fs, Path dir) throws IOException;
  }

  private AtomicSave() {}

  /**
   * Saves to {@code target} through {@code writer}.
   *
   * @param what what is saved, for messages ("model")
   * @param overwrite whether an existing {@code target} may be replaced
   * @param ours decides whether an existing {@code target} holds what this save writes; anything
   *     else is never replaced, even with {@code overwrite}
   * @throws IOException when {@code target} exists (without overwrite, or not ours), or when the
   *     write or a rename fails (then {@code target} is as it was); a Hadoop {@link FSError} (a
   *     full disk on the local file system) arrives as the cause of one
   */
  static void save(
      FileSystem fs, Path target, String what, boolean overwrite, Ownership ours, Writer writer)
      throws IOException {
    Path dest = fs.makeQualified(target);
    boolean exists = fs.exists(dest);
    if (exists && !overwrite) {
      throw new IOException(
          "Path "
              + target
              + " already exists. To overwrite it, use write().overwrite().save(path)"
              + " (write.overwrite().save(path) in Scala and Python).");
    }
    if (exists && !ours.isOurs(fs, dest)) {
      throw new IOException(
          "refusing to overwrite "
              + target
              + ": it is not an Ember "
              + what
              + ", and overwrite() only replaces what Ember wrote; remove it yourself or save"
              + " elsewhere");
    }
    Path parent = dest.getParent();
    if (parent != null) {
      fs.mkdirs(parent);
    }
    String id = UUID.randomUUID().toString();
    Path tmp = new Path(parent, "." + dest.getName() + ".ember-saving-" + id);
    String kept =
        exists ? "the existing " + what + " is left as it was" : "nothing is left at the path";
    try {
      writer.write(tmp);
    } catch (IOException | RuntimeException | FSError e) {
      deleteQuietly(fs, tmp, e);
      throw new IOException(
          "cannot save the " + what + " to " + target + " (" + kept + "): " + describe(e), e);
    }
    if (!exists) {
      if (!fs.rename(tmp, dest)) {
        deleteQuietly(fs, tmp, null);
        throw new IOException(
            "cannot move the saved " + what + " from " + tmp + " into place at " + target);
      }
      return;
    }
    Path old = new Path(parent, "." + dest.getName() + ".ember-replaced-" + id);
    if (!fs.rename(dest, old)) {
      deleteQuietly(fs, tmp, null);
      throw new IOException(
          "cannot move the existing " + what + " at " + target + " aside (" + kept + ")");
    }
    if (!fs.rename(tmp, dest)) {
      boolean restored = fs.rename(old, dest);
      deleteQuietly(fs, tmp, null);
      throw new IOException(
          "cannot move the saved "
              + what
              + " into place at "
              + target
              + (restored
                  ? " (the existing " + what + " is back in place)"
                  : "; the existing " + what + " is at " + old));
    }
    try {
      if (!fs.delete(old, true)) {
        LOG.warn(
            "saved the {} to {}, but could not delete the replaced one at {}", what, dest, old);
      }
    } catch (IOException e) {
      LOG.warn(
          "saved the {} to {}, but could not delete the replaced one at {}", what, dest, old, e);
    }
  }

  private static String describe(Throwable e) {
    // FSError wraps the IOException that says what happened (e.g. "No space left on device").
    Throwable shown = e instanceof FSError && e.getCause() != null ? e.getCause() : e;
    return shown.getMessage() == null ? shown.toString() : shown.getMessage();
  }

  private static void deleteQuietly(FileSystem fs, Path dir, Throwable primary) {
    try {
      fs.delete(dir, true);
    } catch (IOException | RuntimeException | FSError e) {
      if (primary != null) {
        primary.addSuppressed(e);
      } else {
        LOG.warn("could not remove the temporary directory {}", dir, e);
      }
    }
  }
}
