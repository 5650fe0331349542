//! Diagnostics: what went wrong, where, and how to fix it.
//!
//! Errors are plain data ([`Diagnostic`]) with a stable [`ErrorCode`]; they are rendered once, by
//! [`Diagnostic::render`] for terminals. Editors and tools can use the fields directly.

use std::fmt::Write as _;

use crate::ast::Span;

macro_rules! error_codes {
    ($($variant:ident = $code:literal, $title:literal, $explanation:literal;)*) => {
        /// Stable error codes. The book's error catalogue explains each one.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode {
            $(
                #[doc = $title]
                $variant,
            )*
        }

        impl ErrorCode {
            /// Every code, in catalogue order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The code as written in messages, e.g. `E001`.
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)* }
            }

            /// A short title.
            pub fn title(self) -> &'static str {
                match self { $(ErrorCode::$variant => $title,)* }
            }

            /// A paragraph explaining the rule behind the error.
            pub fn explanation(self) -> &'static str {
                match self { $(ErrorCode::$variant => $explanation,)* }
            }
        }
    };
}

error_codes! {
    UnterminatedString = "E001", "unterminated string literal",
        "A string literal starts with `\"` and ends at the next `\"`. AIR strings have no escape sequences, so a string cannot contain a double quote.";
    UnclosedParen = "E003", "unclosed parenthesis",
        "Every `(` needs a matching `)`. The diagnostic points at the `(` that is never closed.";
    UnmatchedCloser = "E004", "unmatched closing bracket",
        "A `)` or `]` appeared without a matching opener.";
    UnknownInstruction = "E005", "unknown instruction",
        "An instruction starts with `(` and one of the keywords `call`, `canon`, `ap`, `seq`, `par`, `xor`, `new`, `fold`, `next`, `match`, `mismatch`, `fail`, `never` or `null`.";
    ExpectedInstruction = "E006", "expected an instruction",
        "This position takes an instruction `( ... )`, not a value.";
    MissingArgument = "E007", "missing argument",
        "The instruction ends before all of its required arguments.";
    UnexpectedArgument = "E008", "unexpected argument",
        "The instruction got more arguments than it takes.";
    WrongArgument = "E009", "argument of the wrong kind",
        "Each argument position accepts certain kinds of values only; for example a call's output is a scalar or a stream, and `canon` takes a stream and a canon stream.";
    InvalidNumber = "E010", "invalid number",
        "Integers are 64-bit signed (`-9223372036854775808` to `9223372036854775807`); floats are digits with one dot, such as `1.5`.";
    FloatTooLong = "E011", "float literal too long",
        "A float literal has at most 11 characters, so that every peer reads it to the same 64-bit value.";
    InvalidName = "E012", "invalid variable name",
        "Variable names consist of letters, digits, `_` and `-`, after an optional sigil: `$` (stream), `%` (stream map), `#` or `#$` (canon stream), `#%` (canon stream map).";
    InvalidLens = "E013", "invalid lens",
        "A lens is `.length`, or `.$` followed by accessors: `.field`, `.[0]` and `.[scalar]`; a trailing `!` is accepted and ignored.";
    LensNotAllowed = "E014", "lens not allowed here",
        "Streams and stream maps cannot take a lens: canonicalize them with `canon` first. `fail` takes `%last_error%` and `:error:` without a lens.";
    FailCodeZero = "E015", "`fail` with error code 0",
        "Error code 0 means \"no error\", so `(fail 0 \"...\")` is rejected.";
    EmptyScript = "E016", "empty script",
        "A script is exactly one instruction.";
    TrailingInput = "E017", "input after the end of the script",
        "A script is exactly one instruction; combine several with `seq`, `par` or `xor`.";
    TooLarge = "E018", "input too large",
        "The script or one of its tokens is larger than the parser accepts.";
    InvalidUtf8 = "E019", "invalid UTF-8",
        "AIR source is UTF-8 text.";
    TooManyErrors = "E020", "too many errors",
        "Parsing stopped after too many errors; fix the ones reported and run again.";
    UndefinedVariable = "E101", "undefined variable",
        "A variable must be defined earlier in the script than where it is used: as a call's output, by `ap`, `canon`, `new`, or as a fold iterator. As in the reference AquaVM, the check is textual: a definition anywhere before the use counts.";
    NextOutsideFold = "E102", "`next` outside its fold",
        "`(next i)` must be inside a `fold` whose iterator is `i`.";
    MultipleNext = "E103", "more than one `next` in a fold",
        "A fold's body may contain at most one `next` for its iterator.";
    NewOnIterator = "E104", "`new` on a fold iterator",
        "Inside a fold, its iterator cannot be redefined by `new`.";
    IteratorShadowing = "E105", "fold iterator reused in a nested fold",
        "A fold nested in another fold must use a different iterator name.";
    InstructionAfterNext = "E106", "instruction after `next` in a stream fold",
        "In a fold over a stream or stream map, `next` must be the last thing its branch does; nothing may run after it in a `seq` or `par`.";
    UnresolvedJoin = "W101", "variable used before any definition, unchecked by AquaVM",
        "A warning: the peer of a `canon`, the value of `(ap (key value) %map)` and the operand of `(fail x)` use a variable that no earlier instruction defines. AquaVM 0.62 accepts the script, but the instruction waits for the variable forever, like a join on a value that never arrives.";
}

impl ErrorCode {
    /// Whether this code is a warning: the script is still valid AIR.
    pub fn is_warning(self) -> bool {
        self.as_str().starts_with('W')
    }

    /// Whether this code is a syntax error (the parser's), as opposed to a validation finding.
    pub fn is_syntax(self) -> bool {
        self.as_str().starts_with("E0")
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A label on a span of the source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    /// The labelled bytes.
    pub span: Span,
    /// What the label says.
    pub message: String,
}

/// One problem in a script: an error, or a warning when [`ErrorCode::is_warning`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The stable code.
    pub code: ErrorCode,
    /// A one-line description of this occurrence.
    pub message: String,
    /// The main place, with a label saying what is wrong there.
    pub primary: Label,
    /// Related places (e.g. the `(` that a missing `)` belongs to).
    pub secondary: Vec<Label>,
    /// How to fix it, when there is something useful to say.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A diagnostic with a primary label.
    pub fn new(
        code: ErrorCode,
        message: impl Into<String>,
        span: Span,
        label: impl Into<String>,
    ) -> Self {
        Diagnostic {
            code,
            message: message.into(),
            primary: Label {
                span,
                message: label.into(),
            },
            secondary: Vec::new(),
            hint: None,
        }
    }

    /// Adds a secondary label.
    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Self {
        self.secondary.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Renders the diagnostic for a terminal: `error[E001]: ...` with the file name, line and
    /// column, the source excerpt with the labelled text underlined, and the hint.
    pub fn render(&self, file_name: &str, source: &str, color: bool) -> String {
        crate::render::render(self, file_name, source, color)
    }
}

/// Line and column (both 1-based, column in characters) of a byte offset.
pub fn line_col(source: &str, offset: u32) -> (usize, usize) {
    let offset = floor_char_boundary(source, offset as usize);
    let before = &source.as_bytes()[..offset];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = source[line_start..offset].chars().count() + 1;
    (line, column)
}

/// `file:line:col` of a span's start.
pub fn location(file_name: &str, source: &str, span: Span) -> String {
    let (line, column) = line_col(source, span.start);
    let mut text = String::new();
    let _ = write!(text, "{file_name}:{line}:{column}");
    text
}

pub(crate) fn floor_char_boundary(source: &str, mut offset: usize) -> usize {
    offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}
