//! Diagnostics: what is wrong, where, why, and how to fix it.
//!
//! A [`Diagnostic`] is plain data with a stable [`Code`]; editors read its fields, terminals
//! get [`render`]ed text. Spans are byte ranges in the file the diagnostic belongs to; labels
//! may point into other files (a definition in an imported module, say).

use std::path::Path;

use ariadne::{Config, IndexType, Label as AriadneLabel, Report, ReportKind, Source};

use crate::syntax::Span;

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// Declares [`Code`] with, for each code, its stable text, severity, title and the
/// explanation printed in the book's catalogue.
macro_rules! diagnostic_codes {
    ($( $(#[$doc:meta])* $name:ident: $text:literal $severity:ident, $title:literal => $explanation:literal; )*) => {
        /// Stable diagnostic codes; `E` codes are errors, `W` codes warnings.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code { $( $(#[$doc])* $name, )* }

        impl Code {
            /// All codes in catalogue order.
            pub const ALL: &'static [Code] = &[$(Code::$name),*];

            /// The code as printed, such as `E0101`.
            pub fn as_str(self) -> &'static str { match self { $(Code::$name => $text),* } }

            /// Errors stop compilation; warnings do not.
            pub fn severity(self) -> Severity { match self { $(Code::$name => Severity::$severity),* } }

            /// A short title for the catalogue.
            pub fn title(self) -> &'static str { match self { $(Code::$name => $title),* } }

            /// The rule behind the diagnostic, in a paragraph.
            pub fn explanation(self) -> &'static str { match self { $(Code::$name => $explanation),* } }
        }
    };
}

diagnostic_codes! {
    Syntax: "E0101" Error, "syntax error" =>
        "The line does not follow Aqua's grammar. The message says what the parser expected at the marked token.";
    UnterminatedString: "E0102" Error, "unterminated string" =>
        "A string starts with `\"` and ends at the next `\"` on the same line. Aqua strings have no escape sequences.";
    UnknownCharacter: "E0103" Error, "unknown character" =>
        "The character starts no Aqua token. Only spaces and tabs indent lines and separate tokens: look-alikes such as the no-break space (U+00A0), which editors and web pages sometimes insert, are not whitespace in Aqua.";
    UnclosedDelimiter: "E0104" Error, "unclosed bracket" =>
        "Every `(`, `[` and `{` needs its closing bracket before the end of the statement.";
    UnexpectedIndent: "E0105" Error, "unexpected indentation" =>
        "Top-level lines (header, definitions) start in the first column.";
    MixedIndent: "E0106" Error, "tabs mixed with spaces" =>
        "Indentation decides which block a line belongs to. A line indented with tabs cannot be compared with one indented with spaces, so a file must use one or the other.";
    InconsistentIndent: "E0107" Error, "inconsistent indentation" =>
        "All lines of a block are indented the same. A line that returns to a shallower level must match the indentation of an enclosing block exactly.";
    UnexpectedBlock: "E0108" Error, "unexpected indented block" =>
        "Only lines ending with `:` (functions, data, services, abilities, `on`, `for`, `if`, `else`, `try`, `catch`, `otherwise`, `parseq`, closures) open an indented block.";
    MissingBlock: "E0109" Error, "missing block" =>
        "A line ending with `:` must be followed by at least one line indented deeper: its body.";
    MisplacedLine: "E0110" Error, "line not allowed here" =>
        "Header lines (`aqua`, `import`, `use`, `export`) come first in a file; definitions follow at the top level; statements belong in function bodies.";
    InvalidUtf8: "E0111" Error, "invalid UTF-8" =>
        "Aqua source files are UTF-8 text.";
    TooLarge: "E0112" Error, "input too large" =>
        "The file, or its nesting, exceeds what the compiler accepts.";
    MalformedNumber: "E0113" Error, "malformed number" =>
        "A number is written in decimal digits, with an optional `-` before it and an optional fraction after a `.`: `42`, `-7`, `0.5`. Aqua has no hexadecimal, octal or binary numbers, no digit separators and no exponents.";
    StringSyntax: "E0114" Error, "malformed string" =>
        "A string is written between double quotes on one line. It has no escape sequences: `\\` is an ordinary character and the first `\"` after the opening one ends the string, so a string cannot contain `\"`. Single quotes are ordinary characters and do not delimit strings.";
    InvalidName: "E0115" Error, "invalid name" =>
        "A name is made of ASCII letters, digits and `_`, and does not start with a digit.";
    UnresolvedImport: "E0201" Error, "unresolved import" =>
        "An `import` or `use` path is looked up relative to the importing file's folder, then in each import directory (`-I`) in order, then in the `node_modules` folder of the importing file's folder and of each folder above it, nearest first. A path of the standard library (`@fluencelabs/aqua-lib/builtin.aqua`, ...) that none of them provides names the copy bundled with the compiler. The message lists every path tried.";
    UnreadableFile: "E0202" Error, "unreadable file" =>
        "A file given to the compiler, or found for an import, could not be read.";
    ImportCycle: "E0203" Error, "import cycle" =>
        "Modules cannot import each other in a circle, directly or through other modules, because a module is checked after the modules it imports. Move what the modules of the cycle share into a module that they all import.";
    TooManyModules: "E0204" Error, "too many modules" =>
        "A project loads at most 10000 modules.";
    DeprecatedModule: "W0101" Warning, "deprecated `module` header" =>
        "Aqua 0.14 replaced the `module` header with `aqua`. This compiler still accepts `module` so that older packages keep working; write `aqua` instead.";
    HeaderlessRoot: "W0102" Warning, "root file without header" =>
        "A file given to the compiler (not one that is only imported) needs an `aqua Name` header, or the legacy `module Name`: a file without one exports nothing, so no AIR and no client interface come out of it. Start it with `aqua Name` and an `export` line that names the functions and services to compile. Files that are only imported need no header.";
    UnknownName: "E0301" Error, "unknown name" =>
        "The name is not a local value, a definition of the module, an imported name or a built-in constant. Names are visible after their definition: values inside the block that defines them (and after an `on` block), top-level definitions after the line that defines them.";
    UnknownType: "E0302" Error, "unknown type" =>
        "A type is a scalar (`u8`..`u64`, `i8`..`i64`, `f32`, `f64`, `bool`, `string`), `⊤`, `⊥`, or a `data`, `alias`, `ability` or `service` defined or imported before the use. The names in an arrow's `{...}` are abilities or services.";
    TypeMismatch: "E0303" Error, "type mismatch" =>
        "A value is used where its type does not fit. Typing is structural: a struct fits where another is expected if it has all of its fields with fitting types; numbers widen but never narrow; options and streams are read as arrays.";
    ArgumentCount: "E0304" Error, "wrong number of arguments" =>
        "A call gives every parameter of the arrow, and every ability it asks for in `{...}`.";
    ResultCount: "E0305" Error, "wrong number of results" =>
        "`a, b <- f()` names each result of the call, `<- x, y` gives each result of the function, and a function with results ends with `<-`.";
    NotCallable: "E0306" Error, "not a call" =>
        "Only functions, closures, arrows and service methods can be called (a data field is read without `()`), and `<-` (or a statement of its own) takes a call.";
    UnknownMember: "E0307" Error, "unknown member" =>
        "The struct, ability, service or stream map has no field or method of that name.";
    FieldMismatch: "E0308" Error, "wrong fields" =>
        "Constructing a struct or ability gives each of its fields exactly once, and no other fields; `.copy` changes existing fields only, each once.";
    Redefinition: "E0309" Error, "defined twice" =>
        "A module defines each top-level name once, imports a name one by one from one module only and does not define it again, gives each `use` alias to one module and exports each public name once; a `data` or `ability` declares each field once. Values never change: inside a function, a name already given to a value (an argument, a variable, a stream, a closure, or a value of the function around a closure), a constant or a built-in constant such as `HOST_PEER_ID` cannot name another value.";
    MissingImport: "E0310" Error, "name not declared by the module" =>
        "`import a from \"m.aqua\"` and `use a from \"m.aqua\"` take names that module declares: those listed after `declares` in its `aqua` header, or all its definitions with `declares *`. A module whose header has no `declares` offers nothing (a legacy `module` header without it offers everything).";
    NumberOutOfRange: "E0311" Error, "number out of range" =>
        "Integer literals and constant expressions are computed with 64-bit integers; an overflow is an error when compiling, and so is an integer divided by the literal 0, which would fail on every run.";
    MisplacedStatement: "E0312" Error, "statement without its partner" =>
        "`else` follows an `if` block, `catch` follows `try` or `catch`, `otherwise` and `par` follow another statement of the same block.";
    NotAValue: "E0313" Error, "not a value" =>
        "A type name was used where a value is expected.";
    NotExportable: "E0314" Error, "not exportable" =>
        "A client calls an exported function with JSON values and callbacks, and receives JSON values: an exported function cannot need abilities, take abilities or stream maps, or return functions, abilities or stream maps.";
    MisplacedReturn: "E0315" Error, "misplaced return" =>
        "`<-` gives the function's results and ends it: it is the last statement of the function's (or closure's) own body, written once, never inside an `if`, `for`, `on` or other block.";
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A labelled span, in the diagnostic's file unless `file` names another one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
    /// The file of the span, when it is not the diagnostic's own file.
    pub file: Option<std::path::PathBuf>,
}

/// An edit that fixes the problem: replace the text at `span` (in the diagnostic's file) by
/// `replacement`. Tools can apply it without asking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suggestion {
    pub span: Span,
    pub replacement: String,
}

/// One problem found in a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    /// One line: what is wrong.
    pub message: String,
    /// Where it is wrong.
    pub span: Span,
    /// What the primary span shows, if more than the message.
    pub primary_label: Option<Box<str>>,
    /// Related places.
    pub labels: Vec<Label>,
    /// How to fix it.
    pub help: Option<Box<str>>,
    /// The fix as an edit, when there is one sure fix (boxed, like the texts: diagnostics
    /// travel in `Result`s and most have none).
    pub suggestion: Option<Box<Suggestion>>,
}

