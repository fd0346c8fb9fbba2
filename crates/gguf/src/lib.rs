//! A bounds-checked reader for GGUF v2/v3 model files.
