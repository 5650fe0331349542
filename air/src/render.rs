//! Terminal rendering of diagnostics with `ariadne`.
//!
//! ariadne gets an excerpt of the source, not the whole file, so that a diagnostic in a 100 MB
//! script, or on a 10 MB line, costs little and prints a few lines: the lines of the labels when
//! they are close together, else the primary label's line (cut around the label when long), with
//! the other labels turned into notes that give their location.

use ariadne::{Color, Config, IndexType, Label, Report, ReportKind, Source};

use crate::ast::Span;
use crate::diagnostic::{floor_char_boundary, line_col, location, Diagnostic};

// Labels further apart than this many lines are not drawn together.
const MAX_EXCERPT_LINES: usize = 12;
// Lines longer than this are cut around the labels.
const MAX_LINE_LEN: usize = 160;
// How much context to keep on each side of a label in a cut line.
const CONTEXT: usize = 60;

struct Line {
    number: usize,
    start: usize,
    end: usize,
}

fn line_of(source: &str, offset: usize) -> Line {
    let offset = floor_char_boundary(source, offset);
    let bytes = source.as_bytes();
    let start = bytes[..offset]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let end = bytes[offset..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(source.len(), |i| offset + i);
    let (number, _) = line_col(source, offset as u32);
    Line { number, start, end }
}

struct Excerpt {
    text: String,
    first_line: usize,
    // Byte ranges of the source that the excerpt shows (one per excerpt line), with the
    // offset in the excerpt where each one starts.
    pieces: Vec<(usize, usize, usize)>,
}

impl Excerpt {
    // Maps a source span into the excerpt, if it is shown.
    fn map(&self, span: Span) -> Option<std::ops::Range<usize>> {
        let (start, end) = (span.start as usize, span.end as usize);
        self.pieces.iter().find_map(|&(from, to, at)| {
            (from <= start && start <= to).then(|| {
                let end = end.clamp(start, to);
                at + start - from..at + end - from
            })
        })
    }
}

fn excerpt(source: &str, lines: &[Line], spans: &[Span]) -> Excerpt {
    let mut text = String::new();
    let mut pieces = Vec::new();
    for line in lines {
        let (mut from, mut to) = (line.start, line.end);
        if to - from > MAX_LINE_LEN {
            let on_line = spans
                .iter()
                .filter(|s| line.start <= s.start as usize && s.start as usize <= line.end);
            let lo = on_line
                .clone()
                .map(|s| s.start as usize)
                .min()
                .unwrap_or(from);
            let hi = on_line
                .map(|s| (s.end as usize).min(line.end))
                .max()
                .unwrap_or(from);
            from = floor_char_boundary(source, lo.saturating_sub(CONTEXT).max(line.start));
            let hi = hi.min(lo + MAX_LINE_LEN);
            to = floor_char_boundary(source, (hi + CONTEXT).min(line.end));
        }
        if from > line.start {
            text.push('…');
        }
        pieces.push((from, to, text.len()));
        text.push_str(&source[from..to]);
        if to < line.end {
            text.push('…');
        }
        text.push('\n');
    }
    Excerpt {
        text,
        first_line: lines.first().map_or(1, |l| l.number),
        pieces,
    }
}

pub(crate) fn render(
    diagnostic: &Diagnostic,
    file_name: &str,
    source: &str,
    color: bool,
) -> String {
    let clamp = |span: Span| {
        let start = floor_char_boundary(source, span.start as usize) as u32;
        let end = floor_char_boundary(source, span.end as usize).max(start as usize) as u32;
        Span::new(start, end)
    };
    let primary = clamp(diagnostic.primary.span);
    let primary_line = line_of(source, primary.start as usize);
    let secondary: Vec<(Span, &str, Line)> = diagnostic
        .secondary
        .iter()
        .map(|label| {
            let span = clamp(label.span);
            (
                span,
                label.message.as_str(),
                line_of(source, span.start as usize),
            )
        })
        .collect();

    // Lines drawn together: the primary line and the secondary lines close to it.
    let near = |line: &Line| line.number.abs_diff(primary_line.number) < MAX_EXCERPT_LINES;
    let mut lines: Vec<Line> = Vec::new();
    let lo = secondary
        .iter()
        .filter(|(_, _, line)| near(line))
        .map(|(_, _, line)| line.number)
        .chain([primary_line.number])
        .min()
        .expect("the primary line is present");
    let hi = secondary
        .iter()
        .filter(|(_, _, line)| near(line))
        .map(|(_, _, line)| line.number)
        .chain([primary_line.number])
        .max()
        .expect("the primary line is present");
    let first = if lo == primary_line.number {
        &primary_line
    } else {
        secondary
            .iter()
            .map(|(_, _, line)| line)
            .find(|line| line.number == lo)
            .expect("`lo` is the number of a label line")
    };
    let mut offset = first.start;
    for number in lo..=hi {
        let end = source.as_bytes()[offset..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(source.len(), |i| offset + i);
        lines.push(Line {
            number,
            start: offset,
            end,
        });
        if end >= source.len() {
            break;
        }
        offset = end + 1;
    }
    let mut spans = vec![primary];
    spans.extend(
        secondary
            .iter()
            .filter(|(_, _, l)| near(l))
            .map(|(s, _, _)| *s),
    );
    let excerpt = excerpt(source, &lines, &spans);

    // ariadne 0.6 numbers the gutter from the start of the text it gets (it applies the display
    // offset only to the header), so the excerpt is preceded by empty lines to keep the
    // numbers right; past `MAX_PADDING` lines, only the header's numbers are exact.
    const MAX_PADDING: usize = 100_000;
    let (padding, display_offset) = if excerpt.first_line <= MAX_PADDING {
        (excerpt.first_line - 1, 0)
    } else {
        (0, excerpt.first_line - 1)
    };
    let shift = |range: std::ops::Range<usize>| range.start + padding..range.end + padding;
    let id = file_name;
    let primary_range = shift(excerpt.map(primary).unwrap_or(0..0));
    let kind = if diagnostic.code.is_warning() {
        ReportKind::Warning
    } else {
        ReportKind::Error
    };
    let primary_color = if diagnostic.code.is_warning() {
        Color::Yellow
    } else {
        Color::Red
    };
    let mut report = Report::build(kind, (id, primary_range.clone()))
        .with_code(diagnostic.code)
        .with_message(&diagnostic.message)
        .with_config(
            Config::default()
                .with_color(color)
                .with_index_type(IndexType::Byte),
        )
        .with_label(
            Label::new((id, primary_range))
                .with_message(&diagnostic.primary.message)
                .with_color(primary_color),
        );
    for (span, message, line) in &secondary {
        match excerpt.map(*span).filter(|_| near(line)).map(shift) {
            Some(range) => {
                report = report.with_label(
                    Label::new((id, range))
                        .with_message(message)
                        .with_color(Color::Blue),
                );
            }
            None => {
                let (l, c) = line_col(source, span.start);
                report = report.with_note(format!("{message} ({file_name}:{l}:{c})"));
            }
        }
    }
    if let Some(hint) = &diagnostic.hint {
        report = report.with_help(hint);
    }
    let mut text = "\n".repeat(padding);
    text.push_str(&excerpt.text);
    let mut out = Vec::new();
    let source_text = source;
    let source = Source::from(text).with_display_line_offset(display_offset);
    report
        .finish()
        .write((id, source), &mut out)
        .expect("writing to a Vec cannot fail");
    let rendered = String::from_utf8_lossy(&out).into_owned();
    // ariadne computes the header's line:column within the excerpt, which is off when a long
    // line was cut: put the exact location there.
    with_location(
        &rendered,
        file_name,
        &location(file_name, source_text, primary),
    )
}

// Replaces every `[ FILE:L:C ]` header location in ariadne's output with `location`.
fn with_location(rendered: &str, file_name: &str, location: &str) -> String {
    let opener = format!("[ {file_name}:");
    let mut out = String::with_capacity(rendered.len());
    let mut rest = rendered;
    while let Some(at) = rest.find(&opener) {
        let after = &rest[at + opener.len()..];
        let Some(close) = after.find(" ]") else {
            break;
        };
        let is_location = after[..close]
            .split(':')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
        out.push_str(&rest[..at]);
        if is_location {
            out.push_str("[ ");
            out.push_str(location);
            out.push_str(" ]");
        } else {
            out.push_str(&rest[at..at + opener.len() + close + 2]);
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    out
}
