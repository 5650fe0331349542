//! Parsing a file: lexing, layout, then each logical line with the grammar, assembled into
//! the syntax tree by indentation.
//!
//! Recovery comes from the line structure: a line that does not parse becomes an error node
//! with one diagnostic, and every other line, including the body under the broken line, is
//! still parsed. So one run reports every independent error, and one error never cascades.

use chumsky::error::{RichPattern, RichReason};
use chumsky::input::{Input as _, MappedInput};
use chumsky::prelude::*;

use super::ast::*;
use super::grammar::{self, Extra};
use super::layout::{layout, Line};
use super::lexer::{lex, Token};
use super::Span;
use crate::diagnostic::{Code, Diagnostic};

/// The largest source file accepted, in bytes.
pub const MAX_SOURCE_LEN: usize = 16 << 20;
/// The deepest nesting of brackets within a line, and of blocks, accepted.
pub const MAX_NESTING: usize = 1024;

/// A file's syntax tree with the problems found while building it.
#[derive(Debug, Default)]
pub struct Parsed {
    pub file: File,
    /// Comments, for the formatter.
    pub comments: Vec<Span>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses Aqua source text. Never fails: problems are in [`Parsed::diagnostics`].
pub fn parse(source: &str) -> Parsed {
    let mut parsed = Parsed::default();
    if source.len() > MAX_SOURCE_LEN {
        parsed.diagnostics.push(
            Diagnostic::new(Code::TooLarge, Span::from(0..0)).with_message(format!(
                "the file has {} bytes; the compiler accepts at most {MAX_SOURCE_LEN}",
                source.len()
            )),
        );
        return parsed;
    }
    let tokens = lex(source);
    for &(token, span) in &tokens {
        if let Token::Malformed(malformed) = token {
            parsed.diagnostics.push(malformed.diagnostic(span, source));
        }
    }
    let layout = layout(source, &tokens);
    parsed.comments = layout.comments.iter().map(|&(_, span)| span).collect();
    parsed.diagnostics.extend(layout.diagnostics);
    let mut assembler = Assembler {
        parsers: Parsers::new(),
        diagnostics: Vec::new(),
    };
    parsed.file = assembler.file(&layout.lines);
    parsed.diagnostics.extend(assembler.diagnostics);
    parsed
        .diagnostics
        .sort_by_key(|d| (d.span.start, d.span.end));
    parsed
}

type LineInput<'t, 's> = MappedInput<'t, Token<'s>, Span, &'t [(Token<'s>, Span)]>;
type Boxed<'t, 's, O> = chumsky::Boxed<'t, 't, LineInput<'t, 's>, O, Extra<'t, 's>>;

/// The line grammars, built once per file.
struct Parsers<'t, 's> {
    header: Boxed<'t, 's, HeaderItem>,
    definition: Boxed<'t, 's, Item>,
    field: Boxed<'t, 's, Field>,
    statement: Boxed<'t, 's, (Stmt, bool)>,
}

impl<'t, 's: 't> Parsers<'t, 's> {
    fn new() -> Self {
        Parsers {
            header: grammar::header_line().boxed(),
            definition: grammar::definition_line().boxed(),
            field: grammar::field_line().boxed(),
            statement: grammar::statement_line().boxed(),
        }
    }
}

struct Assembler<'t, 's> {
    parsers: Parsers<'t, 's>,
    diagnostics: Vec<Diagnostic>,
}

/// Keywords that start top-level lines, for "did you mean" hints.
const TOP_LEVEL_KEYWORDS: &[&str] = &[
    "aqua", "import", "use", "export", "data", "alias", "const", "service", "ability", "func",
];

