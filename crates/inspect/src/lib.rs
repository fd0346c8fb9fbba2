//! Turns parsed model artifacts into facts: architecture, parameters, quantization, memory.
