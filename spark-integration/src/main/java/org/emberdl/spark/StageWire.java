package org.emberdl.spark;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.ObjectStreamClass;
import java.io.Serializable;
import java.io.UncheckedIOException;

/**
 * The bytes a training stage's messages travel as over Spark's RPC. Spark deserializes an RPC
 * message on its dispatcher threads with Spark's own class loader, which does not see the classes
 * of an application jar (spark-submit loads those in a child loader): a message of an Ember class
 * would fail with {@code ClassNotFoundException} on a real cluster and tear the connection down. So
 * every message is a {@code byte[]} (known to every loader), serialized and read back here with the
 * loader that loaded Ember.
 */
final class StageWire {
  private StageWire() {}

  static byte[] encode(Serializable message) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(message);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot encode a training-stage message", e);
    }
    return bytes.toByteArray();
  }

  /** The message in {@code bytes}, which must be of {@code type}. */
  static <T> T decode(byte[] bytes, Class<T> type) {
    try (ObjectInputStream in = new EmberObjectInput(new ByteArrayInputStream(bytes))) {
      return type.cast(in.readObject());
    } catch (IOException | ClassNotFoundException e) {
      throw new IllegalStateException("cannot decode a training-stage message", e);
    }
  }

  /** Resolves classes with Ember's own loader, not the caller's thread's. */
  private static final class EmberObjectInput extends ObjectInputStream {
    EmberObjectInput(InputStream in) throws IOException {
      super(in);
    }

    @Override
    protected Class<?> resolveClass(ObjectStreamClass desc)
        throws IOException, ClassNotFoundException {
      try {
        return Class.forName(desc.getName(), false, StageWire.class.getClassLoader());
      } catch (ClassNotFoundException e) {
        return super.resolveClass(desc);
      }
    }
  }
}
