//! The AIR parser: tokens to a [`Script`], with error recovery.
//!
//! The parser never recurses: open instructions live on an explicit stack of frames, so any
//! nesting depth parses in memory proportional to the depth (eight bytes per level: a frame
//! keeps its state in its instruction's reserved row, and arguments are packed into 32 bits).
//! Each frame collects its arguments
//! (values, `(service function)` groups, `[...]` lists, child instructions) and checks them
//! against the instruction's shape when its `)` arrives. A broken instruction becomes
//! [`Instr::Error`] and parsing goes on, so one run reports every independent error.
//!
//! Well-formed leaf instructions take a fast path instead: they are read straight from the
//! lexer into the arena, and anything unexpected rolls the attempt back to the general path.
//! Both build the same tree (checked by `parse_without_fast_path` in tests and fuzzing). An
//! instruction's row is reserved at its `(`, so the arena is in source order.

use logos::Logos;

use super::lexer::Token;
use super::word::{self, Keyword};
use crate::ast::{
    Call, Canon, CanonForm, Fail, Fold, FoldForm, Instr, InstrId, Script, Span, Value, ValueId,
    ValueRange,
};
use crate::diagnostic::{Diagnostic, ErrorCode};

/// The result of parsing: a script (with [`Instr::Error`] in place of broken instructions) and
/// the syntax errors found.
#[derive(Debug)]
pub struct Parsed {
    /// The script. When `diagnostics` is empty it is complete.
    pub script: Script,
    /// Syntax errors, in source order.
    pub diagnostics: Vec<Diagnostic>,
}

/// Parsing stops after this many errors.
pub const MAX_DIAGNOSTICS: usize = 100;

/// The largest source the parser accepts, 1 GiB: spans are 32-bit, and the parser's stack packs
/// an index below the input's length with a tag into 32 bits.
pub const MAX_SOURCE_LEN: usize = (1 << 30) - 1;

/// Parses AIR source text. Never panics; see [`Parsed`].
pub fn parse(source: &str) -> Parsed {
    if source.len() > MAX_SOURCE_LEN {
        let mut script = Script::new();
        let root = script.push_instr(Instr::Error, Span::DUMMY);
        script.set_root(root);
        let diagnostic = Diagnostic::new(
            ErrorCode::TooLarge,
            format!(
                "the script is {} bytes; the parser accepts at most {MAX_SOURCE_LEN}",
                source.len()
            ),
            Span::DUMMY,
            "input too large",
        );
        return Parsed {
            script,
            diagnostics: vec![diagnostic],
        };
    }
    Parser::new(source, true).run()
}

/// Parses without the fast path for well-formed leaf instructions: the same result as
/// [`parse`], more slowly. For tests and fuzzing, which compare the two.
#[doc(hidden)]
pub fn parse_without_fast_path(source: &str) -> Parsed {
    if source.len() > MAX_SOURCE_LEN {
        return parse(source);
    }
    Parser::new(source, false).run()
}

#[derive(Clone, Copy, Debug)]
enum Item {
    Instr(InstrId, Span),
    // Index into `Parser::values`.
    Value(u32),
    // `( v v ... )` that is not an instruction: a call's `(service function)` or an ap's
    // `(key value)`. `start..start+len` indexes `Parser::values`.
    Group { start: u32, len: u32, span: Span },
    // `[ v v ... ]`.
    List { start: u32, len: u32, span: Span },
    // Something already reported as an error.
    Bad(Span),
}

impl Item {
    fn span(self, values: &[(Value, Span)]) -> Span {
        match self {
            Item::Instr(_, span)
            | Item::Group { span, .. }
            | Item::List { span, .. }
            | Item::Bad(span) => span,
            Item::Value(index) => values[index as usize].1,
        }
    }
}

// An item on the parser's stack, packed: a finished instruction or a value inline (the
// instruction's span is in its row), anything else in `Parser::extra_items`. Two bits of tag
// and 30 of index.
#[derive(Clone, Copy)]
struct PackedItem(u32);

impl PackedItem {
    const INDEX_BITS: u32 = 30;
    const INDEX_MASK: u32 = (1 << Self::INDEX_BITS) - 1;
    const INSTR: u32 = 0;
    const VALUE: u32 = 1;
    const EXTRA: u32 = 2;

    // Every index is below the input's length, hence below `MAX_SOURCE_LEN`.
    fn new(tag: u32, index: usize) -> Self {
        const { assert!(MAX_SOURCE_LEN <= PackedItem::INDEX_MASK as usize) };
        assert!(
            index <= MAX_SOURCE_LEN,
            "an item index beyond the input's length"
        );
        PackedItem(tag << Self::INDEX_BITS | index as u32)
    }

    fn tag(self) -> u32 {
        self.0 >> Self::INDEX_BITS
    }

    fn index(self) -> usize {
        (self.0 & Self::INDEX_MASK) as usize
    }
}

// An open instruction, as kept in the spare words of its reserved row (see
// `Script::reserved_words`).
#[derive(Clone, Copy, Debug)]
struct Frame {
    // `None` for an unknown instruction, whose contents are still parsed for errors.
    keyword: Option<Keyword>,
    // Reserved when the frame opens, so that instructions are stored in source order (parents
    // before children), the order in which validation and execution visit them. The reserved
    // row's span starts at the frame's `(`.
    id: InstrId,
    items_base: u32,
    values_base: u32,
}

impl Frame {
    const UNKNOWN: u32 = u32::MAX;

    fn words(self) -> [u32; 3] {
        let keyword = self.keyword.map_or(Self::UNKNOWN, |k| k as u32);
        [keyword, self.items_base, self.values_base]
    }

    fn from_words(id: InstrId, [keyword, items_base, values_base]: [u32; 3]) -> Frame {
        Frame {
            keyword: word::KEYWORDS.get(keyword as usize).map(|&(_, k)| k),
            id,
            items_base,
            values_base,
        }
    }
}

struct Parser<'src> {
    source: &'src str,
    lexer: logos::Lexer<'src, Token>,
    peeked: Option<Option<(Token, Span)>>,
    script: Script,
    // How many distinct strings the script was prepared for.
    strings_reserved: usize,
    diagnostics: Vec<Diagnostic>,
    // The open instructions' rows, innermost last.
    frames: Vec<InstrId>,
    items: Vec<PackedItem>,
    // Items that do not fit in a `PackedItem`, in stack order.
    extra_items: Vec<Item>,
    values: Vec<(Value, Span)>,
    root: Option<InstrId>,
    trailing_reported: bool,
    // An unterminated string ran to the end of input: the brackets it swallowed are not
    // reported as unclosed.
    swallowed_to_end: bool,
    fast_path: bool,
    stopped: bool,
}

// How a shape check failed: with a new diagnostic, or on an item already reported.
enum Broken {
    New(Diagnostic),
    Reported,
}

impl From<Diagnostic> for Broken {
    fn from(diagnostic: Diagnostic) -> Self {
        Broken::New(diagnostic)
    }
}

type Shape<T> = Result<T, Broken>;

impl<'src> Parser<'src> {
    fn new(source: &'src str, fast_path: bool) -> Self {
        // An instruction starts with `(` and a lowercase keyword, so counting those pairs (a
        // fast, vectorized scan) gives the number of instructions; scripts have about two
        // values per instruction and reuse names a lot. Reserving up front avoids copying the
        // arenas as they grow; they are shrunk to size at the end.
        let instrs = count_instruction_starts(source.as_bytes());
        let strings = (instrs / 8).clamp(32, 1 << 16);
        let mut script = Script::with_capacity(instrs + 1, 2 * instrs + 8, strings);
        // About two interned words per instruction.
        script.set_intern_cache(2 * instrs + 1);
        Parser {
            source,
            lexer: Token::lexer(source),
            peeked: None,
            script,
            strings_reserved: strings,
            diagnostics: Vec::new(),
            frames: Vec::with_capacity(16),
            items: Vec::with_capacity(16),
            extra_items: Vec::new(),
            values: Vec::with_capacity(8),
            root: None,
            trailing_reported: false,
            swallowed_to_end: false,
            fast_path,
            stopped: false,
        }
    }