impl<'t, 's: 't> Assembler<'t, 's> {
    fn file(&mut self, lines: &'t [Line<'s>]) -> File {
        let mut file = File::default();
        let mut first_definition: Option<Span> = None;
        // The `aqua` header line, and the first other header line.
        let mut module_line: Option<Span> = None;
        let mut first_header: Option<Span> = None;
        for line in lines {
            let keyword = line.tokens[0].1;
            match line.tokens[0].0 {
                Token::Aqua | Token::Module | Token::Import | Token::Use | Token::Export => {
                    let is_module = matches!(line.tokens[0].0, Token::Aqua | Token::Module);
                    if let Some(definition) = first_definition {
                        self.diagnostics.push(
                            Diagnostic::new(Code::MisplacedLine, line.span())
                                .with_message("header lines come before all definitions")
                                .with_label(definition, "the first definition")
                                .with_help("move this line to the top of the file"),
                        );
                    } else if let (true, Some(first)) = (is_module, module_line) {
                        self.diagnostics.push(
                            Diagnostic::new(Code::MisplacedLine, keyword)
                                .with_message("a file has one `aqua` header")
                                .with_primary_label("a second header")
                                .with_label(first, "the header of this file")
                                .with_help("remove this line"),
                        );
                    } else if let (true, Some(first)) = (is_module, first_header) {
                        self.diagnostics.push(
                            Diagnostic::new(Code::MisplacedLine, keyword)
                                .with_message("the `aqua` header is the first line of a file")
                                .with_primary_label("too late")
                                .with_label(first, "this line comes before it")
                                .with_help("move this line to the top of the file"),
                        );
                    }
                    if is_module {
                        module_line.get_or_insert(line.span());
                    } else {
                        first_header.get_or_insert(line.span());
                    }
                    if let Some(item) = self.line(|p| &p.header, line) {
                        if let HeaderItem::Module {
                            legacy,
                            keyword,
                            name,
                            ..
                        } = &item
                        {
                            if *legacy {
                                self.diagnostics.push(legacy_module(*keyword));
                            }
                            for part in &name.parts {
                                self.check_case(part, Case::Upper, "a module name");
                            }
                        }
                        file.header.push(item);
                    }
                    self.no_children(line);
                }
                _ => {
                    first_definition.get_or_insert(line.span());
                    file.items.push(self.definition(line));
                }
            }
        }
        file
    }

    /// Names of types, services, abilities and modules start with an upper-case letter,
    /// functions with a lower-case one, and constants are all upper case: the case tells
    /// Aqua's grammar what a name is.
    fn check_case(&mut self, name: &Ident, case: Case, what: &str) {
        let text = name.text.as_str();
        let (fits, fixed, rule) = match case {
            Case::Upper => (
                text.starts_with(|c: char| c.is_ascii_uppercase()),
                capitalized(text, char::to_ascii_uppercase),
                "starts with an upper-case letter",
            ),
            Case::Lower => (
                text.starts_with(|c: char| c.is_ascii_lowercase()),
                capitalized(text, char::to_ascii_lowercase),
                "starts with a lower-case letter",
            ),
            Case::Constant => (
                !text.chars().any(|c| c.is_ascii_lowercase()),
                text.to_ascii_uppercase(),
                "is written in upper case",
            ),
        };
        if !fits {
            self.diagnostics.push(
                Diagnostic::new(Code::Syntax, name.span)
                    .with_message(format!("{what} {rule}"))
                    .with_primary_label(format!("write `{fixed}`"))
                    .with_suggestion(name.span, fixed),
            );
        }
    }

    fn definition(&mut self, line: &'t Line<'s>) -> Item {
        let Some(mut item) = self.line(|p| &p.definition, line) else {
            // Still read the body, to report its own errors.
            match line.tokens[0].0 {
                Token::Func => {
                    self.block(&line.children, 1);
                }
                Token::Data | Token::Service | Token::Ability => {
                    self.fields(&line.children);
                }
                _ => {}
            }
            return Item::Error(line.full_span());
        };
        match &item {
            Item::Data { name, .. } => self.check_case(name, Case::Upper, "a data type name"),
            Item::Alias { name, .. } => self.check_case(name, Case::Upper, "a type alias name"),
            Item::Service { name, .. } => self.check_case(name, Case::Upper, "a service name"),
            Item::Ability { name, .. } => self.check_case(name, Case::Upper, "an ability name"),
            Item::Const { name, .. } => self.check_case(name, Case::Constant, "a constant name"),
            Item::Func(func) => self.check_case(&func.name, Case::Lower, "a function name"),
            Item::Error(_) => {}
        }
        match &mut item {
            Item::Data { name, fields, .. } => {
                self.require_children(
                    line,
                    name.span,
                    format!("data `{}` has no fields", name.text),
                );
                *fields = self.fields(&line.children);
            }
            Item::Ability { name, fields, .. } => {
                let message = format!("ability `{}` has no fields", name.text);
                self.require_children(line, name.span, message);
                *fields = self.fields(&line.children);
            }
            Item::Service { name, methods, .. } => {
                let message = format!("service `{}` has no methods", name.text);
                self.require_children(line, name.span, message);
                *methods = self.fields(&line.children);
                for method in methods.iter() {
                    self.check_case(&method.name, Case::Lower, "a service function name");
                }
            }
            Item::Func(func) => {
                let message = format!("function `{}` has no body", func.name.text);
                self.require_children(line, line.tokens[0].1, message);
                func.body = self.block(&line.children, 1);
            }
            Item::Alias { .. } | Item::Const { .. } | Item::Error(_) => self.no_children(line),
        }
        item
    }

    fn fields(&mut self, lines: &'t [Line<'s>]) -> Vec<Field> {
        let mut fields = Vec::new();
        for line in lines {
            if let Some(field) = self.line(|p| &p.field, line) {
                fields.push(field);
            }
            self.no_children(line);
        }
        fields
    }

    fn block(&mut self, lines: &'t [Line<'s>], depth: usize) -> Block {
        // Blocks nest as deep as MAX_NESTING; grow the stack instead of overflowing it. The
        // red zone leaves room for parsing a line, whose grammar takes tens of kilobytes of
        // stack in debug builds.
        stacker::maybe_grow(256 << 10, 2 << 20, || self.block_lines(lines, depth))
    }

    fn block_lines(&mut self, lines: &'t [Line<'s>], depth: usize) -> Block {
        let mut block = Block::default();
        if depth > MAX_NESTING {
            if let Some(first) = lines.first() {
                self.diagnostics
                    .push(
                        Diagnostic::new(Code::TooLarge, first.span()).with_message(format!(
                            "blocks are nested deeper than {MAX_NESTING} levels"
                        )),
                    );
            }
            return block;
        }
        for line in lines {
            let parsed = match unknown_statement(line) {
                Some(diagnostic) => {
                    self.diagnostics.push(diagnostic);
                    None
                }
                None => self.line(|p| &p.statement, line),
            };
            let Some((mut stmt, opens)) = parsed else {
                self.block(&line.children, depth + 1);
                block.stmts.push(Stmt {
                    kind: StmtKind::Error,
                    span: line.span(),
                });
                continue;
            };
            if opens {
                let message = format!("{} has no body", block_name(&stmt.kind));
                self.require_children(line, line.tokens[0].1, message);
                if let Some(body) = body_of(&mut stmt.kind) {
                    *body = self.block(&line.children, depth + 1);
                }
            } else {
                self.no_children(line);
            }
            block.stmts.push(stmt);
        }
        block
    }

    /// Parses one line with the grammar that `grammar` picks; on failure reports its first
    /// error and returns `None`.
    fn line<O>(
        &mut self,
        grammar: impl for<'p> Fn(&'p Parsers<'t, 's>) -> &'p Boxed<'t, 's, O>,
        line: &'t Line<'s>,
    ) -> Option<O> {
        let parser = grammar(&self.parsers);
        // A malformed token is already reported by itself; a grammar error about the same
        // line would only repeat it.
        if line
            .tokens
            .iter()
            .any(|(t, _)| matches!(t, Token::Malformed(_)))
        {
            return None;
        }
        if let Some(diagnostic) = bracket_problem(line) {
            self.diagnostics.push(diagnostic);
            return None;
        }
        let end = line.span().end;
        let input = line
            .tokens
            .as_slice()
            .split_token_span(Span::from(end..end));
        let (output, errors) = parser.parse(input).into_output_errors();
        match errors.first() {
            None => output,
            Some(error) => {
                self.diagnostics.push(syntax_diagnostic(error, line));
                None
            }
        }
    }

    /// A line that opens a block must have one: else `message` at `at`, the thing that is
    /// left empty.
    fn require_children(&mut self, line: &Line<'s>, at: Span, message: String) {
        if line.children.is_empty() {
            let colon = line.tokens.last().map_or(line.span(), |(_, s)| *s);
            self.diagnostics.push(
                Diagnostic::new(Code::MissingBlock, at)
                    .with_message(message)
                    .with_label(
                        colon,
                        "this `:` opens a block, but no indented lines follow",
                    )
                    .with_help("write the body on the next lines, indented deeper than this one"),
            );
        }
    }

    fn no_children(&mut self, line: &Line<'s>) {
        if let Some(first) = line.children.first() {
            let span = Span::from(
                first.span().start
                    ..line
                        .children
                        .last()
                        .map_or(first.span().end, |l| l.full_span().end),
            );
            self.diagnostics.push(
                Diagnostic::new(Code::UnexpectedBlock, span)
                    .with_message("unexpected indented lines")
                    .with_label(line.span(), "this line does not open a block")
                    .with_help("only lines ending with `:` have an indented body; unindent these lines if they are not part of it"),
            );
        }
    }
}

