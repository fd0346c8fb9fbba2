//! Readers for Hugging Face snapshot directories: configs, model card, license files, shards.
