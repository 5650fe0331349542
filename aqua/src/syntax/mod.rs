//! Aqua syntax: tokens, logical lines by indentation, and the syntax tree.

pub mod ast;
mod grammar;
pub mod layout;
pub mod lexer;
mod parser;

pub use parser::{parse, Parsed, MAX_NESTING, MAX_SOURCE_LEN};

/// A byte range in a source file.
pub type Span = chumsky::span::SimpleSpan<usize>;