    fn run(mut self) -> Parsed {
        while !self.stopped {
            let Some((token, span)) = self.next_token() else {
                break;
            };
            match token {
                Token::LParen => self.open_paren(span),
                Token::RParen => self.close_paren(span),
                Token::LBracket => {
                    let item = self.list(span);
                    self.push_item(item);
                }
                Token::EmptyBrackets => self.push_item(Item::List {
                    start: self.values.len() as u32,
                    len: 0,
                    span,
                }),
                Token::RBracket => self.error(Diagnostic::new(
                    ErrorCode::UnmatchedCloser,
                    "unmatched `]`",
                    span,
                    "no `[` to close",
                )),
                Token::String | Token::Word | Token::UnterminatedString => {
                    let item = self.value_item(token, span);
                    self.push_item(item);
                }
                Token::Comment => unreachable!("next_token skips comments"),
            }
        }
        self.finish()
    }

    fn finish(mut self) -> Parsed {
        if !self.stopped && !self.swallowed_to_end && !self.frames.is_empty() {
            let innermost = self.innermost().expect("frames is not empty");
            let outermost = self.frame(self.frames[0]);
            let opener = self.opener(innermost);
            let mut diagnostic = Diagnostic::new(
                ErrorCode::UnclosedParen,
                format!(
                    "unclosed `(`: {} is never closed",
                    describe_frame(innermost)
                ),
                opener,
                "this `(` has no matching `)`",
            );
            if self.frames.len() > 1 {
                diagnostic = diagnostic.with_secondary(
                    self.opener(outermost),
                    format!(
                        "{} instructions are open at the end of input, starting here",
                        self.frames.len()
                    ),
                );
            }
            self.error(diagnostic.with_hint("add the missing `)`"));
            let end = self.source.len() as u32;
            while !self.frames.is_empty() {
                self.close_frame(Span::new(end, end), false);
            }
        }
        // Stopped early: the frames still open hold parser state in their rows.
        for id in std::mem::take(&mut self.frames) {
            let start = self.script.instr_span(id).start;
            self.script
                .replace_instr(id, Instr::Error, Span::new(start, start));
        }
        let root = match self.root {
            Some(root) if !self.stopped => root,
            _ => {
                if self.root.is_none() && self.diagnostics.is_empty() {
                    let end = self.source.len() as u32;
                    self.diagnostics.push(
                        Diagnostic::new(
                            ErrorCode::EmptyScript,
                            "the script is empty",
                            Span::new(end, end),
                            "expected an instruction",
                        )
                        .with_hint("the smallest script is `(null)`"),
                    );
                }
                self.script.push_instr(Instr::Error, Span::DUMMY)
            }
        };
        self.script.set_root(root);
        self.script.set_intern_cache(0);
        self.script.shrink_large();
        // Rehashing costs time in proportion to the strings kept, so shrink only a string
        // table that was prepared for many more strings than the script has.
        if self.script.n_strings() < self.strings_reserved / 4 {
            self.script.shrink_strings();
        }
        Parsed {
            script: self.script,
            diagnostics: self.diagnostics,
        }
    }

    // ---- tokens ----

    fn lex(&mut self) -> Option<(Token, Span)> {
        loop {
            let token = self.lexer.next()?;
            let range = self.lexer.span();
            let span = Span::new(range.start as u32, range.end as u32);
            match token {
                Ok(Token::Comment) => {
                    let text = self.lexer.slice().trim_end();
                    self.script
                        .push_comment(text, Span::new(span.start, span.start + text.len() as u32));
                }
                Ok(token) => return Some((token, span)),
                // Every character starts some token (a stray one starts a word), so the
                // lexer cannot fail; treat a failure like a word, which is then classified.
                Err(()) => return Some((Token::Word, span)),
            }
        }
    }

    fn next_token(&mut self) -> Option<(Token, Span)> {
        match self.peeked.take() {
            Some(token) => token,
            None => self.lex(),
        }
    }

    fn peek(&mut self) -> Option<(Token, Span)> {
        if self.peeked.is_none() {
            self.peeked = Some(self.lex());
        }
        self.peeked.expect("just filled")
    }

