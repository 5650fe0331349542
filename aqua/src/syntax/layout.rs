//! The layout pass: tokens to a tree of logical lines by indentation.
//!
//! A logical line ends at a newline, unless a bracket is open or the line's last token asks
//! for more (a comma or an infix operator), as in
//!
//! ```aqua
//! result <- Srv.call(a,
//!                    b)
//! ```
//!
//! The lines that follow a line and are indented deeper are its children. Each line is
//! then parsed on its own, so a syntax error stays in its line and never swallows a block.

use std::borrow::Cow;

use super::lexer::{Malformed, MalformedKind, Token};
use super::Span;
use crate::diagnostic::{Code, Diagnostic};

/// A logical line with the lines nested under it.
#[derive(Debug, Clone, PartialEq)]
pub struct Line<'src> {
    /// The line's tokens, without newlines and comments; never empty.
    pub tokens: Vec<(Token<'src>, Span)>,
    /// The line's indentation (possibly empty).
    pub indent: Span,
    pub children: Vec<Line<'src>>,
}

impl Line<'_> {
    /// From the first token to the last one of the line itself (children excluded).
    pub fn span(&self) -> Span {
        let first = self.tokens.first().map_or(0, |(_, s)| s.start);
        let last = self.tokens.last().map_or(first, |(_, s)| s.end);
        Span::from(first..last)
    }

    /// The line and all its descendants.
    pub fn full_span(&self) -> Span {
        let end = self
            .children
            .last()
            .map_or(self.span().end, |child| child.full_span().end);
        Span::from(self.span().start..end)
    }
}

