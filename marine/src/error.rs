//! Errors, each naming the module, function or file it is about.

use std::path::PathBuf;

use thiserror::Error;

/// A Marine error.
#[derive(Debug, Error)]
pub enum Error {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config {}: {message}", path.display())]
    Config { path: PathBuf, message: String },
    #[error("module `{module}`: {message}")]
    Module { module: String, message: String },
    #[error("service: {0}")]
    Link(String),
    #[error("`{function}`: {message}")]
    Arguments { function: String, message: String },
    #[error("the service has no function `{function}`; it has: {available}")]
    NoSuchFunction { function: String, available: String },
    #[error("`{module}.{function}` failed: {failure}")]
    Call {
        module: String,
        function: String,
        failure: CallFailure,
    },
}

/// Why a call into a module did not return a value.
#[derive(Debug, Clone, Error)]
pub enum CallFailure {
    #[error("it ran longer than the {ms} ms a call may take and was stopped")]
    Timeout { ms: u64 },
    #[error("the service's memory limit of {limit} bytes was reached")]
    OutOfMemory { limit: u64 },
    #[error("{0}")]
    Trap(String),
    #[error("{0}")]
    Abi(#[from] AbiError),
}

/// A value that could not cross the boundary of a module.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum AbiError {
    #[error("expected {expected}, got {got}")]
    TypeMismatch { expected: String, got: String },
    #[error("{size} bytes is more than a module can take or give")]
    TooLarge { size: usize },
    #[error("{len} bytes at {pointer} lie outside the module's memory")]
    OutOfBounds { pointer: u32, len: usize },
    #[error("a string is not UTF-8: {0}")]
    NotUtf8(String),
    #[error("record type {index} is not declared by the module")]
    NoSuchRecord { index: u32 },
    #[error("the module returned fewer values than its signature says")]
    MissingValue,
    #[error("the module returned a Wasm value of another type than its signature says")]
    WrongWasmType,
    #[error("{0}")]
    Guest(String),
    #[error("field `{field}`: {source}")]
    InField {
        field: String,
        source: Box<AbiError>,
    },
}

impl AbiError {
    pub(crate) fn in_field(self, field: &str) -> AbiError {
        AbiError::InField {
            field: field.to_owned(),
            source: Box::new(self),
        }
    }
}

/// A Marine result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
