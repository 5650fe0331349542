//! AIR produced by the reference Aqua compiler (`@fluencelabs/aqua-api` 0.14) for the Aqua
//! programs in `tools/aqua-corpus`: all of it parses, validates, and round-trips through the
//! formatter.

use std::path::Path;

mod support;

#[test]
fn reference_compiler_output_checks_and_round_trips() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/aqua-corpus");
    let mut n_files = 0;
    for entry in std::fs::read_dir(&dir).expect("the corpus directory") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_none_or(|ext| ext != "air") {
            continue;
        }
        n_files += 1;
        let source = std::fs::read_to_string(&path).expect("readable AIR");
        support::assert_paths_agree(&source);
        let parsed = air::check(&source);
        let name = path.display().to_string();
        let rendered: String = parsed
            .diagnostics
            .iter()
            .map(|d| d.render(&name, &source, false))
            .collect();
        assert!(parsed.diagnostics.is_empty(), "{rendered}");

        let formatted = air::print(&parsed.script);
        let reparsed = air::check(&formatted);
        assert!(
            reparsed.diagnostics.is_empty(),
            "{name} formatted:\n{formatted}"
        );
        assert!(
            parsed.script == reparsed.script,
            "{name}: formatting changed the tree"
        );
        assert_eq!(
            formatted,
            air::print(&reparsed.script),
            "{name}: formatting is not idempotent"
        );
    }
    // 47 programs compile to 111 scripts (including no-xor and no-relay variants).
    assert!(n_files >= 100, "only {n_files} corpus files");
}
