//! What is loaded, and how a client's model id finds it.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use modelgate_chat::ChatTemplate;
use modelgate_embed::SentenceEncoder;
use modelgate_engine::Engine;
use modelgate_inventory::{Stage, VersionRef};

/// A model's chat template, as far as it may be used.
#[derive(Debug)]
pub enum Template {
    /// The model's own template, checked by the scan and compiled.
    Ready(Box<ChatTemplate>),
    /// The model has none: chat requests are refused (completions work).
    Missing,
    /// The scan flagged it: it is never rendered. The finding, for the error.
    Flagged(String),
    /// It does not compile.
    Broken(String),
}

/// What computes embeddings.
// One per loaded model, never moved around: the size difference is moot.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Embedder {
    /// A GGUF embedding model, pooled by llama.cpp.
    Llama(Engine),
    /// A sentence-transformers snapshot, run by candle.
    Sentence(SentenceEncoder),
}

/// What runs a served version.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Backend {
    /// A GGUF generation model and its chat template.
    Generate {
        /// The engine.
        engine: Engine,
        /// Its chat template.
        template: Template,
    },
    /// An embedding model.
    Embed(Embedder),
}

/// A loaded version.
#[derive(Debug)]
pub struct Served {
    /// Which version.
    pub reference: VersionRef,
    /// Its stage when loaded, updated by [`crate::sync`].
    pub stage: RwLock<Stage>,
    /// When it was added to the inventory (RFC 3339), for `created`.
    pub added_at: String,
    /// Unix seconds it was loaded at.
    pub loaded_at: u64,
    /// What runs it.
    pub backend: Backend,
}

impl Served {
    /// `NAME@VERSION`, the id clients use.
    pub fn id(&self) -> String {
        self.reference.to_string()
    }

    /// Its current stage.
    pub fn stage(&self) -> Stage {
        self.stage.read().map_or(Stage::Approved, |s| *s)
    }
}

#[derive(Debug)]
enum Entry {
    Live(Arc<Served>),
    Revoked { reason: String },
}

/// How a model id resolved.
#[derive(Debug, Clone)]
pub enum Resolved {
    /// Serve it.
    Live(Arc<Served>),
    /// It was served and has been revoked.
    Revoked {
        /// The version.
        id: String,
        /// The revocation's reason.
        reason: String,
    },
    /// No such model here.
    Unknown,
}

/// The loaded versions, shared by every request. Changes (unloading a
/// revoked version) are visible to the next request.
#[derive(Debug, Default)]
pub struct Catalog {
    entries: RwLock<BTreeMap<String, Entry>>,
}

impl Catalog {
    /// An empty catalog.
    pub fn new() -> Catalog {
        Catalog::default()
    }

    /// Adds a loaded version.
    pub fn insert(&self, served: Served) -> Arc<Served> {
        let served = Arc::new(served);
        if let Ok(mut entries) = self.entries.write() {
            entries.insert(served.id(), Entry::Live(Arc::clone(&served)));
        }
        served
    }

    /// Takes a version out of service; requests naming it are told `reason`.
    /// Returns the unloaded version (its engine stops when the last request
    /// holding it ends).
    pub fn revoke(&self, id: &str, reason: String) -> Option<Arc<Served>> {
        let mut entries = self.entries.write().ok()?;
        match entries.insert(id.to_owned(), Entry::Revoked { reason }) {
            Some(Entry::Live(served)) => Some(served),
            _ => None,
        }
    }

    /// Every loaded version, in id order.
    pub fn live(&self) -> Vec<Arc<Served>> {
        self.entries
            .read()
            .map(|entries| {
                entries
                    .values()
                    .filter_map(|e| match e {
                        Entry::Live(s) => Some(Arc::clone(s)),
                        Entry::Revoked { .. } => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Resolves a client's model id: `NAME@VERSION` exactly, or `NAME` for
    /// its version in production, else its newest approved one (the one
    /// added last).
    pub fn resolve(&self, id: &str) -> Resolved {
        let Ok(entries) = self.entries.read() else {
            return Resolved::Unknown;
        };
        if let Some(entry) = entries.get(id) {
            return match entry {
                Entry::Live(served) => Resolved::Live(Arc::clone(served)),
                Entry::Revoked { reason } => Resolved::Revoked {
                    id: id.to_owned(),
                    reason: reason.clone(),
                },
            };
        }
        if id.contains('@') {
            return Resolved::Unknown;
        }
        let candidates: Vec<&Arc<Served>> = entries
            .values()
            .filter_map(|e| match e {
                Entry::Live(s) if s.reference.name == id => Some(s),
                _ => None,
            })
            .collect();
        let rank = |s: &Arc<Served>| match s.stage() {
            Stage::Production => 2,
            Stage::Approved => 1,
            _ => 0,
        };
        if let Some(best) = candidates.into_iter().max_by(|a, b| {
            rank(a)
                .cmp(&rank(b))
                .then_with(|| a.added_at.cmp(&b.added_at))
        }) {
            return Resolved::Live(Arc::clone(best));
        }
        // Only revoked versions of that name: say so rather than "unknown".
        let prefix = format!("{id}@");
        entries
            .iter()
            .find_map(|(key, e)| match e {
                Entry::Revoked { reason } if key.starts_with(&prefix) => Some(Resolved::Revoked {
                    id: key.clone(),
                    reason: reason.clone(),
                }),
                _ => None,
            })
            .unwrap_or(Resolved::Unknown)
    }
}
