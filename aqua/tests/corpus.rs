//! Every Aqua program of the repository's corpora parses without a diagnostic.

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

#[test]
fn corpus_programs_parse_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    aqua_files(&root.join("tools/aqua-corpus/programs"), &mut files);
    assert!(files.len() >= 40, "found only {} programs", files.len());
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
