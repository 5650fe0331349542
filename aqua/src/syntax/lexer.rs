//! The lexer: source text to tokens with byte spans.
//!
//! Spaces and tabs between tokens are skipped; indentation is measured by the layout pass
//! from the text itself. Newlines and comments are tokens, so that the layout pass can find
//! logical lines and the formatter can keep comments.

use logos::Logos;

use super::Span;
use crate::diagnostic::{Code, Diagnostic};

/// One token of Aqua source.
#[derive(Logos, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[logos(skip r"[ \t\f]+")]
pub enum Token<'src> {
    #[regex(r"\r?\n")]
    Newline,
    #[regex(r"--[^\n]*", allow_greedy = true)]
    Comment(&'src str),

    #[regex(r"[A-Za-z_][A-Za-z0-9_]*")]
    Ident(&'src str),
    #[regex(r"[0-9]+")]
    Int(&'src str),
    #[regex(r"[0-9]+\.[0-9]+")]
    Float(&'src str),
    /// A string literal with its quotes; Aqua strings have no escapes.
    #[regex(r#""[^"\n]*""#)]
    Str(&'src str),
    #[regex(r#""[^"\n]*"#, |lex| Malformed::new(MalformedKind::UnterminatedString, lex.slice()))]
    #[regex(r"'[^'\n]*'?", |lex| Malformed::new(MalformedKind::SingleQuoted, lex.slice()))]
    #[token(":=", |lex| Malformed::new(MalformedKind::Operator, lex.slice()))]
    #[token("===", |lex| Malformed::new(MalformedKind::Operator, lex.slice()))]
    #[regex(
        "[\u{85}\u{a0}\u{1680}\u{2000}-\u{200b}\u{2028}\u{2029}\u{202f}\u{205f}\u{3000}]+",
        |lex| Malformed::new(MalformedKind::Space, lex.slice())
    )]
    Malformed(Malformed<'src>),
    #[token("%init_peer_id%")]
    InitPeerId,

    // Keywords. Names of fields, arguments and methods may still be spelled like keywords;
    // the parser accepts them there (see `Token::name_text`).
    #[token("aqua")]
    Aqua,
    #[token("module")]
    Module,
    #[token("declares")]
    Declares,
    #[token("import")]
    Import,
    #[token("use")]
    Use,
    #[token("from")]
    From,
    #[token("as")]
    As,
    #[token("export")]
    Export,
    #[token("data")]
    Data,
    #[token("alias")]
    Alias,
    #[token("const")]
    Const,
    #[token("service")]
    Service,
    #[token("ability")]
    Ability,
    #[token("func")]
    Func,
    #[token("on")]
    On,
    #[token("via")]
    Via,
    #[token("for")]
    For,
    #[token("par")]
    Par,
    #[token("co")]
    Co,
    #[token("try")]
    Try,
    #[token("catch")]
    Catch,
    #[token("otherwise")]
    Otherwise,
    #[token("rec")]
    Rec,
    #[token("join")]
    Join,
    #[token("parseq")]
    Parseq,
    #[token("if")]
    If,
    #[token("else")]
    Else,
    #[token("true")]
    True,
    #[token("false")]
    False,

    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token(",")]
    Comma,
    #[token(".")]
    Dot,
    #[token(":")]
    Colon,
    #[token("=")]
    Assign,
    #[token("?=")]
    AssignDefault,
    #[token("<-")]
    LArrow,
    #[token("<<-")]
    Push,
    #[token("->")]
    RArrow,
    #[token("==")]
    Eq,
    #[token("!=")]
    Neq,
    #[token("<")]
    Lt,
    #[token("<=")]
    Lte,
    #[token(">")]
    Gt,
    #[token(">=")]
    Gte,
    #[token("+")]
    Plus,
    #[token("-")]
    Minus,
    #[token("*")]
    Star,
    #[token("/")]
    Slash,
    #[token("%")]
    Percent,
    #[token("**")]
    Pow,
    #[token("!")]
    Bang,
    #[token("?")]
    Question,
    #[token("&&")]
    And,
    #[token("||")]
    Or,
    #[token("⊤")]
    Top,
    #[token("⊥")]
    Bottom,
}

/// Text that is no Aqua token, kept as one token with what it resembles, so that the parser
/// reports it once, with a message that says how Aqua writes it, and does not parse its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Malformed<'src> {
    pub kind: MalformedKind,
    pub text: &'src str,
}

impl<'src> Malformed<'src> {
    fn new(kind: MalformedKind, text: &'src str) -> Self {
        Malformed { kind, text }
    }

    /// The diagnostic for this token at `span` of `source`: what Aqua writes instead.
    pub fn diagnostic(&self, span: Span, source: &str) -> Diagnostic {
        let text = self.text;
        match self.kind {
            MalformedKind::Character => unknown_character(text, span),
            MalformedKind::UnterminatedString => Diagnostic::new(
                Code::UnterminatedString,
                Span::from(span.start..span.start + 1),
            )
            .with_message("this string is never closed")
            .with_primary_label("the string starts here")
            .with_help("close it with `\"` on the same line"),
            MalformedKind::SingleQuoted => {
                let diagnostic = Diagnostic::new(Code::StringSyntax, span)
                    .with_message("strings are written in double quotes")
                    .with_help("`'` does not start a string in Aqua");
                match text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
                    Some(inner) if !inner.contains('"') => {
                        let fixed = format!("\"{inner}\"");
                        diagnostic
                            .with_primary_label(format!("write `{fixed}`"))
                            .with_suggestion(span, fixed)
                    }
                    _ => diagnostic,
                }
            }
            MalformedKind::Operator => {
                let (aqua, why) = match text {
                    ":=" => ("=", "a value gets its name with `=`, as in `x = 42`"),
                    _ => ("==", "values are compared with `==`"),
                };
                Diagnostic::new(Code::Syntax, span)
                    .with_message(format!("`{text}` is not an Aqua operator"))
                    .with_primary_label(format!("write `{aqua}`"))
                    .with_help(why)
                    .with_suggestion(span, aqua)
            }
            MalformedKind::Space => {
                let first = text.chars().next().unwrap_or(' ');
                let name = match first {
                    '\u{a0}' => "no-break space",
                    '\u{202f}' => "narrow no-break space",
                    '\u{200b}' => "zero-width space",
                    '\u{3000}' => "ideographic space",
                    _ => "Unicode space",
                };
                let count = text.chars().count();
                let name = if count == 1 {
                    format!("a {name}")
                } else {
                    format!("{name}s")
                };
                let code = format!("U+{:04X}", u32::from(first));
                let line_start = source[..span.start].rfind('\n').map_or(0, |i| i + 1);
                let message = if source[line_start..span.start]
                    .trim_matches([' ', '\t'])
                    .is_empty()
                {
                    format!("this line is indented with {name} ({code})")
                } else {
                    format!("{name} ({code}) between tokens")
                };
                let spaces = if first == '\u{200b}' {
                    String::new()
                } else {
                    " ".repeat(count)
                };
                Diagnostic::new(Code::UnknownCharacter, span)
                    .with_message(message)
                    .with_primary_label("not an ordinary space")
                    .with_help("only spaces and tabs indent lines and separate tokens; replace these look-alikes, which editors and web pages sometimes insert, with spaces")
                    .with_suggestion(span, spaces)
            }
            MalformedKind::Number => malformed_number(text, span),
            MalformedKind::Name => {
                let foreign: String = text.chars().filter(|c| !c.is_ascii()).collect();
                Diagnostic::new(Code::InvalidName, span)
                    .with_message(format!("`{text}` is not a valid name"))
                    .with_primary_label(format!("`{foreign}` is not an ASCII letter"))
                    .with_help(
                        "names are made of the ASCII letters `a`-`z` and `A`-`Z`, digits and `_`",
                    )
            }
            MalformedKind::AfterEscape => {
                let string_start = source[..span.start]
                    .rfind('"')
                    .and_then(|end| source[..end].rfind('"'));
                let diagnostic = Diagnostic::new(Code::StringSyntax, span)
                    .with_message("Aqua strings have no escape sequences: the string ended at `\\\"`")
                    .with_primary_label("left over after the string")
                    .with_help("a string cannot contain `\"`; use single quotes inside it, as in `\"say 'hi'\"`");
                match string_start {
                    Some(start) => diagnostic
                        .with_label(Span::from(start..span.start), "this is the whole string"),
                    None => diagnostic,
                }
            }
        }
    }
}

