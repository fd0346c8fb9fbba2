//! A reader for safetensors files and sharded safetensors checkpoints.
