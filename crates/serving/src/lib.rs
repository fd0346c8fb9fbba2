//! Serving approved versions: the use case between the inventory and the
//! HTTP server.
//!
//! Purpose: decide which versions may be served ([`select`]: stage approved
//! or production only), load one from the inventory's content-addressed
//! store after re-hashing every file against its recorded digest
//! ([`load_version`]), keep what is loaded in a [`Catalog`] that resolves
//! the model ids clients send, and apply stage changes made while the
//! server runs ([`sync`]: revoked versions are unloaded and answered with
//! the reason, deprecated ones stay with a warning). Loads, unloads and
//! refusals are audit events.
//!
//! Non-purpose: HTTP (the server crate turns a [`Catalog`] into the OpenAI
//! API) and inference itself (`modelgate-engine`, `modelgate-embed`).

mod admission;
mod catalog;
mod error;
mod load;
mod sync;

pub use admission::{Admission, plan_for};
pub use catalog::{Backend, Catalog, Embedder, Resolved, Served, Template};
pub use error::ServeError;
pub use load::{
    LoadOptions, LoadProgress, NoLoadProgress, Selection, chat_template, load_version, select,
    stored_gguf,
};
pub use sync::{Change, sync};
