//! A Python pickle disassembler and symbolic evaluator that never executes anything.
