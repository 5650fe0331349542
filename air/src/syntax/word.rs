//! Classification of word tokens: keywords, special values, numbers, variables and lenses.

use crate::ast::{Accessor, Script, Span, Value};
use crate::diagnostic::{Diagnostic, ErrorCode};

/// An instruction keyword.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keyword {
    Call,
    Canon,
    Ap,
    Seq,
    Par,
    Xor,
    New,
    Fold,
    Next,
    Match,
    Mismatch,
    Fail,
    Never,
    Null,
}

/// Every keyword with its spelling.
pub const KEYWORDS: [(&str, Keyword); 14] = [
    ("call", Keyword::Call),
    ("canon", Keyword::Canon),
    ("ap", Keyword::Ap),
    ("seq", Keyword::Seq),
    ("par", Keyword::Par),
    ("xor", Keyword::Xor),
    ("new", Keyword::New),
    ("fold", Keyword::Fold),
    ("next", Keyword::Next),
    ("match", Keyword::Match),
    ("mismatch", Keyword::Mismatch),
    ("fail", Keyword::Fail),
    ("never", Keyword::Never),
    ("null", Keyword::Null),
];

impl Keyword {
    /// The keyword of a word, if it is one.
    pub fn from_word(word: &str) -> Option<Keyword> {
        // Byte patterns compile to inline comparisons; this runs for every word.
        Some(match word.as_bytes() {
            b"call" => Keyword::Call,
            b"canon" => Keyword::Canon,
            b"ap" => Keyword::Ap,
            b"seq" => Keyword::Seq,
            b"par" => Keyword::Par,
            b"xor" => Keyword::Xor,
            b"new" => Keyword::New,
            b"fold" => Keyword::Fold,
            b"next" => Keyword::Next,
            b"match" => Keyword::Match,
            b"mismatch" => Keyword::Mismatch,
            b"fail" => Keyword::Fail,
            b"never" => Keyword::Never,
            b"null" => Keyword::Null,
            _ => return None,
        })
    }

    /// The spelling.
    pub fn as_str(self) -> &'static str {
        KEYWORDS
            .iter()
            .find(|(_, k)| *k == self)
            .map(|(s, _)| *s)
            .expect("every keyword is listed")
    }
}

/// The keyword closest to a misspelt one, if any is close enough to suggest.
pub fn suggest_keyword(word: &str) -> Option<&'static str> {
    KEYWORDS
        .iter()
        .map(|(k, _)| (strsim::damerau_levenshtein(word, k), *k))
        .filter(|&(distance, k)| distance <= 2 && distance < k.len())
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, k)| k)
}

// Errors are boxed: values are returned on the hot path, diagnostics rarely.
fn err<T>(diagnostic: Diagnostic) -> Result<T, Box<Diagnostic>> {
    Err(Box::new(diagnostic))
}

/// Longest float literal, in characters (the reference's rule, for determinism across peers).
pub const MAX_FLOAT_LEN: usize = 11;

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// Classifies a word that is not a keyword into a value, interning names into `script`.
pub fn parse_value(script: &mut Script, word: &str, start: u32) -> Result<Value, Box<Diagnostic>> {
    if let Some(value) = plain_variable(script, word) {
        return Ok(value);
    }
    let span = Span::new(start, start + word.len() as u32);
    match word {
        "%init_peer_id%" => return Ok(Value::InitPeerId),
        "%timestamp%" => return Ok(Value::Timestamp),
        "%ttl%" => return Ok(Value::Ttl),
        "true" => return Ok(Value::Bool(true)),
        "false" => return Ok(Value::Bool(false)),
        _ => {}
    }
    for (prefix, make) in [
        ("%last_error%", Value::LastError as fn(_) -> Value),
        (":error:", Value::Error as fn(_) -> Value),
    ] {
        if let Some(rest) = word.strip_prefix(prefix) {
            if rest.is_empty() {
                return Ok(make(None));
            }
            let lens = parse_lens(script, rest, start + prefix.len() as u32)?;
            return Ok(make(Some(lens)));
        }
    }
    if let Some(number) = parse_number(word, span)? {
        return Ok(number);
    }
    parse_variable(script, word, start)
}

// ASCII letters, digits, `_` and `-`: the bytes of plain names, as a lookup table.
const NAME_BYTE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || c == b'_' || c == b'-';
        b += 1;
    }
    table
};

