//! Every Aqua program of the repository (both corpora, the standard library and the
//! generated project of the benchmark) parses without a diagnostic and formats idempotently.

use std::path::{Path, PathBuf};

fn aqua_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            aqua_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "aqua") {
            out.push(path);
        }
    }
}

fn programs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    aqua_files(&root.join("tools/aqua-corpus/programs"), &mut files);
    aqua_files(&root.join("stdlib"), &mut files);
    aqua_files(&root.join("aqua/tests/programs"), &mut files);
    aqua_files(&root.join("aqua/benches/project"), &mut files);
    assert!(files.len() >= 50, "found only {} programs", files.len());
    files
}

#[test]
fn corpus_programs_parse_cleanly() {
    let files = programs();
    let mut failures = String::new();
    for path in &files {
        let source = std::fs::read_to_string(path).unwrap();
        let parsed = aqua::syntax::parse(&source);
        for d in &parsed.diagnostics {
            failures.push_str(&aqua::diagnostic::render(d, path, &source, false));
        }
    }
    assert!(failures.is_empty(), "{failures}");
}

/// The syntax tree without positions, to compare a file with its formatted text.
fn shape_of(source: &str) -> String {
    let parsed = aqua::syntax::parse(source);
    let debug = format!("{:?}", parsed.file);
    // Spans print as `start..end`; drop them.
    let mut out = String::with_capacity(debug.len());
    let mut rest = debug.as_str();
    while let Some(i) = rest.find("..") {
        let before = rest[..i].trim_end_matches(|c: char| c.is_ascii_digit());
        out.push_str(before);
        rest = rest[i + 2..].trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

#[test]
fn formatting_keeps_meaning_and_comments_and_is_idempotent() {
    for path in &programs() {
        let source = std::fs::read_to_string(path).unwrap();
        let once =
            aqua::format::format(&source).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        let twice = aqua::format::format(&once).unwrap();
        assert_eq!(
            once,
            twice,
            "{}: formatting is not idempotent",
            path.display()
        );
        assert_eq!(
            shape_of(&source),
            shape_of(&once),
            "{}: meaning changed",
            path.display()
        );
        let comments = |text: &str| {
            aqua::syntax::parse(text)
                .comments
                .iter()
                .map(|c| text[c.start..c.end].trim_end().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            comments(&source),
            comments(&once),
            "{}: comments changed",
            path.display()
        );
    }
}
