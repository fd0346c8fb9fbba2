//! Readers for PyTorch checkpoints: zip, legacy pickle streams and legacy tar.
