/**
 * The CUDA backend. {@link org.emberdl.tensor.cuda.CudaAvailability} says, once per JVM and without
 * ever failing, whether an NVIDIA driver and a device are present and, if not, why; {@link
 * org.emberdl.tensor.cuda.CudaLibraries} says the same of cuBLAS and cuDNN. Where CUDA is
 * available, {@link org.emberdl.tensor.cuda.CudaBackendProvider} gives {@link
 * org.emberdl.tensor.Backends} one {@link org.emberdl.tensor.cuda.CudaBackend} per device: Ember's
 * CUDA C kernels ({@code *.cu} beside these classes, compiled by NVRTC at build time, see {@link
 * org.emberdl.tensor.cuda.KernelCompiler} and {@link org.emberdl.tensor.cuda.KernelTargets}) loaded
 * with the driver API, a {@link org.emberdl.tensor.cuda.CachingDeviceAllocator}, one stream and
 * pinned staging per engine, and cuBLAS for GEMM where the machine has it.
 */
package org.emberdl.tensor.cuda;
