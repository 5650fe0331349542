//! Checks the examples of the book (`../book/src/**/*.md`) against the parser and validator:
//!
//! - every ```` ```air ```` block is a complete, valid script;
//! - every ```` ```air-error ```` block sits under a `## EXXX: title` heading and produces a
//!   diagnostic with that code;
//! - the error catalogue (`air/errors.md`) has a `## CODE: TITLE` heading for every
//!   [`air::ErrorCode`], in catalogue order, each with an example.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Codes whose example may be a ```` ```text ```` description instead of an ```` ```air-error ````
/// block, because the input cannot be written in a Markdown block (too large, not UTF-8) or the
/// error cannot currently be produced from text.
const DESCRIBED_ONLY: &[&str] = &["E018", "E019", "E020"];

fn book_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../book/src")
}

fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            markdown_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "md") {
            out.push(path);
        }
    }
}

/// A fenced code block.
struct Block {
    /// The first word of the info string (`air`, `air-error`, `text`, ...).
    lang: String,
    /// 1-based line of the opening fence.
    line: usize,
    /// The block's text, each line ending with `\n`.
    text: String,
    /// The `## ` heading the block is under, if any (without the `## `).
    heading: Option<String>,
}

/// The fenced blocks and the level-2 headings (with their lines) of a Markdown text.
fn scan(markdown: &str) -> (Vec<Block>, Vec<(usize, String)>) {
    let mut blocks = Vec::new();
    let mut headings = Vec::new();
    let mut heading: Option<String> = None;
    let mut open: Option<(String, usize, String)> = None;
    for (index, line) in markdown.lines().enumerate() {
        let number = index + 1;
        let trimmed = line.trim_start();
        match open.as_mut() {
            Some(_) if trimmed.starts_with("```") => {
                let (lang, line, text) = open.take().expect("an open block");
                blocks.push(Block {
                    lang,
                    line,
                    text,
                    heading: heading.clone(),
                });
            }
            Some((_, _, text)) => {
                text.push_str(line);
                text.push('\n');
            }
            None if trimmed.starts_with("```") => {
                let info = trimmed.trim_start_matches('`');
                let lang = info
                    .split(|c: char| c == ',' || c.is_whitespace())
                    .next()
                    .unwrap_or("")
                    .to_string();
                open = Some((lang, number, String::new()));
            }
            None => {
                if let Some(title) = line.strip_prefix("## ") {
                    heading = Some(title.trim().to_string());
                    headings.push((number, title.trim().to_string()));
                } else if line.starts_with("# ") {
                    heading = None;
                }
            }
        }
    }
    assert!(open.is_none(), "a code block is never closed");
    (blocks, headings)
}

/// The code of a heading `EXXX: title` (or `WXXX: title` for a warning).
fn heading_code(heading: &str) -> Option<&str> {
    let (code, _) = heading.split_once(": ")?;
    let digits = code.strip_prefix('E').or_else(|| code.strip_prefix('W'))?;
    (digits.len() == 3 && digits.bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

fn describe(diagnostics: &[air::Diagnostic]) -> String {
    let mut text = String::new();
    for d in diagnostics {
        let _ = writeln!(
            text,
            "    {} at {}..{}: {}",
            d.code, d.primary.span.start, d.primary.span.end, d.message
        );
    }
    if text.is_empty() {
        text.push_str("    (no diagnostics)\n");
    }
    text
}

fn indent(source: &str) -> String {
    source.lines().map(|l| format!("    | {l}\n")).collect()
}

#[test]
fn book_examples() {
    let src = book_src();
    let mut files = Vec::new();
    markdown_files(&src, &mut files);
    files.sort();
    assert!(
        !files.is_empty(),
        "no Markdown files under {}",
        src.display()
    );

    let mut failures = String::new();
    let mut n_air = 0;
    let mut n_air_error = 0;
    for file in &files {
        let markdown = std::fs::read_to_string(file)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", file.display()));
        let name = file
            .strip_prefix(&src)
            .unwrap_or(file)
            .display()
            .to_string();
        let (blocks, _) = scan(&markdown);
        for block in blocks {
            match block.lang.as_str() {
                "air" => {
                    n_air += 1;
                    let diagnostics = air::check(&block.text).diagnostics;
                    if !diagnostics.is_empty() {
                        let _ = write!(
                            failures,
                            "{name}:{}: ```air block is not a valid script\n{}  diagnostics:\n{}\n",
                            block.line,
                            indent(&block.text),
                            describe(&diagnostics)
                        );
                    }
                }
                "air-error" => {
                    n_air_error += 1;
                    let Some(code) = block.heading.as_deref().and_then(heading_code) else {
                        let _ = writeln!(
                            failures,
                            "{name}:{}: ```air-error block is not under a `## EXXX: title` heading\n",
                            block.line
                        );
                        continue;
                    };
                    let diagnostics = air::check(&block.text).diagnostics;
                    if !diagnostics.iter().any(|d| d.code.as_str() == code) {
                        let _ = write!(
                            failures,
                            "{name}:{}: ```air-error block under {code} does not produce {code}\n{}  diagnostics:\n{}\n",
                            block.line,
                            indent(&block.text),
                            describe(&diagnostics)
                        );
                    }
                }
                _ => {}
            }
        }
    }
    assert!(n_air > 0, "the book has no ```air blocks");
    assert!(n_air_error > 0, "the book has no ```air-error blocks");
    assert!(failures.is_empty(), "book examples failed:\n\n{failures}");
}

#[test]
fn error_catalogue_lists_every_code() {
    let path = book_src().join("air/errors.md");
    let markdown = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    let (blocks, headings) = scan(&markdown);
    let catalogue: Vec<(usize, &str)> = headings
        .iter()
        .filter(|(_, h)| heading_code(h).is_some())
        .map(|(line, h)| (*line, h.as_str()))
        .collect();

    let mut failures = String::new();
    let mut last_line = 0;
    for &code in air::ErrorCode::ALL {
        let expected = format!("{}: {}", code.as_str(), code.title());
        let Some(&(line, _)) = catalogue.iter().find(|(_, h)| *h == expected) else {
            let found = catalogue
                .iter()
                .find(|(_, h)| heading_code(h) == Some(code.as_str()))
                .map_or("no heading".to_string(), |(line, h)| {
                    format!("line {line}: `## {h}`")
                });
            let _ = writeln!(failures, "missing `## {expected}` ({found})");
            continue;
        };
        if line < last_line {
            let _ = writeln!(
                failures,
                "`## {expected}` (line {line}) is out of catalogue order"
            );
        }
        last_line = line;

        let under = |lang: &str| {
            blocks.iter().any(|b| {
                b.lang == lang && b.heading.as_deref().and_then(heading_code) == Some(code.as_str())
            })
        };
        let described = DESCRIBED_ONLY.contains(&code.as_str()) && under("text");
        if !under("air-error") && !described {
            let _ = writeln!(
                failures,
                "`## {expected}` has no ```air-error example{}",
                if DESCRIBED_ONLY.contains(&code.as_str()) {
                    " and no ```text description"
                } else {
                    ""
                }
            );
        }
    }
    for (line, heading) in &catalogue {
        let known = air::ErrorCode::ALL
            .iter()
            .any(|code| heading_code(heading) == Some(code.as_str()));
        if !known {
            let _ = writeln!(failures, "line {line}: `## {heading}` is not an error code");
        }
    }
    assert!(
        failures.is_empty(),
        "{} does not match air::ErrorCode:\n{failures}",
        path.display()
    );
}
