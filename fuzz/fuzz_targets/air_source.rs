//! Any bytes as AIR source: parsing, validation, rendering and printing never panic; the
//! parser's fast path and general path agree; and a valid script survives `print` unchanged:
//! `parse(print(s)) == s`, and printing is idempotent.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let fast = air::parse(source);
    let general = air::parse_without_fast_path(source);
    assert_eq!(fast.diagnostics, general.diagnostics, "the parser's paths disagree");
    assert!(fast.script == general.script, "the parser's paths build different trees");
    let parsed = air::check(source);
    for diagnostic in parsed.diagnostics.iter().take(3) {
        let _ = diagnostic.render("fuzz.air", source, false);
    }
    let syntax_ok = parsed
        .diagnostics
        .iter()
        .all(|d| !d.code.is_syntax());
    if !syntax_ok {
        return;
    }
    let printed = air::print(&parsed.script);
    let reparsed = air::check(&printed);
    assert_eq!(
        parsed.diagnostics.len(),
        reparsed.diagnostics.len(),
        "printing changed the diagnostics:\n{printed}"
    );
    assert!(parsed.script == reparsed.script, "round trip changed the tree:\n{printed}");
    assert_eq!(printed, air::print(&reparsed.script), "printing is not idempotent");
});
