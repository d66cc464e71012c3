package org.emberdl.tensor.ops;

/** Elementwise ops of two broadcast operands. See {@link UnaryOp} for how ops are declared. */
public enum BinaryOp {
  ADD("add", Kind.ARITHMETIC),
  SUB("sub", Kind.ARITHMETIC),
  MUL("mul", Kind.ARITHMETIC),
  /** True division: integer inputs give a floating result, as in PyTorch. */
  DIV("div", Kind.REAL),
  POW("pow", Kind.ARITHMETIC),
  MAXIMUM("maximum", Kind.ARITHMETIC),
  MINIMUM("minimum", Kind.ARITHMETIC),
  EQ("eq", Kind.COMPARISON),
  NE("ne", Kind.COMPARISON),
  LT("lt", Kind.COMPARISON),
  LE("le", Kind.COMPARISON),
  GT("gt", Kind.COMPARISON),
  GE("ge", Kind.COMPARISON),
  LOGICAL_AND("logical_and", Kind.LOGICAL),
  LOGICAL_OR("logical_or", Kind.LOGICAL);

  /** How an op's result dtype is derived from its inputs. */
  public enum Kind {
    /** Promoted input dtype. */
    ARITHMETIC,
    /** Promoted input dtype, made floating. */
    REAL,
    /** Bool, computed in the promoted input dtype. */
    COMPARISON,
    /** Bool, inputs read as truth values. */
    LOGICAL
  }

  private final String kernelName;
  private final Kind kind;

  BinaryOp(String kernelName, Kind kind) {
    this.kernelName = kernelName;
    this.kind = kind;
  }

  public String kernelName() {
    return kernelName;
  }

  public Kind kind() {
    return kind;
  }

  /** True when the result is bool. */
  public boolean returnsBool() {
    return kind == Kind.COMPARISON || kind == Kind.LOGICAL;
  }
}