    fn text(&self, span: Span) -> &'src str {
        &self.source[span.range()]
    }

    // ---- errors ----

    fn error(&mut self, diagnostic: Diagnostic) {
        if self.stopped {
            return;
        }
        if self.diagnostics.len() >= MAX_DIAGNOSTICS {
            let span = diagnostic.primary.span;
            self.diagnostics.push(Diagnostic::new(
                ErrorCode::TooManyErrors,
                format!("stopped after {MAX_DIAGNOSTICS} errors"),
                span,
                "parsing stopped here",
            ));
            self.stopped = true;
            return;
        }
        self.diagnostics.push(diagnostic);
    }

    // ---- items ----

    fn push_item(&mut self, item: Item) {
        if !self.frames.is_empty() {
            let packed = match item {
                Item::Instr(id, _) => PackedItem::new(PackedItem::INSTR, id.index()),
                Item::Value(index) => PackedItem::new(PackedItem::VALUE, index as usize),
                _ => {
                    self.extra_items.push(item);
                    PackedItem::new(PackedItem::EXTRA, self.extra_items.len() - 1)
                }
            };
            self.items.push(packed);
            return;
        }
        // Top level: only one instruction.
        match item {
            Item::Instr(id, span) => {
                if self.root.is_none() {
                    self.root = Some(id);
                } else {
                    self.report_trailing(span);
                }
            }
            Item::Bad(_) => {}
            other => {
                let span = other.span(&self.values);
                if self.root.is_some() {
                    self.report_trailing(span);
                } else {
                    let found = self.describe_item(other);
                    self.error(Diagnostic::new(
                        ErrorCode::ExpectedInstruction,
                        format!("expected an instruction, found {found}"),
                        span,
                        "a script is an instruction in parentheses",
                    ));
                }
            }
        }
        // Top-level values are not part of any frame.
        self.values.clear();
    }

    // The item at `index` of the stack.
    fn item_at(&self, index: usize) -> Item {
        let packed = self.items[index];
        match packed.tag() {
            PackedItem::INSTR => {
                let id = InstrId::from_index(packed.index());
                Item::Instr(id, self.script.instr_span(id))
            }
            PackedItem::VALUE => Item::Value(packed.index() as u32),
            _ => self.extra_items[packed.index()],
        }
    }

    // The instruction at `index` of the stack, if the item there is one.
    fn instr_at(&self, index: usize) -> Option<InstrId> {
        let packed = self.items[index];
        (packed.tag() == PackedItem::INSTR).then(|| InstrId::from_index(packed.index()))
    }

    fn truncate_items(&mut self, len: usize) {
        // Extra items are in stack order, so the first one removed is where they end now.
        if let Some(first) = self.items[len..]
            .iter()
            .find(|item| item.tag() == PackedItem::EXTRA)
        {
            self.extra_items.truncate(first.index());
        }
        self.items.truncate(len);
    }

    // ---- frames ----

    fn frame(&self, id: InstrId) -> Frame {
        Frame::from_words(id, self.script.reserved_words(id))
    }

    fn innermost(&self) -> Option<Frame> {
        self.frames.last().map(|&id| self.frame(id))
    }

    fn open_frame(&mut self, keyword: Option<Keyword>, open: Span) {
        let id = self.reserve_instr(open);
        let frame = Frame {
            keyword,
            id,
            items_base: self.items.len() as u32,
            values_base: self.values.len() as u32,
        };
        self.script.set_reserved_words(id, frame.words());
        self.frames.push(id);
    }

    fn report_trailing(&mut self, span: Span) {
        if self.trailing_reported {
            return;
        }
        self.trailing_reported = true;
        let root_span = self.root.map(|root| self.script.instr_span(root));
        let mut diagnostic = Diagnostic::new(
            ErrorCode::TrailingInput,
            "unexpected input after the end of the script",
            span,
            "the script already ended",
        )
        .with_hint("a script is a single instruction; combine several with `(seq A B)`");
        if let Some(root_span) = root_span {
            diagnostic = diagnostic.with_secondary(root_span, "the script is this instruction");
        }
        self.error(diagnostic);
    }

    fn value_item(&mut self, token: Token, span: Span) -> Item {
        match self.value(token, span) {
            Some(value) => {
                self.values.push((value, span));
                Item::Value(self.values.len() as u32 - 1)
            }
            None => Item::Bad(span),
        }
    }

    // A value from a word or string token; `None` after reporting an error.
    fn value(&mut self, token: Token, span: Span) -> Option<Value> {
        let text = self.text(span);
        match token {
            Token::String => {
                let sym = self.script.intern(&text[1..text.len() - 1]);
                Some(Value::String(sym))
            }
            Token::UnterminatedString => {
                self.swallowed_to_end = true;
                self.error(
                    Diagnostic::new(
                        ErrorCode::UnterminatedString,
                        "unterminated string literal",
                        Span::new(span.start, span.start + 1),
                        "this string has no closing `\"`",
                    )
                    .with_hint(
                        "the string runs to the end of the input; add the missing `\"` (AIR strings cannot contain a double quote)",
                    ),
                );
                None
            }
            Token::Word => {
                if let Some(keyword) = Keyword::from_word(text) {
                    self.error(
                        Diagnostic::new(
                            ErrorCode::WrongArgument,
                            format!(
                                "`{}` is an instruction keyword, not a value",
                                keyword.as_str()
                            ),
                            span,
                            "keyword used as a value",
                        )
                        .with_hint(format!(
                            "instructions are written in parentheses: {}",
                            usage(keyword)
                        )),
                    );
                    return None;
                }
                match word::parse_value(&mut self.script, text, span.start) {
                    Ok(value) => Some(value),
                    Err(diagnostic) => {
                        self.error(*diagnostic);
                        None
                    }
                }
            }
            _ => unreachable!("only value tokens reach here"),
        }
    }

    // ---- brackets ----

    // After `[`: values up to `]`. `[]` inside the list is the empty array.
    fn list(&mut self, open: Span) -> Item {
        let start = self.values.len() as u32;
        let mut broken = false;
        loop {
            let Some((token, span)) = self.peek() else {
                if !self.swallowed_to_end {
                    self.unclosed_bracket(open);
                }
                return Item::Bad(open);
            };
            match token {
                Token::RBracket => {
                    self.next_token();
                    let len = self.values.len() as u32 - start;
                    let span = Span::new(open.start, span.end);
                    if broken {
                        return Item::Bad(span);
                    }
                    return Item::List { start, len, span };
                }
                Token::EmptyBrackets => {
                    self.next_token();
                    self.values.push((Value::EmptyArray, span));
                }
                Token::LBracket => {
                    self.next_token();
                    broken |= !self.inner_empty_array(span);
                }
                Token::String | Token::Word | Token::UnterminatedString => {
                    self.next_token();
                    match self.value(token, span) {
                        Some(value) => self.values.push((value, span)),
                        None => broken = true,
                    }
                }
                // A `(` or `)` inside `[...]` most likely means the `]` was forgotten: end the
                // list here and let the bracket be handled normally.
                Token::LParen | Token::RParen => {
                    self.unclosed_bracket(open);
                    return Item::Bad(Span::new(open.start, span.start));
                }
                Token::Comment => unreachable!("next_token skips comments"),
            }
            if self.stopped {
                return Item::Bad(open);
            }
        }
    }

    // After a `[` (at `open`) inside a list or a pair: `[ ]` is the empty array; anything else is
    // a nested array, reported and skipped. Returns whether it was the empty array.
    fn inner_empty_array(&mut self, open: Span) -> bool {
        if let Some((Token::RBracket, close)) = self.peek() {
            self.next_token();
            self.values
                .push((Value::EmptyArray, Span::new(open.start, close.end)));
            return true;
        }
        self.error(nested_array(open));
        self.skip_to_bracket_end();
        false
    }

    fn unclosed_bracket(&mut self, open: Span) {
        self.error(
            Diagnostic::new(
                ErrorCode::UnclosedParen,
                "unclosed `[`",
                open,
                "this `[` has no matching `]`",
            )
            .with_hint("add the missing `]`"),
        );
    }

    // Skips to the `]` that closes the current bracket level, or to a parenthesis.
    fn skip_to_bracket_end(&mut self) {
        let mut depth = 1usize;
        while let Some((token, _)) = self.peek() {
            match token {
                Token::LBracket => depth += 1,
                Token::RBracket => {
                    depth -= 1;
                    if depth == 0 {
                        self.next_token();
                        return;
                    }
                }
                Token::LParen | Token::RParen => return,
                _ => {}
            }
            self.next_token();
        }
    }

    // After `(` that does not start an instruction: values up to `)`.
    fn group(&mut self, open: Span) -> Item {
        let start = self.values.len() as u32;
        let mut broken = false;
        loop {
            let Some((token, span)) = self.next_token() else {
                if self.swallowed_to_end {
                    return Item::Bad(open);
                }
                self.error(
                    Diagnostic::new(
                        ErrorCode::UnclosedParen,
                        "unclosed `(`",
                        open,
                        "this `(` has no matching `)`",
                    )
                    .with_hint("add the missing `)`"),
                );
                return Item::Bad(open);
            };
            match token {
                Token::RParen => {
                    let span = Span::new(open.start, span.end);
                    if broken {
                        return Item::Bad(span);
                    }
                    let len = self.values.len() as u32 - start;
                    return Item::Group { start, len, span };
                }
                Token::EmptyBrackets => self.values.push((Value::EmptyArray, span)),
                Token::LBracket => broken |= !self.inner_empty_array(span),
                Token::RBracket => {
                    self.error(Diagnostic::new(
                        ErrorCode::UnmatchedCloser,
                        "unmatched `]`",
                        span,
                        "no `[` to close",
                    ));
                    broken = true;
                }
                Token::LParen => {
                    self.error(Diagnostic::new(
                        ErrorCode::WrongArgument,
                        "unexpected `(` inside a parenthesized pair of values",
                        span,
                        "instructions cannot appear here",
                    ));
                    broken = true;
                    self.skip_balanced();
                }
                Token::String | Token::Word | Token::UnterminatedString => {
                    match self.value(token, span) {
                        Some(value) => self.values.push((value, span)),
                        None => broken = true,
                    }
                }
                Token::Comment => unreachable!("next_token skips comments"),
            }
            if self.stopped {
                return Item::Bad(open);
            }
        }
    }

    // Skips tokens up to the `)` matching an already consumed `(`, counting nesting without
    // allocating, so that even `((((...` of any length is skipped in constant memory.
    // Returns the position after that `)`, or `None` at end of input.
    fn skip_balanced(&mut self) -> Option<u32> {
        let mut depth = 1usize;
        while let Some((token, span)) = self.next_token() {
            match token {
                Token::LParen => depth += 1,
                Token::RParen => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(span.end);
                    }
                }
                _ => {}
            }
        }
        None
    }

    // ---- instructions ----

    fn open_paren(&mut self, open: Span) {
        let next = self.peek();
        let keyword = match next {
            Some((Token::Word, span)) => Keyword::from_word(self.text(span)).map(|k| (k, span)),
            _ => None,
        };
        if let Some((keyword, _)) = keyword {
            self.next_token();
            self.close_implicitly_before(open);
            if self.fast_leaf(keyword, open) {
                return;
            }
            self.open_frame(Some(keyword), open);
            return;
        }
        match next {
            Some((Token::Word, span)) if !self.group_expected() => {
                self.next_token();
                let name = self.text(span);
                let mut diagnostic = Diagnostic::new(
                    ErrorCode::UnknownInstruction,
                    format!("unknown instruction `{}`", truncate(name)),
                    span,
                    "not an instruction",
                );
                diagnostic = match word::suggest_keyword(name) {
                    Some(suggestion) => {
                        diagnostic.with_hint(format!("did you mean `{suggestion}`?"))
                    }
                    None => diagnostic.with_hint(
                        "instructions are call, canon, ap, seq, par, xor, new, fold, next, match, mismatch, fail, never and null",
                    ),
                };
                self.error(diagnostic);
                self.open_frame(None, open);
            }
            Some((
                Token::Word
                | Token::String
                | Token::UnterminatedString
                | Token::LBracket
                | Token::EmptyBrackets,
                _,
            )) => {
                let item = self.group(open);
                self.push_item(item);
            }
            _ => {
                let found = match next {
                    None => "end of input".to_string(),
                    Some((token, span)) => describe_token(token, self.text(span)),
                };
                self.error(
                    Diagnostic::new(
                        ErrorCode::ExpectedInstruction,
                        format!("expected an instruction name after `(`, found {found}"),
                        open,
                        "this `(` starts no instruction",
                    )
                    .with_hint("write an instruction such as `(null)` or `(seq A B)`"),
                );
                let end = self.skip_balanced();
                let span = Span::new(open.start, end.unwrap_or(self.source.len() as u32));
                if end.is_none() && !self.swallowed_to_end {
                    self.error(Diagnostic::new(
                        ErrorCode::UnclosedParen,
                        "unclosed `(`",
                        open,
                        "this `(` has no matching `)`",
                    ));
                }
                self.push_item(Item::Bad(span));
            }
        }
    }

    // ---- the fast path ----
    //
    // Most of a script is leaf instructions written correctly. They are read here straight from
    // the lexer into the script, without frames and items. Anything unexpected (an error, a
    // comment, a rare form) rolls the attempt back, and the general path reads the instruction
    // again, with full error reporting. Both paths build the same tree.

    fn fast_leaf(&mut self, keyword: Keyword, open: Span) -> bool {
        if !self.fast_path
            || !matches!(
                keyword,
                Keyword::Call
                    | Keyword::Ap
                    | Keyword::Canon
                    | Keyword::Next
                    | Keyword::Null
                    | Keyword::Never
            )
            || self.peeked.is_some()
        {
            return false;
        }
        let saved = self.lexer.clone();
        let n_values = self.script.n_values();
        match self.fast_leaf_body(keyword) {
            Some((instr, end)) => {
                let span = Span::new(open.start, end);
                let id = self.script.push_instr(instr, span);
                self.push_item(Item::Instr(id, span));
                true
            }
            None => {
                self.lexer = saved;
                self.script.truncate_values(n_values);
                false
            }
        }
    }

    // The next token, or `None` at the end, on a lexer error or on a comment (which the general
    // path records).
    fn fast_token(&mut self) -> Option<(Token, Span)> {
        let token = self.lexer.next()?.ok()?;
        if token == Token::Comment {
            return None;
        }
        let range = self.lexer.span();
        Some((token, Span::new(range.start as u32, range.end as u32)))
    }

    // The text of the token just read by `fast_token`.
    fn fast_text(&self) -> &'src str {
        self.lexer.slice()
    }

    fn fast_expect(&mut self, expected: Token) -> Option<Span> {
        let (token, span) = self.fast_token()?;
        (token == expected).then_some(span)
    }

    #[inline(always)]
    fn fast_value(&mut self, slot: &Slot) -> Option<ValueId> {
        let (token, span) = self.fast_token()?;
        self.fast_value_from(token, span, slot)
    }

    // `token` must be the token just read, at `span`. Inlined so that each call site knows its
    // slot and the acceptance check becomes a direct one.
    #[inline(always)]
    fn fast_value_from(&mut self, token: Token, span: Span, slot: &Slot) -> Option<ValueId> {
        let text = self.fast_text();
        let value = match token {
            // The quotes are ASCII, so this slice is on character boundaries.
            Token::String => Value::String(
                self.script
                    .intern(text.get(1..text.len() - 1).expect("a quoted string")),
            ),
            // `parse_value` reads keywords as names; they are errors here.
            Token::Word if Keyword::from_word(text).is_none() => {
                word::parse_value(&mut self.script, text, span.start).ok()?
            }
            Token::EmptyBrackets => Value::EmptyArray,
            _ => return None,
        };
        (slot.accepts)(value).then(|| self.script.push_value(value, span))
    }

    // Reads the rest of a leaf instruction after its keyword; returns it with its end offset.
    fn fast_leaf_body(&mut self, keyword: Keyword) -> Option<(Instr, u32)> {
        let instr = match keyword {
            Keyword::Null | Keyword::Never => {
                let close = self.fast_expect(Token::RParen)?;
                let instr = if keyword == Keyword::Null {
                    Instr::Null
                } else {
                    Instr::Never
                };
                return Some((instr, close.end));
            }
            Keyword::Next => Instr::Next(self.fast_value(&ITERATOR)?),
            Keyword::Ap => {
                let value = self.fast_value(&AP_VALUE)?;
                let target = self.fast_value(&AP_TARGET)?;
                Instr::Ap { value, target }
            }
            Keyword::Canon => {
                let peer = self.fast_value(&PEER)?;
                let source = self.fast_value(&CANON_SOURCE)?;
                let target = self.fast_value(canon_target(self.script.value(source)))?;
                let form = canon_form(self.script.value(source), self.script.value(target));
                Instr::Canon(Canon {
                    form,
                    peer,
                    source,
                    target,
                })
            }
            Keyword::Call => {
                let peer = self.fast_value(&PEER)?;
                self.fast_expect(Token::LParen)?;
                let service = self.fast_value(&SERVICE)?;
                let function = self.fast_value(&FUNCTION)?;
                self.fast_expect(Token::RParen)?;
                let mut n_args = 0;
                match self.fast_token()? {
                    (Token::EmptyBrackets, _) => {}
                    (Token::LBracket, _) => loop {
                        let (token, span) = self.fast_token()?;
                        match token {
                            Token::RBracket => break,
                            Token::LBracket => {
                                let close = self.fast_expect(Token::RBracket)?;
                                let span = Span::new(span.start, close.end);
                                self.script.push_value(Value::EmptyArray, span);
                            }
                            _ => {
                                self.fast_value_from(token, span, &ARGUMENT)?;
                            }
                        }
                        n_args += 1;
                    },
                    _ => return None,
                }
                let args = self.script.last_values(n_args);
                let (token, span) = self.fast_token()?;
                let (output, end) = match token {
                    Token::RParen => (None, span.end),
                    _ => {
                        let output = self.fast_value_from(token, span, &CALL_OUTPUT)?;
                        (Some(output), self.fast_expect(Token::RParen)?.end)
                    }
                };
                return Some((
                    Instr::Call(Call {
                        peer,
                        service,
                        function,
                        args,
                        output,
                    }),
                    end,
                ));
            }
            _ => return None,
        };
        let close = self.fast_expect(Token::RParen)?;
        Some((instr, close.end))
    }

    // The `(` of an open frame.
    fn opener(&self, frame: Frame) -> Span {
        let start = self.script.instr_span(frame.id).start;
        Span::new(start, start + 1)
    }

    fn reserve_instr(&mut self, open: Span) -> InstrId {
        self.script
            .push_instr(Instr::Error, Span::new(open.start, open.start))
    }

    // Whether the innermost frame takes a non-instruction `( ... )` at its next position.
    fn group_expected(&self) -> bool {
        let Some(frame) = self.innermost() else {
            return false;
        };
        let n_items = self.items.len() - frame.items_base as usize;
        matches!(
            (frame.keyword, n_items),
            (Some(Keyword::Call), 1) | (Some(Keyword::Ap), 0)
        )
    }

    // An instruction starting at `open` inside a frame that cannot take it probably means that
    // frame's `)` is missing. Close such frames, with an error at their `(`.
    fn close_implicitly_before(&mut self, open: Span) {
        while let Some(frame) = self.innermost() {
            let n_items = self.items.len() - frame.items_base as usize;
            let missing_paren = match frame.keyword {
                Some(
                    Keyword::Call
                    | Keyword::Canon
                    | Keyword::Ap
                    | Keyword::Next
                    | Keyword::Fail
                    | Keyword::Never
                    | Keyword::Null,
                ) => true,
                Some(keyword) => {
                    // Whether every argument position is taken: then another instruction
                    // cannot belong to this frame.
                    let full = match keyword {
                        Keyword::Seq | Keyword::Par | Keyword::Xor | Keyword::New => n_items >= 2,
                        Keyword::Match | Keyword::Mismatch => n_items >= 3,
                        _ => n_items >= 4,
                    };
                    full && self.starts_outdented(open.start, self.opener(frame).start)
                }
                None => false,
            };
            if !missing_paren {
                return;
            }
            let keyword = frame.keyword.map_or("instruction", Keyword::as_str);
            self.error(
                Diagnostic::new(
                    ErrorCode::UnclosedParen,
                    format!("missing `)`: `{keyword}` is not closed"),
                    self.opener(frame),
                    format!("this `({keyword}` has no matching `)`"),
                )
                .with_secondary(open, "the next instruction starts here")
                .with_hint(format!("close the `{keyword}` before this instruction")),
            );
            self.close_frame(Span::new(open.start, open.start), false);
            if self.stopped {
                return;
            }
        }
    }

    // Whether `pos` starts a later line than `frame_open`, at the same or a smaller column:
    // the layout says it is a sibling, not a child.
    fn starts_outdented(&self, pos: u32, frame_open: u32) -> bool {
        let bytes = self.source.as_bytes();
        let line_start = |at: u32| {
            bytes[..at as usize]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1)
        };
        let pos_line = line_start(pos);
        let frame_line = line_start(frame_open);
        pos_line != frame_line && pos as usize - pos_line <= frame_open as usize - frame_line
    }

    fn close_paren(&mut self, close: Span) {
        if self.frames.is_empty() {
            self.error(Diagnostic::new(
                ErrorCode::UnmatchedCloser,
                "unmatched `)`",
                close,
                "no `(` to close",
            ));
            return;
        }
        self.close_frame(close, true);
    }

    // Pops the innermost frame and turns its items into an instruction. `explicit` is false when
    // the `)` is missing (already reported); then shape errors are not reported again.
    fn close_frame(&mut self, close: Span, explicit: bool) {
        let id = self.frames.pop().expect("a frame to close");
        let frame = self.frame(id);
        let span = Span::new(self.opener(frame).start, close.end);
        let items_base = frame.items_base as usize;
        // The common case, without the general shape checks.
        let pair = (self.items.len() == items_base + 2)
            .then(|| Some((self.instr_at(items_base)?, self.instr_at(items_base + 1)?)))
            .flatten();
        let built = match (frame.keyword, pair) {
            (Some(Keyword::Seq), Some((a, b))) => Ok(Instr::Seq(a, b)),
            (Some(Keyword::Par), Some((a, b))) => Ok(Instr::Par(a, b)),
            (Some(Keyword::Xor), Some((a, b))) => Ok(Instr::Xor(a, b)),
            (Some(keyword), _) => self.build(keyword, items_base, span, close),
            (None, _) => Err(Broken::Reported),
        };
        let instr = built.unwrap_or_else(|broken| {
            if let (Broken::New(diagnostic), true) = (broken, explicit) {
                self.error(diagnostic);
            }
            Instr::Error
        });
        self.script.replace_instr(id, instr, span);
        self.truncate_items(items_base);
        self.values.truncate(frame.values_base as usize);
        self.push_item(Item::Instr(id, span));
    }

    fn build(
        &mut self,
        keyword: Keyword,
        items_base: usize,
        span: Span,
        close: Span,
    ) -> Shape<Instr> {
        let mut args = Args {
            keyword,
            items_base,
            next: items_base,
            close,
            span,
        };
        let instr = match keyword {
            Keyword::Call => {
                let peer = self.value_arg(&mut args, &PEER)?;
                let (service, function) = self.service_function(&mut args)?;
                let (args_start, n_args) = self.call_args(&mut args)?;
                let output = self.optional_value(&mut args, &CALL_OUTPUT)?;
                self.end(&args)?;
                let first = self.push_values([peer, service, function]);
                let args_range = self.push_value_range(args_start, n_args);
                let output = output.map(|v| self.script.push_value(v.0, v.1));
                Instr::Call(Call {
                    peer: first,
                    service: first.offset(1),
                    function: first.offset(2),
                    args: args_range,
                    output,
                })
            }
            Keyword::Canon => {
                let peer = self.value_arg(&mut args, &PEER)?;
                let source = self.value_arg(&mut args, &CANON_SOURCE)?;
                let target = self.value_arg(&mut args, canon_target(source.0))?;
                self.end(&args)?;
                let form = canon_form(source.0, target.0);
                let first = self.push_values([peer, source, target]);
                Instr::Canon(Canon {
                    form,
                    peer: first,
                    source: first.offset(1),
                    target: first.offset(2),
                })
            }
            Keyword::Ap => match self.item(&args) {
                Some(Item::Group { start, len, span }) => {
                    args.next += 1;
                    let (key, value) = self.ap_map_pair(start, len, span)?;
                    let map = self.value_arg(&mut args, &AP_MAP_TARGET)?;
                    self.end(&args)?;
                    let first = self.push_values([key, value, map]);
                    Instr::ApMap {
                        key: first,
                        value: first.offset(1),
                        map: first.offset(2),
                    }
                }
                _ => {
                    let value = self.value_arg(&mut args, &AP_VALUE)?;
                    let target = self.value_arg(&mut args, &AP_TARGET)?;
                    self.end(&args)?;
                    let first = self.push_values([value, target]);
                    Instr::Ap {
                        value: first,
                        target: first.offset(1),
                    }
                }
            },
            Keyword::Seq | Keyword::Par | Keyword::Xor => {
                let left = self.instr_arg(&mut args, "first")?;
                let right = self.instr_arg(&mut args, "second")?;
                self.end(&args)?;
                match keyword {
                    Keyword::Seq => Instr::Seq(left, right),
                    Keyword::Par => Instr::Par(left, right),
                    _ => Instr::Xor(left, right),
                }
            }
            Keyword::New => {
                let variable = self.value_arg(&mut args, &NEW_VARIABLE)?;
                let body = self.instr_arg(&mut args, "body")?;
                self.end(&args)?;
                Instr::New {
                    variable: self.script.push_value(variable.0, variable.1),
                    body,
                }
            }
            Keyword::Fold => {
                let iterable = self.value_arg(&mut args, &FOLD_ITERABLE)?;
                let iterator = self.value_arg(&mut args, &ITERATOR)?;
                let body = self.instr_arg(&mut args, "body")?;
                let last = match self.item(&args) {
                    Some(Item::Instr(..) | Item::Bad(_)) => {
                        Some(self.instr_arg(&mut args, "last")?)
                    }
                    _ => None,
                };
                self.end(&args)?;
                let form = match iterable.0 {
                    Value::Stream(_) => FoldForm::Stream,
                    Value::StreamMap(_) => FoldForm::StreamMap,
                    _ => FoldForm::Scalar,
                };
                let first = self.push_values([iterable, iterator]);
                Instr::Fold(Fold {
                    form,
                    iterable: first,
                    iterator: first.offset(1),
                    body,
                    last,
                })
            }
            Keyword::Next => {
                let iterator = self.value_arg(&mut args, &ITERATOR)?;
                self.end(&args)?;
                Instr::Next(self.script.push_value(iterator.0, iterator.1))
            }
            Keyword::Match | Keyword::Mismatch => {
                let left = self.value_arg(&mut args, &OPERAND)?;
                let right = self.value_arg(&mut args, &OPERAND)?;
                let body = self.instr_arg(&mut args, "body")?;
                self.end(&args)?;
                let first = self.push_values([left, right]);
                let (left, right) = (first, first.offset(1));
                if keyword == Keyword::Match {
                    Instr::Match { left, right, body }
                } else {
                    Instr::Mismatch { left, right, body }
                }
            }
            Keyword::Fail => self.fail(&mut args)?,
            Keyword::Never | Keyword::Null => {
                self.end(&args)?;
                if keyword == Keyword::Never {
                    Instr::Never
                } else {
                    Instr::Null
                }
            }
        };
        Ok(instr)
    }

    fn fail(&mut self, args: &mut Args) -> Shape<Instr> {
        if let Some(Item::Value(index)) = self.item(args) {
            if let (Value::LastError(Some(_)) | Value::Error(Some(_)), span) =
                self.values[index as usize]
            {
                return Err(Diagnostic::new(
                    ErrorCode::LensNotAllowed,
                    "`fail` takes `%last_error%` and `:error:` without a lens",
                    span,
                    "a lens here is ambiguous",
                )
                .with_hint("write `(fail :error:)` to rethrow the error, or put the part you need into a scalar with `ap` and fail with that")
                .into());
            }
        }
        let first = self.value_arg(args, &FAIL_VALUE)?;
        if let Value::Int(code) = first.0 {
            let message = self.value_arg(args, &FAIL_MESSAGE)?;
            self.end(args)?;
            if code == 0 {
                return Err(Diagnostic::new(
                    ErrorCode::FailCodeZero,
                    "`fail` with error code 0",
                    first.1,
                    "0 means \"no error\"",
                )
                .with_hint("use a non-zero error code")
                .into());
            }
            let first = self.push_values([first, message]);
            return Ok(Instr::Fail(Fail::Literal {
                code: first,
                message: first.offset(1),
            }));
        }
        self.end(args)?;
        Ok(Instr::Fail(Fail::Value(
            self.script.push_value(first.0, first.1),
        )))
    }

    fn push_values<const N: usize>(&mut self, values: [(Value, Span); N]) -> ValueId {
        let range = self.script.push_values(values);
        range.iter().next().expect("at least one value")
    }

    fn push_value_range(&mut self, start: u32, len: u32) -> ValueRange {
        for index in start..start + len {
            let (value, span) = self.values[index as usize];
            self.script.push_value(value, span);
        }
        self.script.last_values(len as usize)
    }

    // ---- shape checking ----

    fn item(&self, args: &Args) -> Option<Item> {
        (args.next < self.items.len()).then(|| self.item_at(args.next))
    }

    fn missing(&self, args: &Args, what: &str) -> Broken {
        let keyword = args.keyword.as_str();
        Diagnostic::new(
            ErrorCode::MissingArgument,
            format!("`{keyword}` is missing its {what}"),
            args.close,
            format!("expected {what} before this"),
        )
        .with_secondary(args.span, format!("in this `{keyword}`"))
        .with_hint(format!("`{keyword}` is written {}", usage(args.keyword)))
        .into()
    }

    fn value_arg(&mut self, args: &mut Args, slot: &Slot) -> Shape<(Value, Span)> {
        let Some(item) = self.item(args) else {
            return Err(self.missing(args, slot.what));
        };
        args.next += 1;
        let (value, span) = match item {
            Item::Value(index) => self.values[index as usize],
            Item::List { len: 0, span, .. } => (Value::EmptyArray, span),
            Item::Bad(_) => return Err(Broken::Reported),
            other => {
                let found = self.describe_item(other);
                return Err(wrong(args, slot, found, other.span(&self.values)));
            }
        };
        if !(slot.accepts)(value) {
            let found = describe_value(value, self.text(span));
            let mut diagnostic = wrong_diagnostic(args, slot, found, span);
            if let Some(hint) = (slot.hint)(value) {
                diagnostic = diagnostic.with_hint(hint);
            }
            return Err(diagnostic.into());
        }
        Ok((value, span))
    }

    fn optional_value(&mut self, args: &mut Args, slot: &Slot) -> Shape<Option<(Value, Span)>> {
        if self.item(args).is_none() {
            return Ok(None);
        }
        self.value_arg(args, slot).map(Some)
    }

    fn instr_arg(&mut self, args: &mut Args, which: &str) -> Shape<InstrId> {
        // Built only on the error paths: this runs for every child of every instruction.
        let what = || format!("{which} instruction");
        let Some(item) = self.item(args) else {
            return Err(self.missing(args, &what()));
        };
        args.next += 1;
        match item {
            Item::Instr(id, _) => Ok(id),
            Item::Bad(_) => Err(Broken::Reported),
            other => {
                let found = self.describe_item(other);
                let keyword = args.keyword.as_str();
                Err(Diagnostic::new(
                    ErrorCode::ExpectedInstruction,
                    format!("`{keyword}` expects its {} here, found {found}", what()),
                    other.span(&self.values),
                    "expected an instruction `( ... )`",
                )
                .with_hint(format!("`{keyword}` is written {}", usage(args.keyword)))
                .into())
            }
        }
    }

    fn service_function(&mut self, args: &mut Args) -> Shape<((Value, Span), (Value, Span))> {
        let Some(item) = self.item(args) else {
            return Err(self.missing(args, "`(service function)` pair"));
        };
        args.next += 1;
        match item {
            Item::Group { start, len: 2, .. } => {
                let service = self.values[start as usize];
                let function = self.values[start as usize + 1];
                for ((value, span), slot) in [(service, &SERVICE), (function, &FUNCTION)] {
                    if !(slot.accepts)(value) {
                        let found = describe_value(value, self.text(span));
                        return Err(wrong(args, slot, found, span));
                    }
                }
                Ok((service, function))
            }
            Item::Group { span, len, .. } => Err(Diagnostic::new(
                ErrorCode::WrongArgument,
                format!(
                    "expected `(service function)`, found {}",
                    plural_values(len)
                ),
                span,
                "expected exactly two values",
            )
            .with_hint("`call` is written `(call peer (service function) [args] output)`")
            .into()),
            Item::Bad(_) => Err(Broken::Reported),
            other => {
                let found = self.describe_item(other);
                Err(Diagnostic::new(
                    ErrorCode::WrongArgument,
                    format!("expected `(service function)`, found {found}"),
                    other.span(&self.values),
                    "expected `(service function)`",
                )
                .with_hint("`call` is written `(call peer (service function) [args] output)`")
                .into())
            }
        }
    }

    fn call_args(&mut self, args: &mut Args) -> Shape<(u32, u32)> {
        let Some(item) = self.item(args) else {
            return Err(self.missing(args, "argument list `[...]`"));
        };
        args.next += 1;
        match item {
            Item::List { start, len, .. } => {
                for index in start..start + len {
                    let (value, span) = self.values[index as usize];
                    if !(ARGUMENT.accepts)(value) {
                        let found = describe_value(value, self.text(span));
                        let mut diagnostic = wrong_diagnostic(args, &ARGUMENT, found, span);
                        if let Some(hint) = (ARGUMENT.hint)(value) {
                            diagnostic = diagnostic.with_hint(hint);
                        }
                        return Err(diagnostic.into());
                    }
                }
                Ok((start, len))
            }
            Item::Bad(_) => Err(Broken::Reported),
            other => {
                let found = self.describe_item(other);
                Err(Diagnostic::new(
                    ErrorCode::WrongArgument,
                    format!("expected the argument list `[...]`, found {found}"),
                    other.span(&self.values),
                    "expected `[...]`",
                )
                .with_hint("a call without arguments has an empty list: `(call peer (service function) [])`")
                .into())
            }
        }
    }

    fn ap_map_pair(
        &mut self,
        start: u32,
        len: u32,
        span: Span,
    ) -> Shape<((Value, Span), (Value, Span))> {
        if len != 2 {
            return Err(Diagnostic::new(
                ErrorCode::WrongArgument,
                format!("expected `(key value)`, found {}", plural_values(len)),
                span,
                "expected exactly two values",
            )
            .with_hint("`ap` into a stream map is written `(ap (key value) %map)`")
            .into());
        }
        let key = self.values[start as usize];
        let value = self.values[start as usize + 1];
        let args = Args {
            keyword: Keyword::Ap,
            items_base: 0,
            next: 0,
            close: span,
            span,
        };
        for ((v, s), slot) in [(key, &AP_MAP_KEY), (value, &AP_VALUE)] {
            if !(slot.accepts)(v) {
                let found = describe_value(v, self.text(s));
                return Err(wrong(&args, slot, found, s));
            }
        }
        Ok((key, value))
    }

    fn end(&self, args: &Args) -> Shape<()> {
        match self.item(args) {
            None => Ok(()),
            Some(Item::Bad(_)) => Err(Broken::Reported),
            Some(item) => {
                let keyword = args.keyword.as_str();
                let extra = self.items.len() - args.next;
                let first = item.span(&self.values);
                let last = self.item_at(self.items.len() - 1).span(&self.values);
                let n_taken = args.next - args.items_base;
                Err(Diagnostic::new(
                    ErrorCode::UnexpectedArgument,
                    format!(
                        "`{keyword}` takes {n_taken} argument{}, found {} more",
                        if n_taken == 1 { "" } else { "s" },
                        extra
                    ),
                    Span::new(first.start, last.end),
                    if extra == 1 {
                        "unexpected argument"
                    } else {
                        "unexpected arguments"
                    },
                )
                .with_secondary(args.span, format!("in this `{keyword}`"))
                .with_hint(format!("`{keyword}` is written {}", usage(args.keyword)))
                .into())
            }
        }
    }

    fn describe_item(&self, item: Item) -> String {
        match item {
            Item::Instr(_, span) => {
                let text = self.text(span);
                let keyword: String = text[1..]
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_alphanumeric())
                    .collect();
                format!("the instruction `({keyword} ...)`")
            }
            Item::Value(index) => {
                let (value, span) = self.values[index as usize];
                describe_value(value, self.text(span))
            }
            Item::Group { .. } => "values in parentheses".to_string(),
            Item::List { len: 0, .. } => "the empty array `[]`".to_string(),
            Item::List { .. } => "a list `[...]`".to_string(),
            Item::Bad(_) => "an invalid argument".to_string(),
        }
    }
}