// The common case, decided in one pass over the bytes: an ASCII name that cannot be read as a
// number or a literal, with no lens and an optional `$` or `#` sigil. Everything else takes the
// general path, which gives the same result for these words.
fn plain_variable(script: &mut Script, word: &str) -> Option<Value> {
    let bytes = word.as_bytes();
    let sigil_len = match bytes {
        [b'#', b'$' | b'%', ..] => 2,
        [b'$' | b'#', ..] => 1,
        _ => 0,
    };
    let body = &bytes[sigil_len..];
    let starts_like_a_name = match body {
        [first, ..] if first.is_ascii_alphabetic() || *first == b'_' => true,
        [b'-', second, ..] => second.is_ascii_alphabetic() || *second == b'_' || *second == b'-',
        _ => false,
    };
    if !starts_like_a_name
        || !body.iter().all(|&b| NAME_BYTE[b as usize])
        || (sigil_len == 0 && matches!(bytes, b"true" | b"false"))
    {
        return None;
    }
    let name = script.intern(word);
    Some(match bytes {
        [b'#', b'%', ..] => Value::CanonMap(name, None),
        [b'#', ..] => Value::Canon(name, None),
        [b'$', ..] => Value::Stream(name),
        _ => Value::Scalar(name, None),
    })
}

// The reference's number rule: an optional sign, digits, and at most one dot followed by digits.
// A word that has a non-digit before any dot is a name instead (`-relay-`, `1st`).
fn parse_number(word: &str, span: Span) -> Result<Option<Value>, Box<Diagnostic>> {
    let body = word.strip_prefix(['-', '+']).unwrap_or(word);
    let mut digits_before_dot = 0;
    let mut dot = None;
    for (offset, c) in body.char_indices() {
        match (c, dot) {
            ('0'..='9', _) => {
                if dot.is_none() {
                    digits_before_dot += 1;
                }
            }
            ('.', None) => {
                if digits_before_dot == 0 {
                    if offset == 0 && word.len() == body.len() {
                        return err(Diagnostic::new(
                            ErrorCode::InvalidNumber,
                            format!("`{word}` starts with a dot"),
                            span,
                            "a number cannot start with `.` and a name cannot contain one",
                        )
                        .with_hint(format!("write `0{word}` for a number")));
                    }
                    // A sign followed by a dot, such as `-.5`.
                    return err(invalid_number(word, span));
                }
                dot = Some(offset);
            }
            (_, Some(_)) => {
                return err(Diagnostic::new(
                    ErrorCode::InvalidNumber,
                    format!("invalid number `{word}`"),
                    span,
                    "a number has only digits after its dot",
                ))
            }
            (_, None) => return Ok(None),
        }
    }
    match dot {
        None => match word.parse::<i64>() {
            Ok(n) => Ok(Some(Value::Int(n))),
            Err(_) if digits_before_dot > 0 => err(Diagnostic::new(
                ErrorCode::InvalidNumber,
                format!("integer `{word}` does not fit in 64 bits"),
                span,
                "out of range for i64",
            )),
            Err(_) => err(invalid_number(word, span)),
        },
        Some(_) => {
            if word.chars().count() > MAX_FLOAT_LEN {
                return err(Diagnostic::new(
                    ErrorCode::FloatTooLong,
                    format!(
                        "float literal `{word}` is {} characters long; the limit is {MAX_FLOAT_LEN}",
                        word.chars().count()
                    ),
                    span,
                    "too long",
                )
                .with_hint("use fewer digits, or pass the number as a string"));
            }
            word.parse::<f64>()
                .map(|f| Some(Value::Float(f)))
                .map_err(|_| Box::new(invalid_number(word, span)))
        }
    }
}

