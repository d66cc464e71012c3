package org.emberdl.spark;

/** Whether a stage classifies (class-index labels, cross-entropy) or regresses (real targets). */
enum TaskKind {
  CLASSIFICATION,
  REGRESSION
}
