//! Data-driven diagnostics tests.
//!
//! `data/err/NAME.air` holds invalid AIR; `data/err/NAME.txt` holds the diagnostics that
//! `air::check` renders for it (without colors), which reviewers read to judge the messages.
//! Run with `UPDATE_EXPECT=1` to rewrite the `.txt` files after an intended change.
//! `data/ok/NAME.air` holds valid AIR that must check cleanly and round-trip through `air::print`.

use std::path::{Path, PathBuf};

mod support;

fn files(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "air"))
        .collect();
    files.sort();
    files
}

fn render(path: &Path, source: &str) -> String {
    let name = format!(
        "{}",
        path.file_name().expect("a file name").to_string_lossy()
    );
    air::check(source)
        .diagnostics
        .iter()
        .map(|d| d.render(&name, source, false))
        .collect()
}

#[test]
fn error_snapshots() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut mismatches = Vec::new();
    let all = files("err");
    assert!(all.len() >= 25, "the error suite went missing");
    for path in all {
        let source = std::fs::read_to_string(&path).expect("readable test file");
        support::assert_paths_agree(&source);
        let actual = render(&path, &source);
        assert!(
            !actual.is_empty(),
            "{} produced no diagnostics",
            path.display()
        );
        let expected_path = path.with_extension("txt");
        if update {
            std::fs::write(&expected_path, &actual).expect("writable snapshot");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != actual {
            mismatches.push(format!(
                "--- {} expected:\n{expected}\n--- actual:\n{actual}",
                expected_path.display()
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "diagnostics changed (run with UPDATE_EXPECT=1 to accept):\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn valid_files_check_and_round_trip() {
    for path in files("ok") {
        let source = std::fs::read_to_string(&path).expect("readable test file");
        let parsed = air::check(&source);
        assert!(
            parsed.diagnostics.is_empty(),
            "{}:\n{}",
            path.display(),
            render(&path, &source)
        );
        let printed = air::print(&parsed.script);
        let reparsed = air::check(&printed);
        assert!(reparsed.diagnostics.is_empty(), "{}", printed);
        assert!(parsed.script == reparsed.script, "{}", printed);
        assert_eq!(printed, air::print(&reparsed.script));
    }
}
