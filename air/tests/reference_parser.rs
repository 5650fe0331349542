//! Compatibility with the reference parser (`aquavm-air-parser` 0.12, a dev-dependency): the
//! reference accepts every script this crate prints, and agrees with this crate on which of the
//! test scripts are valid.
//!
//! The reference panics on a lens with a non-ASCII field name (its lens lexer slices inside a
//! character); this crate accepts such names, as the reference's own name rules say it should.

use std::path::{Path, PathBuf};

// Whether the reference parser accepts `source`; `None` when it panics. It runs in a child
// process (this test binary, running `reference_parse_child`), which keeps its reports on
// stderr and its panics out of this test's output.
fn reference_accepts(source: &str) -> Option<bool> {
    let dir = std::env::temp_dir().join(format!("air-reference-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let file = dir.join(format!("{:016x}.air", fxhash(source)));
    std::fs::write(&file, source).expect("a temporary file");
    let status = std::process::Command::new(std::env::current_exe().expect("this test binary"))
        .args([
            "--exact",
            "reference_parse_child",
            "--test-threads=1",
            "--quiet",
        ])
        .env(CHILD_INPUT, &file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run the reference in a child process");
    let _ = std::fs::remove_file(&file);
    match status.code() {
        Some(0) => Some(true),
        Some(1) => Some(false),
        _ => None,
    }
}

const CHILD_INPUT: &str = "AIR_REFERENCE_PARSE_INPUT";

fn fxhash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Not a test of its own: the child process of `reference_accepts`.
#[test]
fn reference_parse_child() {
    let Some(path) = std::env::var_os(CHILD_INPUT) else {
        return;
    };
    let source = std::fs::read_to_string(path).expect("the script to parse");
    let accepted = air_parser::parse(&source).is_ok();
    std::process::exit(if accepted { 0 } else { 1 });
}

fn air_files(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("test data directory")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "air"))
        .collect();
    files.sort();
    files
}

#[test]
fn reference_parses_what_we_print() {
    let mut n = 0;
    for path in air_files("aqua-corpus").into_iter().chain(air_files("ok")) {
        let source = std::fs::read_to_string(&path).expect("readable AIR");
        let parsed = air::check(&source);
        assert!(parsed.diagnostics.is_empty(), "{}", path.display());
        let printed = air::print(&parsed.script);
        assert_eq!(
            reference_accepts(&printed),
            Some(true),
            "the reference rejects our output for {}:\n{printed}",
            path.display()
        );
        n += 1;
    }
    assert!(n > 100);
}

#[test]
fn reference_rejects_what_we_reject_and_accepts_what_we_only_warn_about() {
    // Scripts on which the reference panics instead of answering.
    const REFERENCE_PANICS: &[&str] = &["unicode_columns.air"];
    for path in air_files("err") {
        let source = std::fs::read_to_string(&path).expect("readable AIR");
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let parsed = air::check(&source);
        assert!(!parsed.diagnostics.is_empty(), "{name}");
        // Warnings mark scripts that AquaVM accepts; errors, scripts that it rejects.
        let expected = !parsed.has_errors();
        match reference_accepts(&source) {
            Some(accepted) => assert_eq!(accepted, expected, "{name}: the reference disagrees"),
            None => assert!(
                REFERENCE_PANICS.contains(&name.as_str()),
                "{name}: the reference panics"
            ),
        }
    }
}
