/**
 * Reading and writing arrays in interchange formats: {@link org.emberdl.tensor.io.Safetensors} for
 * the safetensors files PyTorch and Hugging Face share weights in.
 */
package org.emberdl.tensor.io;
