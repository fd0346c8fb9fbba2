//! How a model is loaded and run.

/// Settings of one loaded model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// Sequences decoded together (llama.cpp's `n_seq_max`): how many
    /// requests run at once; more wait in a queue.
    pub slots: u32,
    /// Tokens of context per slot; the context llama.cpp allocates is
    /// `slots × context`.
    pub context: u32,
    /// CPU threads for decoding.
    pub threads: u32,
    /// Most prompt tokens processed in one step, so a long prompt is taken in
    /// chunks and does not stall running streams.
    pub batch: u32,
}

impl Default for EngineConfig {
    fn default() -> Self {
        let threads = std::thread::available_parallelism().map_or(4, |n| n.get() as u32);
        Self {
            slots: 4,
            context: 4096,
            threads,
            batch: 512,
        }
    }
}
