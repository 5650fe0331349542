//! Hostile input: whatever the bytes, the front end returns a result or a clear error, without
//! panicking, overflowing the stack or using memory out of proportion.

use std::thread;

mod support;

// Runs `f` on a thread with a small stack: anything that recursed per nesting level would
// overflow it.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("no panic and no stack overflow");
}

fn codes(source: &str) -> Vec<&'static str> {
    air::check(source)
        .diagnostics
        .iter()
        .map(|d| d.code.as_str())
        .collect()
}

#[test]
fn ten_megabytes_of_open_parens() {
    on_small_stack(|| {
        let source = "(".repeat(10 << 20);
        let parsed = air::check(&source);
        let codes: Vec<_> = parsed.diagnostics.iter().map(|d| d.code.as_str()).collect();
        assert_eq!(codes, ["E006", "E003"]);
        assert_eq!(parsed.diagnostics[0].primary.span.start, 0);
        let rendered = parsed.diagnostics[0].render("parens.air", &source, false);
        assert!(rendered.len() < 2000, "the excerpt is bounded:\n{rendered}");
    });
}

#[test]
fn deep_valid_nesting_parses_validates_prints_and_drops() {
    on_small_stack(|| {
        let depth = 200_000;
        let mut source = String::new();
        for _ in 0..depth {
            source.push_str("(seq (null) ");
        }
        source.push_str("(null)");
        source.push_str(&")".repeat(depth));
        let parsed = air::check(&source);
        assert!(parsed.diagnostics.is_empty());
        let stats = air::stats::stats(&parsed.script);
        assert_eq!(stats.max_depth, depth + 1);
        let printed = air::print(&parsed.script);
        let reparsed = air::parse(&printed);
        assert!(reparsed.diagnostics.is_empty());
        assert!(reparsed.script == parsed.script);
        // Indentation is capped (at 80 columns), so the output stays linear in the input:
        // here each 12-byte level becomes two lines of at most 80 + 6 bytes.
        assert!(printed.len() < source.len() * 15);
        drop(parsed);
        drop(reparsed);
    });
}

#[test]
fn deep_nesting_with_an_error_inside() {
    on_small_stack(|| {
        let depth = 100_000;
        let source = format!("{}(nul){}", "(seq (null) ".repeat(depth), ")".repeat(depth));
        assert_eq!(codes(&source), ["E005"]);
    });
}

#[test]
fn nul_bytes_and_control_characters() {
    assert_eq!(codes("(null)\0"), ["E012"]);
    assert_eq!(codes("(call \0 (\"s\" \"f\") [])"), ["E012"]);
    assert_eq!(codes("\0"), ["E012"]);
    assert!(codes("(null)\u{1}\u{7f}").contains(&"E012"));
    // A NUL inside a string literal is just a character.
    assert!(codes("(call %init_peer_id% (\"s\u{0}\" \"f\") [])").is_empty());
}

#[test]
fn unterminated_string_reports_once() {
    assert_eq!(
        codes("(seq (call %init_peer_id% (\"s\" \"f) [] x) (null))"),
        ["E001"]
    );
    assert_eq!(codes(&format!("(ap \"{}", "x".repeat(1 << 20))), ["E001"]);
}

#[test]
fn empty_and_whitespace_only() {
    assert_eq!(codes(""), ["E016"]);
    assert_eq!(codes(" \n\t ; comment\n"), ["E016"]);
}

#[test]
fn errors_are_capped() {
    let source = ")".repeat(10_000);
    let parsed = air::parse(&source);
    assert_eq!(parsed.diagnostics.len(), air::MAX_DIAGNOSTICS + 1);
    assert_eq!(
        parsed.diagnostics.last().map(|d| d.code),
        Some(air::ErrorCode::TooManyErrors)
    );
}

#[test]
fn errors_capped_inside_open_instructions_leave_a_usable_script() {
    // Parsing stops with 1,000 instructions still open, each holding parser state in its row.
    let source = format!("{}{}", "(seq ".repeat(1_000), "(ap) ".repeat(500));
    let parsed = air::parse(&source);
    assert_eq!(
        parsed.diagnostics.last().map(|d| d.code),
        Some(air::ErrorCode::TooManyErrors)
    );
    let script = &parsed.script;
    assert!(matches!(script.instr(script.root()), air::Instr::Error));
    air::validate(script);
    air::print(script);
}

#[test]
fn random_bytes_never_panic() {
    // A deterministic stream of random-ish inputs over AIR's own alphabet.
    let alphabet: Vec<char> = "()[]\"; .$#%:!-_0123456789abcxyz\n\té\0"
        .chars()
        .chain(
            [
                "call",
                "seq",
                "fold",
                "next",
                "new",
                "ap",
                "%init_peer_id%",
                ":error:",
            ]
            .iter()
            .flat_map(|s| s.chars()),
        )
        .collect();
    let mut state: u64 = 0x9e3779b97f4a7c15;
    for _ in 0..20_000 {
        let len = (state >> 58) as usize;
        let mut source = String::new();
        for _ in 0..len {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            source.push(alphabet[(state >> 33) as usize % alphabet.len()]);
        }
        support::assert_paths_agree(&source);
        let parsed = air::check(&source);
        for diagnostic in &parsed.diagnostics {
            let _ = diagnostic.render("random.air", &source, true);
        }
        if parsed.diagnostics.is_empty() {
            let printed = air::print(&parsed.script);
            assert!(air::parse(&printed).script == parsed.script, "{source:?}");
        }
    }
}

#[test]
fn large_script_memory_stays_proportional() {
    // 2^17 calls in a balanced seq tree, about 5 MB.
    fn tree(out: &mut String, from: usize, to: usize) {
        if to - from == 1 {
            out.push_str(&format!(
                "(call var{} (\"serv\" \"func\") [] var{})",
                from % 10,
                (from + 1) % 10
            ));
            return;
        }
        let mid = from + (to - from) / 2;
        out.push_str("(seq ");
        tree(out, from, mid);
        out.push(' ');
        tree(out, mid, to);
        out.push(')');
    }
    let mut source = String::new();
    tree(&mut source, 0, 1 << 17);
    let parsed = air::parse(&source);
    assert!(parsed.diagnostics.is_empty());
    let ratio = parsed.script.heap_size() as f64 / source.len() as f64;
    assert!(ratio < 2.0, "the tree takes {ratio:.2}x the source size");
}
