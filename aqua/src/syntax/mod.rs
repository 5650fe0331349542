//! Aqua syntax: tokens, logical lines by indentation, and the syntax tree.

pub mod ast;
mod grammar;
pub mod layout;
pub mod lexer;
mod parser;

pub(crate) use parser::nearest;
pub use parser::{parse, Parsed, MAX_NESTING, MAX_SOURCE_LEN};

/// A byte range in a source file.
pub type Span = chumsky::span::SimpleSpan<usize>;

/// Source bytes as text. Invalid UTF-8 is replaced (so that the rest can still be read and
/// shown) and reported at the first bad byte.
pub fn decode(bytes: Vec<u8>) -> (String, Option<crate::Diagnostic>) {
    match String::from_utf8(bytes) {
        Ok(text) => (text, None),
        Err(error) => {
            let offset = error.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(error.as_bytes()).into_owned();
            let diagnostic =
                crate::Diagnostic::new(crate::Code::InvalidUtf8, Span::from(offset..offset + 1))
                    .with_message(format!("the file is not valid UTF-8 (byte {offset})"))
                    .with_primary_label("invalid byte");
            (text, Some(diagnostic))
        }
    }
}