impl Diagnostic {
    /// An error (or warning, by the code's severity) at `span`, with the code's title as
    /// message until [`Diagnostic::with_message`] sets one.
    pub fn new(code: Code, span: Span) -> Self {
        Diagnostic {
            code,
            message: code.title().to_string(),
            span,
            primary_label: None,
            labels: Vec::new(),
            help: None,
            suggestion: None,
        }
    }

    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    pub fn with_primary_label(mut self, label: impl Into<String>) -> Self {
        self.primary_label = Some(label.into().into_boxed_str());
        self
    }

    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: message.into(),
            file: None,
        });
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into().into_boxed_str());
        self
    }

    /// Adds the edit that fixes the problem.
    pub fn with_suggestion(mut self, span: Span, replacement: impl Into<String>) -> Self {
        self.suggestion = Some(Box::new(Suggestion {
            span,
            replacement: replacement.into(),
        }));
        self
    }

    pub fn severity(&self) -> Severity {
        self.code.severity()
    }
}

/// Line and column (both 1-based, the column counted in characters) of byte `offset`.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(source, offset);
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

fn floor_char_boundary(source: &str, offset: usize) -> usize {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Renders `diagnostic` of the file at `path` with text `source` for a terminal.
/// Labels into other files are listed as notes with their location.
pub fn render(diagnostic: &Diagnostic, path: &Path, source: &str, color: bool) -> String {
    let name = path.display().to_string();
    let clamp = |span: Span| {
        let start = floor_char_boundary(source, span.start);
        start..floor_char_boundary(source, span.end).max(start)
    };
    let kind = match diagnostic.severity() {
        Severity::Error => ReportKind::Error,
        Severity::Warning => ReportKind::Warning,
    };
    let primary = clamp(diagnostic.span);
    let mut report = Report::build(kind, (name.as_str(), primary.clone()))
        .with_config(
            Config::default()
                .with_color(color)
                .with_index_type(IndexType::Byte),
        )
        .with_code(diagnostic.code.as_str())
        .with_message(&diagnostic.message)
        .with_label(
            AriadneLabel::new((name.as_str(), primary))
                .with_message(diagnostic.primary_label.as_deref().unwrap_or("here")),
        );
    let mut notes = Vec::new();
    for label in &diagnostic.labels {
        match &label.file {
            None => {
                report = report.with_label(
                    AriadneLabel::new((name.as_str(), clamp(label.span)))
                        .with_message(&label.message),
                )
            }
            Some(other) => notes.push(format!("{}: {}", other.display(), label.message)),
        }
    }
    let notes = notes.join("\n");
    if !notes.is_empty() {
        report = report.with_note(notes);
    }
    if let Some(help) = &diagnostic.help {
        report = report.with_help(help);
    }
    let mut out = Vec::new();
    report
        .finish()
        .write((name.as_str(), Source::from(source)), &mut out)
        .expect("writing to a Vec cannot fail");
    String::from_utf8_lossy(&out).into_owned()
}

/// `diagnostic` as one line of JSON for tools: file, 1-based line and column of the start and
/// end, severity, code, message, labels, help, and the suggested edit (`null` or `{line, column,
/// end_line, end_column, replacement}`).
pub fn to_json(diagnostic: &Diagnostic, path: &Path, source: &str) -> String {
    let (line, column) = line_col(source, diagnostic.span.start);
    let (end_line, end_column) = line_col(source, diagnostic.span.end);
    let labels: Vec<serde_json::Value> = diagnostic
        .labels
        .iter()
        .map(|label| {
            let file = label.file.as_deref().unwrap_or(path);
            let mut value = serde_json::json!({
                "file": file.display().to_string(),
                "message": label.message,
            });
            if label.file.is_none() {
                let (line, column) = line_col(source, label.span.start);
                value["line"] = line.into();
                value["column"] = column.into();
            }
            value
        })
        .collect();
    let suggestion = diagnostic.suggestion.as_ref().map(|s| {
        let (line, column) = line_col(source, s.span.start);
        let (end_line, end_column) = line_col(source, s.span.end);
        serde_json::json!({
            "line": line,
            "column": column,
            "end_line": end_line,
            "end_column": end_column,
            "replacement": s.replacement,
        })
    });
    serde_json::json!({
        "file": path.display().to_string(),
        "line": line,
        "column": column,
        "end_line": end_line,
        "end_column": end_column,
        "severity": match diagnostic.severity() {
            Severity::Error => "error",
            Severity::Warning => "warning",
        },
        "code": diagnostic.code.as_str(),
        "message": diagnostic.message,
        "label": diagnostic.primary_label,
        "labels": labels,
        "help": diagnostic.help,
        "suggestion": suggestion,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} is used twice");
            let letter = if code.severity() == Severity::Error {
                'E'
            } else {
                'W'
            };
            assert!(text.starts_with(letter) && text.len() == 5, "{text}");
            assert!(!code.explanation().is_empty());
        }
    }

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("ab\n⊤x", 6), (2, 2));
        assert_eq!(line_col("ab", 99), (1, 3));
    }

    #[test]
    fn rendering_shows_location_code_and_help() {
        let source = "aqua M\n\nfunc f():\n  x <- \n";
        let d = Diagnostic::new(Code::Syntax, Span::from(22..24))
            .with_message("expected a value after `<-`")
            .with_help("write the call whose result `x` receives");
        let text = render(&d, Path::new("m.aqua"), source, false);
        assert!(
            text.contains("[E0101] Error: expected a value after `<-`"),
            "{text}"
        );
        assert!(text.contains("m.aqua:4:5"), "{text}");
        assert!(text.contains("Help: write the call"), "{text}");
    }
}
