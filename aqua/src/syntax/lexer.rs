//! The lexer: source text to tokens with byte spans.
//!
//! Spaces and tabs between tokens are skipped; indentation is measured by the layout pass
//! from the text itself. Newlines and comments are tokens, so that the layout pass can find
//! logical lines and the formatter can keep comments.

use logos::Logos;

use super::Span;

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
    /// A string that reaches the end of its line without a closing quote.
    #[regex(r#""[^"\n]*"#)]
    UnterminatedStr(&'src str),
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

    /// A character that starts no token.
    Unknown(&'src str),
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

    /// How the token is named in diagnostics.
    pub fn describe(&self) -> String {
        use Token::*;
        match self {
            Newline => "end of line".into(),
            Comment(_) => "comment".into(),
            Ident(s) => format!("`{s}`"),
            Int(s) | Float(s) => format!("number `{s}`"),
            Str(s) => format!("string {s}"),
            UnterminatedStr(_) => "unterminated string".into(),
            InitPeerId => "`%init_peer_id%`".into(),
            Unknown(s) => format!("`{s}`"),
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

/// Splits `source` into tokens. Characters that start no token become [`Token::Unknown`],
/// so lexing never fails; the parser reports them.
pub fn lex(source: &str) -> Vec<(Token<'_>, Span)> {
    let mut lexer = Token::lexer(source);
    let mut tokens = Vec::new();
    while let Some(result) = lexer.next() {
        let range = lexer.span();
        let token = result.unwrap_or_else(|()| Token::Unknown(&source[range.clone()]));
        tokens.push((token, Span::from(range)));
    }
    tokens
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
                UnterminatedStr("\"open")
            ]
        );
    }

    #[test]
    fn unknown_characters_are_tokens_with_spans() {
        let tokens = lex("a @ b");
        assert_eq!(tokens[1], (Token::Unknown("@"), Span::from(2..3)));
    }
}
