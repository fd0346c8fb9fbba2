//! Errors of serving.

use modelgate_inventory::{Stage, VersionRef};

/// Why a version could not be served.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The inventory refused or failed.
    #[error(transparent)]
    Inventory(#[from] modelgate_inventory::Error),
    /// Only approved and production versions are served.
    #[error("{reference} is {stage}; only approved or production versions are served (run `modelgate models approve {reference}` first)", stage = stage.name())]
    Stage {
        /// The version.
        reference: VersionRef,
        /// Its stage.
        stage: Stage,
    },
    /// A stored copy is not the bytes that were vetted.
    #[error(
        "{reference}: stored file {path} does not match its recorded digest ({problem}); run `modelgate models verify {reference}` and add the version again"
    )]
    Digest {
        /// The version.
        reference: VersionRef,
        /// The file, relative to the model root.
        path: String,
        /// What is wrong.
        problem: String,
    },
    /// The version has no file the engines can run.
    #[error("{reference}: {reason}")]
    NotServable {
        /// The version.
        reference: VersionRef,
        /// Why.
        reason: String,
    },
    /// The model does not fit in memory.
    #[error(
        "{reference} needs {needed} ({detail}) but {limit}; lower --ctx or --slots, or raise the memory budget"
    )]
    Memory {
        /// The version.
        reference: VersionRef,
        /// Bytes needed, for people.
        needed: String,
        /// What the bytes are.
        detail: String,
        /// What limited it.
        limit: String,
    },
    /// The GGUF engine could not load it.
    #[error("{reference}: {source}")]
    Engine {
        /// The version.
        reference: VersionRef,
        /// Why.
        #[source]
        source: modelgate_engine::EngineError,
    },
    /// The sentence-embedding engine could not load it.
    #[error("{reference}: {source}")]
    Embed {
        /// The version.
        reference: VersionRef,
        /// Why.
        #[source]
        source: Box<modelgate_embed::EmbedError>,
    },
    /// A model named on the command line is not in the inventory.
    #[error("no version of {name} is approved or in production; see `modelgate models list`")]
    NoServableVersion {
        /// The name.
        name: String,
    },
}