fn unknown_character(text: &str, span: Span) -> Diagnostic {
    let diagnostic = Diagnostic::new(Code::UnknownCharacter, span)
        .with_message(format!("unknown character `{}`", text.escape_debug()))
        .with_primary_label("no Aqua token starts with this character");
    let (help, fix) = match text {
        ";" => ("statements end with their line; remove the `;`", Some("")),
        "#" => ("comments start with `--`", Some("--")),
        "&" => ("`&&` is the logical and", Some("&&")),
        "|" => ("`||` is the logical or", Some("||")),
        _ => return diagnostic,
    };
    let diagnostic = diagnostic.with_help(help);
    match fix {
        Some(fix) => diagnostic.with_suggestion(span, fix),
        None => diagnostic,
    }
}

/// The diagnostic for a number run together with letters, `_` or a final dot.
fn malformed_number(text: &str, span: Span) -> Diagnostic {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let decimal = |s: &str| match s.split_once('.') {
        Some((int, frac)) => digits(int) && digits(frac),
        None => digits(s),
    };
    let radix = match text.get(..2) {
        Some("0x" | "0X") => Some((16, "hexadecimal")),
        Some("0b" | "0B") => Some((2, "binary")),
        Some("0o" | "0O") => Some((8, "octal")),
        _ => None,
    };
    let without_separators = text.replace('_', "");
    let (message, fix, help) = if let Some(int) = text.strip_suffix('.').filter(|t| digits(t)) {
        (
            format!("`{text}` ends with a dot"),
            Some(format!("{int}.0")),
            "a number with a dot has digits on both sides of it",
        )
    } else if let Some((radix, name)) = radix {
        let value = u64::from_str_radix(&text[2..].replace('_', ""), radix).ok();
        (
            format!("{name} numbers are not supported"),
            value.map(|v| v.to_string()),
            "Aqua numbers are written in decimal",
        )
    } else if text.contains('_') && decimal(&without_separators) {
        (
            format!("`{text}` uses `_` to separate digits"),
            Some(without_separators),
            "Aqua numbers are written without digit separators",
        )
    } else {
        (
            format!("`{text}` is not a number"),
            None,
            "a number has only digits (and a fraction after `.`); a name starts with a letter or `_`",
        )
    };
    let diagnostic = Diagnostic::new(Code::MalformedNumber, span)
        .with_message(message)
        .with_help(help);
    match fix {
        Some(fix) => diagnostic
            .with_primary_label(format!("write `{fix}`"))
            .with_suggestion(span, fix),
        None => diagnostic,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MalformedKind {
    /// A character that starts no token.
    Character,
    /// A string that reaches the end of its line without a closing quote.
    UnterminatedString,
    /// `'text'`: strings take double quotes.
    SingleQuoted,
    /// An operator of other languages: `:=`, `===`.
    Operator,
    /// Spaces other than space and tab (no-break spaces, ...). The layout pass reads them as
    /// spaces, so that they cost one diagnostic and nothing else.
    Space,
    /// A number run together with letters, `_` or a final dot: `1_000`, `0xff`, `1.`.
    Number,
    /// A name with letters outside ASCII: `héllo`.
    Name,
    /// What follows a string that ends with `\"` on the same line: Aqua strings have no
    /// escapes, so the string ended at that quote.
    AfterEscape,
}

impl<'src> Token<'src> {
    /// The text of a token usable as a name where any name is allowed (fields, arguments,
    /// methods): identifiers and keywords.
    pub fn name_text(&self) -> Option<&'src str> {
        use Token::*;
        Some(match self {
            Ident(s) => s,
            Aqua => "aqua",
            Module => "module",
            Declares => "declares",
            Import => "import",
            Use => "use",
            From => "from",
            As => "as",
            Export => "export",
            Data => "data",
            Alias => "alias",
            Const => "const",
            Service => "service",
            Ability => "ability",
            Func => "func",
            On => "on",
            Via => "via",
            For => "for",
            Par => "par",
            Co => "co",
            Try => "try",
            Catch => "catch",
            Otherwise => "otherwise",
            Rec => "rec",
            Join => "join",
            Parseq => "parseq",
            If => "if",
            Else => "else",
            True => "true",
            False => "false",
            _ => return None,
        })
    }

    /// Whether a line ending with this token continues on the next physical line. `*` is
    /// not among them: it also ends `declares *`.
    pub fn continues_line(&self) -> bool {
        use Token::*;
        matches!(
            self,
            Comma
                | Plus
                | Minus
                | Slash
                | Percent
                | Pow
                | And
                | Or
                | Eq
                | Neq
                | Lt
                | Lte
                | Gt
                | Gte
                | RArrow
        )
    }

    /// Whether the token is an operator between two values.
    pub fn is_infix_operator(&self) -> bool {
        use Token::*;
        matches!(
            self,
            Plus | Minus | Star | Slash | Percent | Pow | And | Or | Eq | Neq | Lt | Lte | Gt | Gte
        )
    }

    /// How the token is named in diagnostics.
    pub fn describe(&self) -> String {
        use Token::*;
        match self {
            Newline => "end of line".into(),
            Comment(_) => "comment".into(),
            Ident(s) => format!("`{s}`"),
            Int(s) | Float(s) => format!("number `{s}`"),
            Str(s) => format!("string {s}"),
            InitPeerId => "`%init_peer_id%`".into(),
            Malformed(m) => format!("`{}`", m.text),
            other => match other.name_text() {
                Some(kw) => format!("keyword `{kw}`"),
                None => format!("`{}`", other.punct_text()),
            },
        }
    }

    fn punct_text(&self) -> &'static str {
        use Token::*;
        match self {
            LParen => "(",
            RParen => ")",
            LBracket => "[",
            RBracket => "]",
            LBrace => "{",
            RBrace => "}",
            Comma => ",",
            Dot => ".",
            Colon => ":",
            Assign => "=",
            AssignDefault => "?=",
            LArrow => "<-",
            Push => "<<-",
            RArrow => "->",
            Eq => "==",
            Neq => "!=",
            Lt => "<",
            Lte => "<=",
            Gt => ">",
            Gte => ">=",
            Plus => "+",
            Minus => "-",
            Star => "*",
            Slash => "/",
            Percent => "%",
            Pow => "**",
            Bang => "!",
            Question => "?",
            And => "&&",
            Or => "||",
            Top => "⊤",
            Bottom => "⊥",
            _ => "?",
        }
    }
}