// Counts `(` followed by a lowercase ASCII letter, in chunks whose sums fit a `u8` so that the
// compiler can vectorize the loop.
fn count_instruction_starts(bytes: &[u8]) -> usize {
    let Some(last) = bytes.len().checked_sub(1) else {
        return 0;
    };
    let (heads, nexts) = (&bytes[..last], &bytes[1..]);
    heads
        .chunks(255)
        .zip(nexts.chunks(255))
        .map(|(heads, nexts)| {
            heads
                .iter()
                .zip(nexts)
                .map(|(&a, &b)| u8::from((a == b'(') & (b.wrapping_sub(b'a') < 26)))
                .sum::<u8>() as usize
        })
        .sum()
}

// What a `canon` of `source` (a stream or a stream map) takes as its target.
fn canon_target(source: Value) -> &'static Slot {
    match source {
        Value::Stream(_) => &CANON_TARGET_STREAM,
        _ => &CANON_TARGET_MAP,
    }
}

// Which of the three forms a `canon` with these (accepted) operands is.
fn canon_form(source: Value, target: Value) -> CanonForm {
    match (source, target) {
        (Value::Stream(_), _) => CanonForm::Stream,
        (_, Value::Scalar(..)) => CanonForm::StreamMapToScalar,
        _ => CanonForm::StreamMap,
    }
}

