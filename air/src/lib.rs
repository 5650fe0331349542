//! AIR, the Aqua Intermediate Representation: the S-expression language that the Aqua compiler
//! produces and AquaVM executes.
//!
//! This crate is AIR's front end:
//! - [`parse()`] turns source text into a [`Script`] and syntax [`Diagnostic`]s, recovering from
//!   errors so that one run reports every independent problem;
//! - [`validate()`] checks the static rules of the reference AquaVM (variables defined before use,
//!   `next` inside its fold, ...);
//! - [`print()`] writes a script in the canonical layout (`parse(print(s)) == s`);
//! - [`optimize()`] rewrites a script into a smaller one that does the same;
//! - [`Script`] is a compact arena with interned names, cheap to keep in a cache and to walk
//!   ([`Script::preorder`], [`visit`]);
//! - [`Diagnostic::render`] shows an error the way people like to read it.
//!
//! ```
//! let parsed = air::parse(r#"(seq (call %init_peer_id% ("peer" "identify") [] info) (null))"#);
//! assert!(parsed.diagnostics.is_empty());
//! assert!(air::validate(&parsed.script).is_empty());
//! assert_eq!(
//!     air::print(&parsed.script),
//!     "(seq\n  (call %init_peer_id% (\"peer\" \"identify\") [] info)\n  (null))\n"
//! );
//! ```

#![deny(missing_docs)]

pub mod ast;
pub mod diagnostic;
mod eq;
mod intern;
pub mod optimize;
pub mod print;
mod render;
pub mod stats;
mod syntax;
pub mod validate;
pub mod visit;

pub use ast::{Instr, InstrId, Script, Span, Sym, Value, ValueId};
pub use diagnostic::{Diagnostic, ErrorCode};
pub use optimize::optimize;
pub use print::print;
pub use syntax::parser::{parse, parse_without_fast_path, Parsed, MAX_DIAGNOSTICS, MAX_SOURCE_LEN};
pub use validate::validate;

impl Parsed {
    /// Whether any diagnostic is an error (not a warning).
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| !d.code.is_warning())
    }
}

/// Parses and validates: every problem of a script in one list, in source order.
///
/// Instructions that failed to parse are left out of validation, so their errors do not cascade.
pub fn check(source: &str) -> Parsed {
    let mut parsed = parse(source);
    if parsed.diagnostics.len() < MAX_DIAGNOSTICS {
        parsed.diagnostics.extend(validate(&parsed.script));
        parsed
            .diagnostics
            .sort_by_key(|d| (d.primary.span.start, d.primary.span.end));
    }
    parsed
}