fn invalid_number(word: &str, span: Span) -> Diagnostic {
    Diagnostic::new(
        ErrorCode::InvalidNumber,
        format!("invalid number `{word}`"),
        span,
        "not a number",
    )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sigil {
    None,
    Stream,
    StreamMap,
    Canon,
    CanonMap,
}

fn parse_variable(script: &mut Script, word: &str, start: u32) -> Result<Value, Box<Diagnostic>> {
    let (sigil, sigil_len) = if word.starts_with("#$") {
        (Sigil::Canon, 2)
    } else if word.starts_with("#%") {
        (Sigil::CanonMap, 2)
    } else if word.starts_with('#') {
        (Sigil::Canon, 1)
    } else if word.starts_with('$') {
        (Sigil::Stream, 1)
    } else if word.starts_with('%') {
        (Sigil::StreamMap, 1)
    } else {
        (Sigil::None, 0)
    };
    let name_end = word.find('.').unwrap_or(word.len());
    let name = &word[..name_end];
    let bare = &name[sigil_len..];
    let span = Span::new(start, start + word.len() as u32);
    if bare.is_empty() {
        let sigil_text = &word[..sigil_len];
        return err(Diagnostic::new(
            ErrorCode::InvalidName,
            format!("`{sigil_text}` must be followed by a name"),
            Span::new(start, start + name_end as u32),
            "missing name",
        ));
    }
    if let Some((offset, c)) = bare.char_indices().find(|&(_, c)| !is_name_char(c)) {
        let at = start + (sigil_len + offset) as u32;
        let mut diagnostic = Diagnostic::new(
            ErrorCode::InvalidName,
            format!("invalid character {c:?} in name `{name}`"),
            Span::new(at, at + c.len_utf8() as u32),
            "not allowed in a name",
        );
        diagnostic = match c {
            '"' => diagnostic.with_hint("a string literal must be separated from other tokens by whitespace"),
            '%' | '$' | '#' => diagnostic.with_hint(
                "sigils go first: `$s` is a stream, `%m` a stream map, `#s` or `#$s` a canon stream, `#%m` a canon stream map",
            ),
            _ => diagnostic.with_hint("names consist of letters, digits, `_` and `-`"),
        };
        return err(diagnostic);
    }
    let sym = script.intern(name);
    let lens = if name_end < word.len() {
        let lens_start = start + name_end as u32;
        if matches!(sigil, Sigil::Stream | Sigil::StreamMap) {
            let what = if sigil == Sigil::Stream {
                "a stream"
            } else {
                "a stream map"
            };
            let kind = if sigil == Sigil::Stream {
                "(canon peer $s #s)"
            } else {
                "(canon peer %m #%m)"
            };
            return err(Diagnostic::new(
                ErrorCode::LensNotAllowed,
                format!("{what} cannot take a lens"),
                Span::new(lens_start, span.end),
                "lens on a stream",
            )
            .with_hint(format!(
                "canonicalize it first, e.g. `{kind}`, and apply the lens to the canon"
            )));
        }
        Some(parse_lens(script, &word[name_end..], lens_start)?)
    } else {
        None
    };
    Ok(match sigil {
        Sigil::None => Value::Scalar(sym, lens),
        Sigil::Stream => Value::Stream(sym),
        Sigil::StreamMap => Value::StreamMap(sym),
        Sigil::Canon => Value::Canon(sym, lens),
        Sigil::CanonMap => Value::CanonMap(sym, lens),
    })
}

/// Parses a lens (`.length` or `.$...`), which starts at byte `start` of the source.
fn parse_lens(
    script: &mut Script,
    text: &str,
    start: u32,
) -> Result<crate::ast::LensId, Box<Diagnostic>> {
    let whole = Span::new(start, start + text.len() as u32);
    if text == ".length" {
        return Ok(script.push_lens_length());
    }
    let Some(mut rest) = text.strip_prefix(".$") else {
        return err(Diagnostic::new(
            ErrorCode::InvalidLens,
            format!("invalid lens `{text}`"),
            whole,
            "a lens is `.length` or starts with `.$`",
        )
        .with_hint("write `x.$.field` or `x.$.[0]` to take a part of `x`, or `x.length`"));
    };
    let flatten = rest.ends_with('!');
    if flatten {
        rest = &rest[..rest.len() - 1];
    }
    // Accessors go straight into the script; after an error they are left unused.
    let first = script.n_accessors();
    // The position of `rest` inside `text`, for error spans.
    let mut offset = 2;
    let error = |at: usize, len: usize, label: &str| {
        let at = start + at as u32;
        Diagnostic::new(
            ErrorCode::InvalidLens,
            format!("invalid lens `{text}`"),
            Span::new(at, at + len.max(1) as u32),
            label.to_string(),
        )
    };
    while !rest.is_empty() {
        let after_dot = rest.strip_prefix('.');
        let dotted = after_dot.is_some();
        let part = after_dot.unwrap_or(rest);
        let part_offset = offset + usize::from(dotted);
        if let Some(inner) = part.strip_prefix('[') {
            let Some(close) = inner.find(']') else {
                return err(error(part_offset, part.len(), "`[` is never closed"));
            };
            let key = &inner[..close];
            let accessor = if key.is_empty() {
                return err(error(
                    part_offset,
                    2,
                    "expected an index or a scalar name in `[]`",
                ));
            } else if key.bytes().all(|b| b.is_ascii_digit()) {
                match key.parse::<u32>() {
                    Ok(index) => Accessor::Index(index),
                    Err(_) => {
                        return err(error(
                            part_offset + 1,
                            key.len(),
                            "index out of range for u32",
                        ))
                    }
                }
            } else if is_field_name(key) {
                Accessor::Var(script.intern(key))
            } else {
                return err(error(
                    part_offset + 1,
                    key.len(),
                    "expected an index or a scalar name",
                ));
            };
            script.push_accessor(accessor);
            let consumed = usize::from(dotted) + 1 + close + 1;
            rest = &rest[consumed..];
            offset += consumed;
        } else if dotted {
            let len = part
                .char_indices()
                .find(|&(_, c)| !is_name_char(c))
                .map_or(part.len(), |(i, _)| i);
            let field = &part[..len];
            if !is_field_name(field) {
                let bad_len = part.chars().next().map_or(1, char::len_utf8);
                let label = if field.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
                    "array indices are written `.[0]`"
                } else {
                    "expected a field name, `[index]` or `[scalar]`"
                };
                return err(error(part_offset, bad_len, label));
            }
            let field = Accessor::Field(script.intern(field));
            script.push_accessor(field);
            rest = &rest[1 + len..];
            offset += 1 + len;
        } else {
            let bad_len = rest.chars().next().map_or(1, char::len_utf8);
            let label = if rest.starts_with('!') {
                "`!` may only end the lens"
            } else {
                "expected `.field`, `.[index]` or `.[scalar]`"
            };
            return err(error(offset, bad_len, label));
        }
    }
    if script.n_accessors() == first {
        return err(error(0, text.len(), "`.$` must be followed by an accessor")
            .with_hint("e.g. `.$.field` or `.$.[0]`"));
    }
    Ok(script.push_lens_path_from(first, flatten))
}

