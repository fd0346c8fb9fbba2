//! Whether a model fits before it is loaded: weights plus the KV cache
//! llama.cpp will allocate for the planned context, against the memory the
//! machine has available and the configured budget.

use modelgate_engine::EngineConfig;
use modelgate_gguf::Gguf;
use modelgate_inspect::{ContextMemory, ContextPlan, human_bytes, kv_layout, layout_estimate};
use modelgate_inventory::VersionRef;

use crate::error::ServeError;

/// The memory a GGUF model needs for an engine configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    /// Bytes of the weights (the file, memory-mapped).
    pub weights_bytes: u64,
    /// The KV cache llama.cpp allocates, or why it could not be estimated.
    pub kv: Result<ContextMemory, String>,
}

/// The context llama.cpp is given for `config` (as the engine creates it).
pub fn plan_for(config: &EngineConfig, embeddings: bool) -> ContextPlan {
    let slots = config.slots.max(1);
    let batch = if embeddings {
        config.context.max(1)
    } else {
        config.batch.max(slots).max(1)
    };
    let mut plan = ContextPlan::new(config.context.saturating_mul(slots));
    plan.n_seq_max = slots;
    plan.n_batch = batch;
    plan.n_ubatch = if embeddings { batch } else { config.n_ubatch() };
    plan
}

impl Admission {
    /// The estimate for `gguf` (whose file has `file_bytes`) run with `config`.
    pub fn of_gguf(gguf: &Gguf, file_bytes: u64, config: &EngineConfig) -> Admission {
        let architecture = gguf.architecture().unwrap_or_default().to_owned();
        let embeddings = gguf.get(&format!("{architecture}.pooling_type")).is_some();
        let kv = kv_layout(gguf)
            .map_err(|e| e.to_string())
            .and_then(|layout| {
                layout_estimate(&layout, &plan_for(config, embeddings)).map_err(|e| e.to_string())
            });
        Admission {
            weights_bytes: file_bytes,
            kv,
        }
    }

    /// Weights plus KV cache.
    pub fn needed(&self) -> u64 {
        self.weights_bytes
            .saturating_add(self.kv.as_ref().map_or(0, |kv| kv.kv_bytes))
    }

    /// For people: `97.3 MiB weights + 90.0 MiB KV cache (4 × 4096 cells)`.
    pub fn describe(&self) -> String {
        match &self.kv {
            Ok(kv) => {
                let swa = if kv.swa_layers > 0 {
                    format!(
                        ", {} sliding-window layers at {} cells",
                        kv.swa_layers, kv.swa_cells
                    )
                } else {
                    String::new()
                };
                format!(
                    "{} weights + {} KV cache ({} × {} cells{swa})",
                    human_bytes(self.weights_bytes),
                    human_bytes(kv.kv_bytes),
                    kv.n_streams,
                    kv.cells
                )
            }
            Err(why) => format!(
                "{} weights; KV cache not estimated: {why}",
                human_bytes(self.weights_bytes)
            ),
        }
    }

    /// Refuses a model that does not fit in the machine's `available`
    /// memory or in `budget`.
    pub fn check(
        &self,
        reference: &VersionRef,
        budget: Option<u64>,
        available: Option<u64>,
    ) -> Result<(), ServeError> {
        let needed = self.needed();
        let refuse = |limit: String| ServeError::Memory {
            reference: reference.clone(),
            needed: human_bytes(needed),
            detail: self.describe(),
            limit,
        };
        if let Some(budget) = budget
            && needed > budget
        {
            return Err(refuse(format!(
                "the memory budget is {}",
                human_bytes(budget)
            )));
        }
        if let Some(available) = available
            && needed > available
        {
            return Err(refuse(format!(
                "this machine has {} available",
                human_bytes(available)
            )));
        }
        Ok(())
    }
}