struct Args {
    keyword: Keyword,
    items_base: usize,
    next: usize,
    close: Span,
    span: Span,
}

fn plural_values(n: u32) -> String {
    match n {
        1 => "1 value in parentheses".to_string(),
        n => format!("{n} values in parentheses"),
    }
}

fn nested_array(span: Span) -> Diagnostic {
    Diagnostic::new(
        ErrorCode::WrongArgument,
        "array literals other than `[]` are not supported",
        span,
        "nested array",
    )
    .with_hint("build arrays with a service call, such as `op.array`")
}

fn truncate(text: &str) -> String {
    const MAX: usize = 40;
    if text.chars().count() <= MAX {
        text.to_string()
    } else {
        let mut shown: String = text.chars().take(MAX).collect();
        shown.push('…');
        shown
    }
}

fn describe_value(value: Value, text: &str) -> String {
    format!("{} `{}`", value.describe(), truncate(text))
}

fn describe_token(token: Token, text: &str) -> String {
    match token {
        Token::LParen => "`(`".into(),
        Token::RParen => "`)`".into(),
        Token::LBracket => "`[`".into(),
        Token::EmptyBrackets => "`[]`".into(),
        Token::RBracket => "`]`".into(),
        _ => format!("`{}`", truncate(text)),
    }
}

