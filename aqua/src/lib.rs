//! The Aqua compiler.
//!
//! Aqua is the language for choreographing computations across peers; it compiles to AIR
//! (see the `air` crate), which AquaVM executes. This crate is the compiler's library:
//! [`syntax`] parses source text into a syntax tree with spans and diagnostics,
//! [`mod@format`] prints it back in the canonical layout, [`project`] finds and parses
//! every module a program imports, [`sema`] resolves names and checks types,
//! [`codegen`] writes AIR, [`interface`] the JSON description of exported functions and
//! services for clients, and [`compile`] runs the whole pipeline. [`analysis`] answers an
//! editor's questions about positions (types, definitions, references), and [`db`] keeps
//! what did not change between compilations.

pub mod analysis;
pub mod codegen;
pub mod compile;
pub mod db;
pub mod diagnostic;
pub mod format;
pub mod interface;
pub mod project;
pub mod sema;
pub mod syntax;

pub use diagnostic::{Code, Diagnostic, Severity};

/// Runs `f` with enough stack for one more level of a recursive walk over a syntax or
/// instruction tree: deeply nested input grows the stack instead of overflowing it.
pub(crate) fn deep<T>(f: impl FnOnce() -> T) -> T {
    stacker::maybe_grow(64 * 1024, 1024 * 1024, f)
}
