#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    missing_docs,
    unreachable_pub
)]

//! The client against small mock servers that speak OpenAI's and
//! Anthropic's APIs over real HTTP on 127.0.0.1.

mod mock;

mod anthropic;
mod config;
mod failures;
mod openai;