/// The body a block-opening statement fills from its indented lines.
/// How a kind of name is written.
#[derive(Clone, Copy)]
enum Case {
    Upper,
    Lower,
    Constant,
}

/// `text` with its first letter changed by `change`.
fn capitalized(text: &str, change: fn(&char) -> char) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => std::iter::once(change(&first)).chain(chars).collect(),
        None => String::new(),
    }
}

/// What a statement with a body is called in messages.
fn block_name(kind: &StmtKind) -> String {
    match kind {
        StmtKind::On { .. } => "the `on` block".into(),
        StmtKind::For { .. } => "the `for` loop".into(),
        StmtKind::Parseq { .. } => "the `parseq` loop".into(),
        StmtKind::If { .. } => "the `if` block".into(),
        StmtKind::Else { .. } => "the `else` block".into(),
        StmtKind::Try { .. } => "the `try` block".into(),
        StmtKind::Catch { .. } => "the `catch` block".into(),
        StmtKind::Otherwise { .. } => "the `otherwise` block".into(),
        StmtKind::Closure { name, .. } => format!("the closure `{}`", name.text),
        StmtKind::Par(inner) | StmtKind::Co(inner) => block_name(&inner.kind),
        _ => "the block".into(),
    }
}

fn body_of(kind: &mut StmtKind) -> Option<&mut Block> {
    match kind {
        StmtKind::On { body, .. }
        | StmtKind::For { body, .. }
        | StmtKind::Parseq { body, .. }
        | StmtKind::If { body, .. }
        | StmtKind::Else { body }
        | StmtKind::Try { body }
        | StmtKind::Catch { body, .. }
        | StmtKind::Otherwise { body } => Some(body),
        StmtKind::Closure { func, .. } => Some(&mut func.body),
        StmtKind::Par(inner) | StmtKind::Co(inner) => body_of(&mut inner.kind),
        _ => None,
    }
}