fn is_field_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| is_name_char(c) && !c.is_ascii_digit())
        && chars.all(is_name_char)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::Lens;

    #[test]
    fn keywords_are_listed_in_declaration_order() {
        // The parser stores a keyword as its discriminant and reads it back from this table.
        for (index, &(spelling, keyword)) in KEYWORDS.iter().enumerate() {
            assert_eq!(keyword as usize, index, "{spelling}");
            assert_eq!(Keyword::from_word(spelling), Some(keyword));
        }
    }

    fn value(word: &str) -> Result<String, String> {
        let mut script = Script::new();
        match parse_value(&mut script, word, 0) {
            Ok(value) => Ok(crate::print::value_to_string(&script, value)),
            Err(diagnostic) => Err(format!(
                "{} {}..{} {}",
                diagnostic.code,
                diagnostic.primary.span.start,
                diagnostic.primary.span.end,
                diagnostic.primary.message
            )),
        }
    }

    #[test]
    fn numbers_and_names() {
        assert_eq!(value("42"), Ok("42".into()));
        assert_eq!(value("-7"), Ok("-7".into()));
        assert_eq!(value("+7"), Ok("7".into()));
        assert_eq!(value("1.5"), Ok("1.5".into()));
        assert_eq!(value("1."), Ok("1.0".into()));
        assert_eq!(value("-relay-"), Ok("-relay-".into()));
        assert_eq!(value("1st"), Ok("1st".into()));
        assert!(value("1.x").unwrap_err().starts_with("E010"));
        assert!(value(".5").unwrap_err().starts_with("E010"));
        assert!(value("-").unwrap_err().starts_with("E010"));
        assert!(value("99999999999999999999")
            .unwrap_err()
            .starts_with("E010"));
        assert!(value("1.234567890").is_ok());
        assert!(value("1.2345678901").unwrap_err().starts_with("E011"));
    }

    #[test]
    fn variables_and_lenses() {
        for ok in [
            "x",
            "$s",
            "%m",
            "#s",
            "#$s",
            "#%m",
            "x.$.a.[0].[i]!",
            "#$s.length",
            "#%m.$.key",
            "%last_error%.$.message",
            ":error:.$.error_code",
        ] {
            assert_eq!(value(ok), Ok(ok.to_string()));
        }
        assert_eq!(value("x.$[0]"), Ok("x.$.[0]".into()));
        assert!(value("$s.$.a").unwrap_err().starts_with("E014"));
        assert!(value("x.$").unwrap_err().starts_with("E013"));
        assert!(value("x.a").unwrap_err().starts_with("E013"));
        assert!(value("x.$.0").unwrap_err().starts_with("E013 4..5"));
        assert!(value("x.$.a!.b").unwrap_err().starts_with("E013"));
        assert!(value("$").unwrap_err().starts_with("E012"));
        assert!(value("a\"b").unwrap_err().starts_with("E012 1..2"));
    }

    #[test]
    fn lens_structure() {
        let mut script = Script::new();
        let Value::Scalar(_, Some(lens)) = parse_value(&mut script, "x.$.a.[3].[i]!", 0).unwrap()
        else {
            panic!("expected a scalar with a lens");
        };
        let Lens::Path { accessors, flatten } = script.lens(lens) else {
            panic!("expected a path");
        };
        assert!(flatten);
        assert_eq!(accessors.len(), 3);
        assert_eq!(accessors[1], Accessor::Index(3));
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest_keyword("cal"), Some("call"));
        assert_eq!(suggest_keyword("sqe"), Some("seq"));
        assert_eq!(suggest_keyword("mismach"), Some("mismatch"));
        assert_eq!(suggest_keyword("banana"), None);
    }
}