fn describe_frame(frame: Frame) -> String {
    match frame.keyword {
        Some(keyword) => format!("this `{}`", keyword.as_str()),
        None => "this instruction".to_string(),
    }
}

fn usage(keyword: Keyword) -> &'static str {
    match keyword {
        Keyword::Call => "`(call peer (service function) [args...] output)`, the output being optional",
        Keyword::Canon => "`(canon peer $stream #canon)`, `(canon peer %map #%canon_map)` or `(canon peer %map scalar)`",
        Keyword::Ap => "`(ap value target)` or `(ap (key value) %map)`",
        Keyword::Seq => "`(seq first second)`",
        Keyword::Par => "`(par left right)`",
        Keyword::Xor => "`(xor try catch)`",
        Keyword::New => "`(new variable body)`",
        Keyword::Fold => "`(fold iterable iterator body last?)`",
        Keyword::Next => "`(next iterator)`",
        Keyword::Match => "`(match left right body)`",
        Keyword::Mismatch => "`(mismatch left right body)`",
        Keyword::Fail => "`(fail value)` or `(fail code \"message\")`",
        Keyword::Never => "`(never)`",
        Keyword::Null => "`(null)`",
    }
}

fn wrong_diagnostic(args: &Args, slot: &Slot, found: String, span: Span) -> Diagnostic {
    let keyword = args.keyword.as_str();
    Diagnostic::new(
        ErrorCode::WrongArgument,
        format!("`{keyword}` expects {} here, found {found}", slot.expected),
        span,
        format!("expected {}", slot.expected),
    )
}