impl std::fmt::Display for Token<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Splits `source` into tokens. Text that starts no token becomes [`Token::Malformed`], so
/// lexing never fails; the parser reports it.
pub fn lex(source: &str) -> Vec<(Token<'_>, Span)> {
    let mut lexer = Token::lexer(source);
    let mut tokens = Vec::new();
    while let Some(result) = lexer.next() {
        let range = lexer.span();
        let token = result.unwrap_or_else(|()| {
            Token::Malformed(Malformed::new(
                MalformedKind::Character,
                &source[range.clone()],
            ))
        });
        tokens.push((token, Span::from(range)));
    }
    join_malformed(source, tokens)
}

/// The first token of `source` that is not a comment, if any: what a file starts with.
pub fn first_token(source: &str) -> Option<(Token<'_>, Span)> {
    Token::lexer(source)
        .spanned()
        .find(|(token, _)| !matches!(token, Ok(Token::Newline | Token::Comment(_))))
        .map(|(token, range)| {
            let token = token.unwrap_or(Token::Malformed(Malformed::new(
                MalformedKind::Character,
                &source[range.clone()],
            )));
            (token, Span::from(range))
        })
}

/// Joins tokens that touch each other into one [`Token::Malformed`] where together they are
/// one mistake: a number run into letters (`0xff`, `1_000`) or ending with a dot (`1.`), a
/// name with letters outside ASCII (`héllo`), and what follows a string that `\"` ended
/// early (`"say \"hi\""`).
fn join_malformed<'src>(
    source: &'src str,
    tokens: Vec<(Token<'src>, Span)>,
) -> Vec<(Token<'src>, Span)> {
    // A token that would belong to a name or number if it touched one.
    let is_word =
        |t: &Token<'_>| t.name_text().is_some() || matches!(t, Token::Int(_) | Token::Float(_));
    let is_foreign_letter = |t: &Token<'_>| {
        matches!(t, Token::Malformed(Malformed { kind: MalformedKind::Character, text })
            if text.chars().next().is_some_and(char::is_alphanumeric))
    };
    let touches = |j: usize| j < tokens.len() && tokens[j].1.start == tokens[j - 1].1.end;
    // The end of the run of touching tokens from `from` on that `part` accepts.
    let run = |from: usize, part: &dyn Fn(&Token<'src>) -> bool| {
        let mut end = from;
        while touches(end) && part(&tokens[end].0) {
            end += 1;
        }
        end
    };
    let mut out = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let (token, span) = tokens[i];
        let joined = match token {
            Token::Int(_) | Token::Float(_) => {
                let mut end = run(i + 1, &is_word);
                // A final dot, unless a name follows it: `xs!1.field` is a property chain.
                if touches(end)
                    && tokens[end].0 == Token::Dot
                    && !(touches(end + 1) && is_word(&tokens[end + 1].0))
                {
                    end += 1;
                }
                (end > i + 1).then_some((MalformedKind::Number, i, end))
            }
            Token::Str(text)
                if text.ends_with("\\\"")
                    && touches(i + 1)
                    && (is_word(&tokens[i + 1].0)
                        || matches!(tokens[i + 1].0, Token::Str(_) | Token::Malformed(_))) =>
            {
                out.push((token, span));
                let end = (i + 1..tokens.len())
                    .find(|&j| matches!(tokens[j].0, Token::Newline | Token::Comment(_)))
                    .unwrap_or(tokens.len());
                Some((MalformedKind::AfterEscape, i + 1, end))
            }
            _ if is_word(&token) || is_foreign_letter(&token) => {
                let end = run(i + 1, &|t| is_word(t) || is_foreign_letter(t));
                let foreign = tokens[i..end].iter().any(|(t, _)| is_foreign_letter(t));
                foreign.then_some((MalformedKind::Name, i, end))
            }
            _ => None,
        };
        match joined {
            Some((kind, start, end)) => {
                let span = Span::from(tokens[start].1.start..tokens[end - 1].1.end);
                let text = &source[span.start..span.end];
                out.push((Token::Malformed(Malformed::new(kind, text)), span));
                i = end;
            }
            None => {
                out.push((token, span));
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<Token<'_>> {
        lex(source).into_iter().map(|(t, _)| t).collect()
    }

    #[test]
    fn operators_take_the_longest_match() {
        use Token::*;
        assert_eq!(
            kinds("a <<- b <- c -> d <= e ** f ?= g"),
            vec![
                Ident("a"),
                Push,
                Ident("b"),
                LArrow,
                Ident("c"),
                RArrow,
                Ident("d"),
                Lte,
                Ident("e"),
                Pow,
                Ident("f"),
                AssignDefault,
                Ident("g")
            ]
        );
    }

    #[test]
    fn keywords_are_whole_words() {
        use Token::*;
        assert_eq!(
            kinds("on online for_each"),
            vec![On, Ident("online"), Ident("for_each")]
        );
    }

    #[test]
    fn literals_and_comments() {
        use Token::*;
        assert_eq!(
            kinds("x = 1.5 -- note\n\"s\" \"open"),
            vec![
                Ident("x"),
                Assign,
                Float("1.5"),
                Comment("-- note"),
                Newline,
                Str("\"s\""),
                malformed(MalformedKind::UnterminatedString, "\"open")
            ]
        );
    }

    fn malformed(kind: MalformedKind, text: &str) -> Token<'_> {
        Token::Malformed(Malformed { kind, text })
    }

    #[test]
    fn unknown_characters_are_tokens_with_spans() {
        let tokens = lex("a @ b");
        assert_eq!(
            tokens[1],
            (malformed(MalformedKind::Character, "@"), Span::from(2..3))
        );
    }

    #[test]
    fn numbers_run_into_letters_or_a_final_dot_are_one_token() {
        use MalformedKind::Number;
        use Token::*;
        assert_eq!(
            kinds("1_000 0xff 1. 2.5e3 xs!1.field 7"),
            vec![
                malformed(Number, "1_000"),
                malformed(Number, "0xff"),
                malformed(Number, "1."),
                malformed(Number, "2.5e3"),
                Ident("xs"),
                Bang,
                Int("1"),
                Dot,
                Ident("field"),
                Int("7"),
            ]
        );
    }

    #[test]
    fn names_with_letters_outside_ascii_are_one_token() {
        use MalformedKind::{Character, Name};
        assert_eq!(
            kinds("héllo π x⊤ €"),
            vec![
                malformed(Name, "héllo"),
                malformed(Name, "π"),
                Token::Ident("x"),
                Token::Top,
                malformed(Character, "€"),
            ]
        );
    }

    #[test]
    fn text_after_a_string_ended_by_an_escaped_quote_is_one_token() {
        use Token::*;
        assert_eq!(
            kinds("f(\"say \\\"hi\\\"\", x) -- c\n\"dir\\\", y"),
            vec![
                Ident("f"),
                LParen,
                Str("\"say \\\""),
                malformed(MalformedKind::AfterEscape, "hi\\\"\", x)"),
                Comment("-- c"),
                Newline,
                // A string may end with `\`: what follows is not run into it.
                Str("\"dir\\\""),
                Comma,
                Ident("y"),
            ]
        );
    }

    #[test]
    fn look_alike_spaces_and_foreign_operators_and_quotes() {
        use MalformedKind::*;
        assert_eq!(
            kinds("\u{a0}\u{a0}x := 'a' === b"),
            vec![
                malformed(Space, "\u{a0}\u{a0}"),
                Token::Ident("x"),
                malformed(Operator, ":="),
                malformed(SingleQuoted, "'a'"),
                malformed(Operator, "==="),
                Token::Ident("b"),
            ]
        );
    }
}