/// The result of the layout pass.
#[derive(Debug, Default)]
pub struct Layout<'src> {
    /// Top-level lines.
    pub lines: Vec<Line<'src>>,
    /// Every comment of the file, in order.
    pub comments: Vec<(&'src str, Span)>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Groups `tokens` (of `source`) into a tree of logical lines.
pub fn layout<'src>(source: &'src str, tokens: &[(Token<'src>, Span)]) -> Layout<'src> {
    let mut out = Layout::default();
    let mut flat: Vec<Line<'src>> = Vec::new();
    let mut current: Vec<(Token<'src>, Span)> = Vec::new();
    let mut depth = 0usize;
    let mut at_line_start = true;
    for &(token, span) in tokens {
        match token {
            Token::Comment(text) => out.comments.push((text, span)),
            // Reported already; read as the spaces they look like.
            Token::Malformed(Malformed {
                kind: MalformedKind::Space,
                ..
            }) => {}
            Token::Newline => {
                at_line_start = true;
                let continues = current.last().is_some_and(|(t, _)| t.continues_line());
                if depth == 0 && !continues && !current.is_empty() {
                    flat.push(new_line(source, std::mem::take(&mut current)));
                }
            }
            _ => {
                // Inside brackets, a line that is not indented deeper than the statement
                // (and does not close a bracket) starts a new statement: the bracket was
                // left open, and it must not swallow the rest of the file.
                if std::mem::take(&mut at_line_start) && depth > 0 {
                    let closes = matches!(token, Token::RParen | Token::RBracket | Token::RBrace);
                    let statement_column = column(source, current[0].1.start);
                    if !closes && column(source, span.start) <= statement_column {
                        flat.push(new_line(source, std::mem::take(&mut current)));
                        depth = 0;
                    }
                }
                match token {
                    Token::LParen | Token::LBracket | Token::LBrace => depth += 1,
                    Token::RParen | Token::RBracket | Token::RBrace => {
                        depth = depth.saturating_sub(1)
                    }
                    _ => {}
                }
                current.push((token, span));
            }
        }
    }
    if !current.is_empty() {
        flat.push(new_line(source, current));
    }
    out.lines = nest(source, flat, &mut out.diagnostics);
    out
}

/// The byte offset of `offset` from the start of its physical line.
fn column(source: &str, offset: usize) -> usize {
    offset - source[..offset].rfind('\n').map_or(0, |i| i + 1)
}

fn new_line<'src>(source: &'src str, tokens: Vec<(Token<'src>, Span)>) -> Line<'src> {
    let start = tokens[0].1.start;
    let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
    Line {
        tokens,
        indent: Span::from(line_start..start),
        children: Vec::new(),
    }
}

/// Builds the tree: a line indented deeper than the previous one is its child; a line
/// indented like an open ancestor's child is that ancestor's next child.
fn nest<'src>(
    source: &'src str,
    flat: Vec<Line<'src>>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Line<'src>> {
    // Indentation as spaces and tabs: look-alike spaces (reported by the parser) count as
    // spaces, so that they cause no second diagnostic.
    let text = |span: Span| -> Cow<'src, str> {
        let indent = &source[span.start..span.end];
        if indent.bytes().all(|b| b == b' ' || b == b'\t') {
            Cow::Borrowed(indent)
        } else {
            Cow::Owned(
                indent
                    .chars()
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect(),
            )
        }
    };
    // Parent index of each line (None: top level).
    let mut parents: Vec<Option<usize>> = Vec::with_capacity(flat.len());
    // The indentation each line is read with: its own, or, for a line that matches no level,
    // the one of the block it is put in.
    let mut indents: Vec<Cow<'src, str>> = Vec::with_capacity(flat.len());
    // The chain of open lines: the last line seen and its ancestors.
    let mut open: Vec<usize> = Vec::new();
    // The first child of each line, whose indentation its later children must repeat.
    let mut first_child: Vec<Option<usize>> = vec![None; flat.len()];
    let mut top_indent_reported = false;
    for (index, line) in flat.iter().enumerate() {
        let mut indent = text(line.indent);
        let mut reported = false;
        let parent = loop {
            let Some(&top) = open.last() else {
                if !indent.is_empty() && !top_indent_reported {
                    top_indent_reported = true;
                    diagnostics.push(
                        Diagnostic::new(Code::UnexpectedIndent, line.indent_or_start())
                            .with_message("unexpected indentation at the top level")
                            .with_help("top-level lines start at the first column"),
                    );
                }
                break None;
            };
            let top_indent = &indents[top];
            if indent == *top_indent {
                open.pop();
                break open.last().copied();
            }
            if indent.starts_with(&**top_indent) {
                break Some(top);
            }
            if !top_indent.starts_with(&*indent) && !reported {
                reported = true;
                diagnostics.push(
                    Diagnostic::new(Code::MixedIndent, line.indent_or_start())
                        .with_message("indentation mixes tabs and spaces")
                        .with_label(
                            flat[top].indent_or_start(),
                            "compared with the indentation of this line",
                        )
                        .with_help("indent with spaces only, or with tabs only"),
                );
            }
            open.pop();
        };
        if let Some(parent) = parent {
            match first_child[parent] {
                None => first_child[parent] = Some(index),
                Some(first) if indents[first] != indent && !reported => {
                    let expected = &indents[first];
                    let mut help = format!(
                        "indent it by {} to keep it in the block",
                        describe_indent(expected)
                    );
                    if parents[parent].is_some() {
                        help += &format!(
                            ", or by {} to end the block",
                            describe_indent(&indents[parent])
                        );
                    }
                    diagnostics.push(
                        Diagnostic::new(Code::InconsistentIndent, line.tokens[0].1)
                            .with_message(format!(
                                "this line is indented by {}, but the block it belongs to by {}",
                                describe_indent(&indent),
                                describe_indent(expected)
                            ))
                            .with_primary_label(format!("indented by {}", describe_indent(&indent)))
                            .with_label(flat[first].tokens[0].1, "the block's first line")
                            .with_help(help)
                            .with_suggestion(line.indent, expected.to_string()),
                    );
                    // Read the line as the block's next line, its likeliest place, so that
                    // the lines after it nest as they were meant to.
                    indent = expected.clone();
                }
                Some(_) => {}
            }
        }
        parents.push(parent);
        indents.push(indent);
        open.push(index);
    }
    // Attach children in reverse so that each line is complete before it moves to its parent.
    let mut slots: Vec<Option<Line<'src>>> = flat.into_iter().map(Some).collect();
    let mut roots = Vec::new();
    for index in (0..slots.len()).rev() {
        let line = slots[index].take().expect("each line is moved once");
        match parents[index] {
            Some(parent) => slots[parent]
                .as_mut()
                .expect("parents precede their children")
                .children
                .insert(0, line),
            None => roots.push(line),
        }
    }
    roots.reverse();
    roots
}

impl Line<'_> {
    fn indent_or_start(&self) -> Span {
        if self.indent.start == self.indent.end {
            Span::from(self.indent.start..self.span().end.min(self.indent.start + 1))
        } else {
            self.indent
        }
    }
}

fn describe_indent(indent: &str) -> String {
    let tabs = indent.chars().filter(|&c| c == '\t').count();
    let spaces = indent.chars().count() - tabs;
    match (spaces, tabs) {
        (s, 0) => format!("{s} space{}", if s == 1 { "" } else { "s" }),
        (0, t) => format!("{t} tab{}", if t == 1 { "" } else { "s" }),
        (s, t) => format!("{s} spaces and {t} tabs"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::lexer::lex;

    fn shape(source: &str) -> (String, Vec<Code>) {
        fn render(lines: &[Line<'_>], source: &str, depth: usize, out: &mut String) {
            for line in lines {
                let span = line.span();
                out.push_str(&"  ".repeat(depth));
                out.push_str(&source[span.start..span.end].replace('\n', "\\n"));
                out.push('\n');
                render(&line.children, source, depth + 1, out);
            }
        }
        let tokens = lex(source);
        let layout = layout(source, &tokens);
        let mut out = String::new();
        render(&layout.lines, source, 0, &mut out);
        (out, layout.diagnostics.iter().map(|d| d.code).collect())
    }

    #[test]
    fn blocks_nest_by_indentation() {
        let source = "func f():\n  on a:\n    x()\n  y()\n\n-- c\nfunc g():\n  z()\n";
        assert_eq!(
            shape(source),
            (
                "func f():\n  on a:\n    x()\n  y()\nfunc g():\n  z()\n".into(),
                vec![]
            )
        );
    }

    #[test]
    fn brackets_and_trailing_commas_continue_lines() {
        let source = "x <- f(a,\n   b)\ny = [1,\n 2]\nz = a +\n  b\n";
        assert_eq!(
            shape(source).0,
            "x <- f(a,\\n   b)\ny = [1,\\n 2]\nz = a +\\n  b\n"
        );
    }

    #[test]
    fn an_unclosed_bracket_ends_at_the_next_statement() {
        let source = "func f():\n  x = g(1,\n    2\n  y = (\n  )\n  z()\n";
        assert_eq!(
            shape(source).0,
            "func f():\n  x = g(1,\\n    2\n  y = (\\n  )\n  z()\n"
        );
    }

    #[test]
    fn a_dedent_to_no_open_level_is_reported() {
        let (_, codes) = shape("func f():\n    a()\n  b()\n");
        assert_eq!(codes, vec![Code::InconsistentIndent]);
    }

    #[test]
    fn tabs_against_spaces_are_reported() {
        let (_, codes) = shape("func f():\n\ta()\n  b()\n");
        assert_eq!(codes, vec![Code::MixedIndent]);
    }

    #[test]
    fn indented_first_line_is_reported_once() {
        let (tree, codes) = shape("  a()\n  b()\n");
        assert_eq!(tree, "a()\nb()\n");
        assert_eq!(codes, vec![Code::UnexpectedIndent]);
    }
}
