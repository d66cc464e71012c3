/**
 * Off-heap and device memory: Arrow-accounted, reference-counted {@link
 * org.emberdl.tensor.memory.Storage} shared by array views.
 */
package org.emberdl.tensor.memory;
