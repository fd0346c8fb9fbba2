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
    /// Most tokens decoded in one step (llama.cpp's `n_batch`, 2048 as
    /// llama-server's): a long prompt is taken in chunks of this size, so it
    /// does not stall running streams for long; llama.cpp computes a step
    /// in physical batches of [`MAX_UBATCH`].
    pub batch: u32,
}

/// The largest physical batch (llama.cpp's `n_ubatch`): a step's tokens are
/// computed in pieces of at most this many, as llama-server computes them.
pub const MAX_UBATCH: u32 = 512;

impl EngineConfig {
    /// llama.cpp's `n_batch`: every generating slot's token plus the prompt
    /// tokens of one step.
    pub fn n_batch(&self) -> u32 {
        self.batch.max(self.slots).max(1)
    }

    /// llama.cpp's `n_ubatch`.
    pub fn n_ubatch(&self) -> u32 {
        self.n_batch().min(MAX_UBATCH)
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        let threads = std::thread::available_parallelism().map_or(4, |n| n.get() as u32);
        Self {
            slots: 4,
            context: 4096,
            threads,
            batch: 2048,
        }
    }
}
