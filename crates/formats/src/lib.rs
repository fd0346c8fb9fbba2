//! Content sniffing and one entry point that opens any supported model artifact.
