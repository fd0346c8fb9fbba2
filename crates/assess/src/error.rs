//! Why an evaluation use case failed.

use std::path::PathBuf;

/// What went wrong running a suite, a divergence pass or a quantization.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The engine refused or failed.
    #[error(transparent)]
    Engine(#[from] modelgate_engine::EngineError),
    /// The inventory refused or failed.
    #[error(transparent)]
    Inventory(#[from] modelgate_inventory::Error),
    /// A recorded version could not be read for evaluation.
    #[error(transparent)]
    Serve(#[from] modelgate_serving::ServeError),
    /// The endpoint refused or failed.
    #[error("{url}: {reason}")]
    Endpoint {
        /// The endpoint.
        url: String,
        /// What happened.
        reason: String,
    },
    /// A model file could not be read.
    #[error("{}: {reason}", path.display())]
    Model {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The chat template cannot render a case.
    #[error("{}: {reason}", path.display())]
    Template {
        /// The model file.
        path: PathBuf,
        /// Why (missing, flagged by the scan, broken, refused the messages).
        reason: String,
    },
    /// The input cannot be evaluated this way.
    #[error("{0}")]
    Unsupported(String),
    /// Vetting a quantized file failed.
    #[error("{}: could not vet the quantized file: {reason}", path.display())]
    Vet {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl Error {
    pub(crate) fn template(path: &std::path::Path, reason: impl Into<String>) -> Error {
        Error::Template {
            path: path.to_owned(),
            reason: reason.into(),
        }
    }
}