/// Unclosed or unmatched brackets in a line, which make any grammar error meaningless.
fn bracket_problem(line: &Line<'_>) -> Option<Diagnostic> {
    let mut open: Vec<(Token<'_>, Span)> = Vec::new();
    for &(token, span) in &line.tokens {
        let closer = match token {
            Token::LParen | Token::LBracket | Token::LBrace => {
                open.push((token, span));
                if open.len() > MAX_NESTING {
                    return Some(Diagnostic::new(Code::TooLarge, span).with_message(format!(
                        "brackets are nested deeper than {MAX_NESTING} levels"
                    )));
                }
                continue;
            }
            Token::RParen => Token::LParen,
            Token::RBracket => Token::LBracket,
            Token::RBrace => Token::LBrace,
            _ => continue,
        };
        match open.pop() {
            Some((opener, _)) if opener == closer => {}
            Some((opener, opener_span)) => {
                return Some(
                    Diagnostic::new(Code::UnclosedDelimiter, opener_span)
                        .with_message(format!("{opener} is closed by {token}"))
                        .with_label(span, "this closes a different bracket"),
                )
            }
            None => {
                return Some(
                    Diagnostic::new(Code::Syntax, span)
                        .with_message(format!("{token} closes nothing"))
                        .with_primary_label("no bracket is open here"),
                )
            }
        }
    }
    open.pop().map(|(opener, span)| {
        Diagnostic::new(Code::UnclosedDelimiter, span)
            .with_message(format!("{opener} is never closed"))
            .with_primary_label("opened here")
            .with_help("close it before the end of the statement")
    })
}

/// Keywords that start statements, for "did you mean" hints.
const STATEMENT_KEYWORDS: &[&str] = &[
    "on",
    "for",
    "parseq",
    "if",
    "else",
    "try",
    "catch",
    "otherwise",
    "par",
    "co",
    "join",
];

/// A statement that starts with a lower-case word followed directly by another word, number
/// or string, as in `while ready:`: no Aqua statement does, so the first word is a keyword of
/// another language or a misspelled one. Reported at that word, with the Aqua way to say it.
fn unknown_statement(line: &Line<'_>) -> Option<Diagnostic> {
    let [(Token::Ident(word), span), (next, _), ..] = line.tokens.as_slice() else {
        return None;
    };
    let value_follows = next.name_text().is_some()
        || matches!(next, Token::Int(_) | Token::Float(_) | Token::Str(_));
    if !value_follows || !word.starts_with(|c: char| c.is_ascii_lowercase()) {
        return None;
    }
    let help = match *word {
        "while" | "loop" | "until" | "do" | "foreach" => {
            "Aqua has no such loop: `for x <- xs:` runs a block for each item of a collection or stream".to_string()
        }
        "return" => "a function returns its results with `<- value` as its last line".to_string(),
        "let" | "var" | "val" | "const" => "a value gets its name with `name = value`".to_string(),
        "elif" | "elsif" | "elseif" => "write `else:` and an `if` inside its block".to_string(),
        "switch" | "match" | "case" | "when" => "choose between blocks with `if` and `else`".to_string(),
        _ => match nearest(word, STATEMENT_KEYWORDS) {
            Some(keyword) => format!("did you mean `{keyword}`?"),
            None => format!(
                "statements start with a keyword ({}), a name followed by `=`, `<-` or `<<-`, or a call",
                STATEMENT_KEYWORDS.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
            ),
        },
    };
    Some(
        Diagnostic::new(Code::Syntax, *span)
            .with_message(format!("`{word}` is not an Aqua statement"))
            .with_primary_label("unknown keyword")
            .with_help(help),
    )
}

/// The warning for a `module` header, which Aqua 0.14 renamed to `aqua`.
fn legacy_module(keyword: Span) -> Diagnostic {
    Diagnostic::new(Code::DeprecatedModule, keyword)
        .with_message("the `module` header is deprecated")
        .with_primary_label("write `aqua` here")
        .with_help("replace `module` with `aqua`; the rest of the line stays as it is")
        .with_suggestion(keyword, "aqua")
}

fn syntax_diagnostic<'s>(
    error: &Rich<'_, Token<'s>, Span, grammar::Problem>,
    line: &Line<'s>,
) -> Diagnostic {
    let span = *error.span();
    match error.reason() {
        RichReason::Custom(problem) => {
            let mut diagnostic =
                Diagnostic::new(Code::Syntax, span).with_message(problem.message.clone());
            if let Some(label) = &problem.label {
                diagnostic = diagnostic.with_primary_label(label.clone());
            }
            if let Some(help) = &problem.help {
                diagnostic = diagnostic.with_help(help.clone());
            }
            diagnostic
        }
        RichReason::ExpectedFound { expected, found } => {
            let mut wanted: Vec<String> = expected
                .iter()
                .map(|pattern| match pattern {
                    RichPattern::Token(token) => token.describe(),
                    RichPattern::Label(label) => label.to_string(),
                    RichPattern::Identifier(word) => format!("`{word}`"),
                    RichPattern::Any => "more".to_string(),
                    RichPattern::EndOfInput => "the end of the line".to_string(),
                    _ => "something else".to_string(),
                })
                .collect();
            wanted.sort();
            wanted.dedup();
            let wanted = match wanted.as_slice() {
                [] => "something else".to_string(),
                [one] => one.clone(),
                [init @ .., last] => format!("{} or {last}", init.join(", ")),
            };
            let (message, span) = match found {
                Some(token) => (format!("unexpected {}", &**token), span),
                None => {
                    let last = line.tokens.last().map_or(span, |(_, s)| *s);
                    ("the statement ends too early".to_string(), last)
                }
            };
            let mut diagnostic = Diagnostic::new(Code::Syntax, span)
                .with_message(message)
                .with_primary_label(format!("expected {wanted}"));
            if let (Token::Ident(word), true) = (line.tokens[0].0, span == line.tokens[0].1) {
                if let Some(keyword) = nearest(word, TOP_LEVEL_KEYWORDS) {
                    diagnostic = diagnostic.with_help(format!("did you mean `{keyword}`?"));
                }
            }
            diagnostic
        }
    }
}

/// The candidate closest to `word`, if close enough to be a likely typo.
pub(crate) fn nearest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), *c))
        .filter(|&(distance, c)| distance > 0 && distance <= 1.max(c.len() / 3))
        .min()
        .map(|(_, c)| c)
}
