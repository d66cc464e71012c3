/**
 * Data loading for training, the analogue of PyTorch's {@code torch.utils.data}: {@link
 * org.emberdl.data.IdxReader} reads IDX files (the MNIST format), {@link
 * org.emberdl.data.FashionMnist} loads Fashion-MNIST from Debian's {@code dataset-fashion-mnist}
 * package, a {@link org.emberdl.data.Dataset} holds (features, labels) in memory, and a {@link
 * org.emberdl.data.DataLoader} cuts it into seeded, reproducible mini-batches.
 *
 * <p>Every array here is off-heap: datasets and batches are {@link java.lang.AutoCloseable} and
 * belong to the caller, who closes them (or creates them inside a {@link
 * org.emberdl.tensor.MemoryScope}).
 */
package org.emberdl.data;
