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
    /// Any other run of characters. As in the reference lexer, a word goes on over `(` and over
    /// a `[` that it does not close, up to whitespace or a `)` or `]` it did not open (see
    /// [`glue_word`]).
    #[regex(r#"[^ \t\n\r\f\v\u{85}\u{a0}\u{1680}\u{2000}-\u{200a}\u{2028}\u{2029}\u{202f}\u{205f}\u{3000}()\[\]";]([^ \t\n\r\f\v\u{85}\u{a0}\u{1680}\u{2000}-\u{200a}\u{2028}\u{2029}\u{202f}\u{205f}\u{3000}()\[\]]|\[[^ \t\n\r\f\v\u{85}\u{a0}\u{1680}\u{2000}-\u{200a}\u{2028}\u{2029}\u{202f}\u{205f}\u{3000}()\[\]]*\])*"#, glue_word)]
    Word,
}

/// Extends a word over a following `(` or unclosed `[`: the reference lexer ends a word only at
/// whitespace or at a `)` or `]` that the word did not open, so `x(y` or `a[b` is one word (and
/// not a valid one). The state machine's words stop there; this continues them.
fn glue_word(lexer: &mut logos::Lexer<'_, Token>) {
    if matches!(lexer.remainder().as_bytes().first(), Some(b'(' | b'[')) {
        glue_word_slow(lexer);
    }
}

#[cold]
fn glue_word_slow(lexer: &mut logos::Lexer<'_, Token>) {
    // The word's own brackets are balanced, so counting starts from zero here.
    let (mut round, mut square) = (0i64, 0i64);
    let rest = lexer.remainder();
    let mut len = rest.len();
    for (offset, c) in rest.char_indices() {
        match c {
            '(' => round += 1,
            ')' => round -= 1,
            '[' => square += 1,
            ']' => square -= 1,
            _ => {}
        }
        if c.is_whitespace() || round < 0 || square < 0 {
            len = offset;
            break;
        }
    }
    lexer.bump(len);
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
    fn words_go_on_over_parentheses_like_the_reference() {
        assert_eq!(
            lex("x(y) a[b c] z"),
            vec![
                (Token::Word, "x(y)"),
                (Token::Word, "a[b"),
                (Token::Word, "c"),
                (Token::RBracket, "]"),
                (Token::Word, "z"),
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