fn wrong(args: &Args, slot: &Slot, found: String, span: Span) -> Broken {
    Broken::New(wrong_diagnostic(args, slot, found, span))
}

// What one argument position accepts.
struct Slot {
    what: &'static str,
    expected: &'static str,
    accepts: fn(Value) -> bool,
    hint: fn(Value) -> Option<String>,
}

fn no_hint(_: Value) -> Option<String> {
    None
}

fn stream_hint(value: Value) -> Option<String> {
    match value {
        Value::Stream(_) => Some(
            "streams cannot be passed directly; canonicalize with `(canon peer $s #s)` and pass `#s`"
                .to_string(),
        ),
        Value::StreamMap(_) => Some(
            "stream maps cannot be passed directly; canonicalize with `(canon peer %m #%m)` and pass `#%m`"
                .to_string(),
        ),
        _ => None,
    }
}

fn is_peer(v: Value) -> bool {
    matches!(
        v,
        Value::InitPeerId
            | Value::String(_)
            | Value::Scalar(..)
            | Value::Canon(_, Some(_))
            | Value::CanonMap(_, Some(_))
    )
}

fn is_string_like(v: Value) -> bool {
    matches!(
        v,
        Value::String(_)
            | Value::Scalar(..)
            | Value::Canon(_, Some(_))
            | Value::CanonMap(_, Some(_))
    )
}

