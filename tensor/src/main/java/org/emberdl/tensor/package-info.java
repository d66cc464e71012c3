/**
 * Ember's tensor engine: {@link org.emberdl.tensor.NDArray}, an n-d array on a {@link
 * org.emberdl.tensor.Device} with PyTorch's op names and NumPy broadcasting, off-heap memory from
 * an Arrow allocator freed by {@link org.emberdl.tensor.MemoryScope}s, and counter-based randomness
 * ({@link org.emberdl.tensor.Generator}). Kernels run behind the {@link org.emberdl.tensor.Backend}
 * SPI; this package holds no device-specific code. No gradients here: see {@code
 * org.emberdl.autograd}.
 */
package org.emberdl.tensor;
