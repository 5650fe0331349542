//! From text to tree: the lexer, the classification of words, and the parser.

pub mod lexer;
pub mod parser;
pub mod word;
