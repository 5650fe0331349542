//! Tokens of AIR, recognised by a `logos` state machine.
//!
//! AIR has few token shapes: brackets, string literals, comments, and "words": any other run of
//! characters, which the parser classifies as a keyword, a number, a special value or a variable
//! with an optional lens (see [`super::word`]). A word may contain bracketed parts, so that
//! `x.$.[0]` is one token, but it ends at whitespace or at a `)` or `]` that it did not open.

use logos::Logos;

/// A token kind. The text is the source slice at the token's span.
#[derive(Logos, Clone, Copy, Debug, PartialEq, Eq)]
// ASCII whitespace and the rest of Unicode `White_Space` are skipped by separate rules: the
// common ASCII case then compiles to a tighter loop.
#[logos(skip r"[ \t\n\r\f\v]+")]
#[logos(skip r"[\u{85}\u{a0}\u{1680}\u{2000}-\u{200a}\u{2028}\u{2029}\u{202f}\u{205f}\u{3000}]+")]
pub enum Token {
    /// `(`
    #[token("(")]
    LParen,
    /// `)`
    #[token(")")]
    RParen,
    /// `[`
    #[token("[")]
    LBracket,
    /// `]`
    #[token("]")]
    RBracket,
    /// `[]`: the empty array or an empty argument list, as one token (it is very common).
    #[token("[]")]
    EmptyBrackets,
    /// `"..."`, with no escapes.
    #[regex(r#""[^"]*""#)]
    String,
    /// A `"` with no closing quote before the end of input.
    #[regex(r#""[^"]*"#, priority = 0)]
    UnterminatedString,
    /// `; ...` to the end of the line.
    #[regex(r";[^\n]*", allow_greedy = true)]
    Comment,
    /// Any other run of characters.
    #[regex(r#"[^ \t\n\r\f\v\u{85}\u{a0}\u{1680}\u{2000}-\u{200a}\u{2028}\u{2029}\u{202f}\u{205f}\u{3000}()\[\]";]([^ \t\n\r\f\v\u{85}\u{a0}\u{1680}\u{2000}-\u{200a}\u{2028}\u{2029}\u{202f}\u{205f}\u{3000}()\[\]]|\[[^ \t\n\r\f\v\u{85}\u{a0}\u{1680}\u{2000}-\u{200a}\u{2028}\u{2029}\u{202f}\u{205f}\u{3000}()\[\]]*\])*"#)]
    Word,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(source: &str) -> Vec<(Token, &str)> {
        let mut lexer = Token::lexer(source);
        let mut out = Vec::new();
        while let Some(token) = lexer.next() {
            out.push((token.expect("no lexer error"), lexer.slice()));
        }
        out
    }

    #[test]
    fn words_keep_lens_brackets() {
        assert_eq!(
            lex("(call x.$.[0] [a b] #$s.$.[i]!)"),
            vec![
                (Token::LParen, "("),
                (Token::Word, "call"),
                (Token::Word, "x.$.[0]"),
                (Token::LBracket, "["),
                (Token::Word, "a"),
                (Token::Word, "b"),
                (Token::RBracket, "]"),
                (Token::Word, "#$s.$.[i]!"),
                (Token::RParen, ")"),
            ]
        );
    }

    #[test]
    fn empty_brackets_are_one_token() {
        assert_eq!(
            lex("[] [ ] [[]]"),
            vec![
                (Token::EmptyBrackets, "[]"),
                (Token::LBracket, "["),
                (Token::RBracket, "]"),
                (Token::LBracket, "["),
                (Token::EmptyBrackets, "[]"),
                (Token::RBracket, "]"),
            ]
        );
    }

    #[test]
    fn strings_comments_and_unterminated() {
        assert_eq!(
            lex("\"a b\" ; note\n x \"open"),
            vec![
                (Token::String, "\"a b\""),
                (Token::Comment, "; note"),
                (Token::Word, "x"),
                (Token::UnterminatedString, "\"open"),
            ]
        );
    }

    #[test]
    fn whitespace_set_matches_unicode() {
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            let text = format!("a{c}b");
            let tokens = lex(&text);
            // The skipped set must be Unicode `White_Space`, as in the reference lexer.
            assert_eq!(tokens.len() == 2, c.is_whitespace(), "{c:?}");
        }
    }
}
