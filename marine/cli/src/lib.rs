//! The `marine` command's work, as a library: reading a module's interface, describing it as
//! text or as an Aqua service declaration, generating and embedding its interface-types
//! section, calling a service from its config, and the interactive shell over a service. The
//! binary (`main.rs`) only parses arguments and prints.
//!
//! [`aqua::declaration`] is what a peer needs to tell clients how to call a module it hosts.

pub mod aqua;
pub mod call;
pub mod embed;
pub mod info;
pub mod module;
pub mod repl;

use std::path::PathBuf;

use thiserror::Error;

/// Why a command failed, naming the file it is about.
#[derive(Debug, Error)]
pub enum Error {
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
    #[error("{0}")]
    Marine(#[from] marine::Error),
    #[error("{0}")]
    Input(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
