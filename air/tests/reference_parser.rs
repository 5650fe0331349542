//! Compatibility with the reference parser (`aquavm-air-parser` 0.12, a dev-dependency): the
//! reference accepts every script this crate prints, and agrees with this crate on which of the
//! test scripts are valid.
//!
//! The reference panics on a lens with a non-ASCII field name (its lens lexer slices inside a
//! character); this crate accepts such names, as the reference's own name rules say it should.

use std::path::{Path, PathBuf};

// Whether the reference parser accepts `source`; `None` when it panics.
fn reference_accepts(source: &str) -> Option<bool> {
    // Keep the expected panic's message out of the test output; other panics print as usual.
    static QUIET_REFERENCE_PANICS: std::sync::Once = std::sync::Once::new();
    QUIET_REFERENCE_PANICS.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_reference = info
                .location()
                .is_some_and(|location| location.file().contains("air-lambda-parser"));
            if !in_reference {
                default(info);
            }
        }));
    });
    let source = source.to_string();
    std::panic::catch_unwind(move || air_parser::parse(&source).is_ok()).ok()
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
        if let Err(error) = air_parser::parse(&printed) {
            panic!(
                "the reference rejects our output for {}:\n{error}\n{printed}",
                path.display()
            );
        }
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
