/**
 * CUDA on this machine: {@link org.emberdl.tensor.cuda.CudaAvailability} says, once per JVM and
 * without ever failing, whether an NVIDIA driver and a device are present and, if not, why; {@link
 * org.emberdl.tensor.cuda.CudaLibraries} says the same of cuBLAS and cuDNN. The CUDA backend itself
 * (kernels, allocator, cuBLAS) is not part of this build: {@link org.emberdl.tensor.Backends} names
 * the reason CUDA cannot be used and says that Ember runs on the CPU.
 */
package org.emberdl.tensor.cuda;
