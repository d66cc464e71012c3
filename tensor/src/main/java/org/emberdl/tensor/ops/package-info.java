/**
 * The op vocabulary of the tensor engine: one enum constant per elementwise or reduction op. Every
 * backend and the autograd layer switch over these enums exhaustively.
 */
package org.emberdl.tensor.ops;
