package org.emberdl.tensor.cuda;

/**
 * A device allocation that neither the cache, the device nor Ember's memory limit could serve; the
 * message names the request and the allocator's state.
 */
public final class DeviceOutOfMemoryException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  DeviceOutOfMemoryException(String message) {
    super(message);
  }
}
