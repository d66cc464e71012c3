/**
 * The CPU backend. Elementwise kernels run over tiles copied from off-heap memory into heap arrays
 * (which C2 vectorizes), split over Ember's one thread pool; GEMM is OpenBLAS through JavaCPP,
 * called on the off-heap addresses. Only {@link org.emberdl.tensor.cpu.CpuBackend} is public.
 */
package org.emberdl.tensor.cpu;