fn is_argument(v: Value) -> bool {
    !matches!(v, Value::Stream(_) | Value::StreamMap(_))
}

const PEER: Slot = Slot {
    what: "peer",
    expected: "a peer id (`%init_peer_id%`, a string, a scalar, or a canon with a lens)",
    accepts: is_peer,
    hint: stream_hint,
};

const SERVICE: Slot = Slot {
    what: "service id",
    expected: "a service id (a string, a scalar, or a canon with a lens)",
    accepts: is_string_like,
    hint: stream_hint,
};

const FUNCTION: Slot = Slot {
    what: "function name",
    expected: "a function name (a string, a scalar, or a canon with a lens)",
    accepts: is_string_like,
    hint: stream_hint,
};

const ARGUMENT: Slot = Slot {
    what: "argument",
    expected: "an argument value",
    accepts: is_argument,
    hint: stream_hint,
};

const CALL_OUTPUT: Slot = Slot {
    what: "output",
    expected: "an output variable (a scalar or a `$stream`, without lens)",
    accepts: |v| matches!(v, Value::Scalar(_, None) | Value::Stream(_)),
    hint: |v| {
        match v {
        Value::StreamMap(_) => Some("to put a result into a stream map, call into a scalar and then `(ap (key scalar) %map)`".into()),
        _ => None,
    }
    },
};

const CANON_SOURCE: Slot = Slot {
    what: "stream",
    expected: "a stream (`$name`) or a stream map (`%name`)",
    accepts: |v| matches!(v, Value::Stream(_) | Value::StreamMap(_)),
    hint: no_hint,
};

const CANON_TARGET_STREAM: Slot = Slot {
    what: "canon stream",
    expected: "a canon stream (`#name` or `#$name`, without lens)",
    accepts: |v| matches!(v, Value::Canon(_, None)),
    hint: no_hint,
};

const CANON_TARGET_MAP: Slot = Slot {
    what: "canon map",
    expected: "a canon stream map (`#%name`) or a scalar, without lens",
    accepts: |v| matches!(v, Value::CanonMap(_, None) | Value::Scalar(_, None)),
    hint: no_hint,
};

const AP_VALUE: Slot = Slot {
    what: "value",
    expected: "a value (not a stream, stream map, or canon map without lens)",
    accepts: |v| is_argument(v) && !matches!(v, Value::CanonMap(_, None)),
    hint: stream_hint,
};

const AP_TARGET: Slot = Slot {
    what: "target",
    expected: "a scalar or a `$stream`, without lens",
    accepts: |v| matches!(v, Value::Scalar(_, None) | Value::Stream(_)),
    hint: |v| match v {
        Value::StreamMap(_) => {
            Some("`ap` into a stream map takes a key: `(ap (key value) %map)`".into())
        }
        _ => None,
    },
};

const AP_MAP_KEY: Slot = Slot {
    what: "key",
    expected: "a map key (a string, an integer, a scalar, or a canon with a lens)",
    accepts: |v| {
        matches!(
            v,
            Value::String(_) | Value::Int(_) | Value::Scalar(..) | Value::Canon(_, Some(_))
        )
    },
    hint: no_hint,
};

const AP_MAP_TARGET: Slot = Slot {
    what: "stream map",
    expected: "a stream map (`%name`)",
    accepts: |v| matches!(v, Value::StreamMap(_)),
    hint: no_hint,
};

const NEW_VARIABLE: Slot = Slot {
    what: "variable",
    expected: "a variable without lens (scalar, `$stream`, `%map`, `#canon` or `#%canon_map`)",
    accepts: |v| {
        matches!(
            v,
            Value::Scalar(_, None)
                | Value::Stream(_)
                | Value::StreamMap(_)
                | Value::Canon(_, None)
                | Value::CanonMap(_, None)
        )
    },
    hint: no_hint,
};

const FOLD_ITERABLE: Slot = Slot {
    what: "iterable",
    expected: "an iterable (a scalar, a canon stream, a canon map, `[]`, a `$stream` or a `%map`)",
    accepts: |v| {
        matches!(
            v,
            Value::Scalar(..)
                | Value::Canon(_, None)
                | Value::CanonMap(..)
                | Value::EmptyArray
                | Value::Stream(_)
                | Value::StreamMap(_)
        )
    },
    hint: |v| {
        match v {
        Value::Canon(_, Some(_)) => Some("a fold iterates over a whole canon stream; apply the lens with `ap` into a scalar first".into()),
        _ => None,
    }
    },
};

const ITERATOR: Slot = Slot {
    what: "iterator",
    expected: "an iterator name (a scalar without lens)",
    accepts: |v| matches!(v, Value::Scalar(_, None)),
    hint: no_hint,
};

const OPERAND: Slot = Slot {
    what: "operand",
    expected: "a value to compare",
    accepts: is_argument,
    hint: stream_hint,
};

const FAIL_VALUE: Slot = Slot {
    what: "error",
    expected: "an error (a scalar, a canon with a lens, `%last_error%`, `:error:`, or a code and a message)",
    accepts: |v| {
        matches!(
            v,
            Value::Scalar(..)
                | Value::Canon(_, Some(_))
                | Value::LastError(None)
                | Value::Error(None)
                | Value::Int(_)
        )
    },
    hint: no_hint,
};

const FAIL_MESSAGE: Slot = Slot {
    what: "message",
    expected: "a string message",
    accepts: |v| matches!(v, Value::String(_)),
    hint: no_hint,
};
