//! Any bytes as Aqua source: decoding, parsing and rendering diagnostics never panic, every
//! diagnostic's span lies inside the text, and a file without errors formats to text that
//! parses to the same tree, formats to itself, and keeps every comment.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (source, _) = aqua::syntax::decode(data.to_vec());
    let parsed = aqua::syntax::parse(&source);
    for diagnostic in &parsed.diagnostics {
        assert!(diagnostic.span.end <= source.len(), "span out of the text: {diagnostic:?}");
    }
    for diagnostic in parsed.diagnostics.iter().take(3) {
        let _ = aqua::diagnostic::render(diagnostic, "fuzz.aqua".as_ref(), &source, false);
    }
    let Ok(formatted) = aqua::format::format(&source) else {
        return;
    };
    let reparsed = aqua::syntax::parse(&formatted);
    assert!(
        reparsed.diagnostics.iter().all(|d| d.severity() != aqua::Severity::Error),
        "formatted text has errors:\n{formatted}\n{:?}",
        reparsed.diagnostics
    );
    assert_eq!(
        aqua::format::format(&formatted).as_deref(),
        Ok(formatted.as_str()),
        "formatting is not idempotent"
    );
    assert_eq!(
        parsed.comments.len(),
        reparsed.comments.len(),
        "formatting lost comments:\n{formatted}"
    );
});
