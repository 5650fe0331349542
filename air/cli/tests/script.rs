//! `air check`, `air fmt` and `air stats` as a user runs them, and the help of every command.

mod support;

use std::path::Path;

use support::{air, text, TempDir};

const VALID: &str = "(seq (call %init_peer_id% (\"op\" \"noop\") [] x) (null))";
const FORMATTED: &str = "(seq\n  (call %init_peer_id% (\"op\" \"noop\") [] x)\n  (null))\n";

#[test]
fn check_accepts_valid_and_rejects_invalid_files() {
    let dir = TempDir::new("check");
    let good = dir.file("good.air", VALID.as_bytes());
    let bad = dir.file("bad.air", b"(seq\n  (nul)\n  (null))");
    let output = air(&["check", &good], None);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(output.stderr.is_empty());

    let output = air(&["check", "--color", "never", &good, &bad], None);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("[E005] Error: unknown instruction `nul`"),
        "{stderr}"
    );
    assert!(stderr.contains("bad.air:2:4"), "{stderr}");
    assert!(stderr.contains("did you mean `null`?"), "{stderr}");
    assert!(stderr.contains("bad.air: 1 error"), "{stderr}");
    assert!(!stderr.contains("\u{1b}["), "no colors with --color never");
}

#[test]
fn check_reads_stdin_and_reports_io_errors() {
    let output = air(&["check", "-"], Some(VALID.as_bytes()));
    assert!(output.status.success());
    let output = air(&["check", "--color", "never", "-"], Some(b"(seq (null))"));
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("<stdin>:1:12"));
    let output = air(&["check", "/nonexistent/script.air"], None);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("cannot read /nonexistent/script.air"));
}

#[test]
fn check_rejects_invalid_utf8_with_its_position() {
    let output = air(&["check", "--color", "never", "-"], Some(b"(null)\n  \xff"));
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("[E019]"), "{stderr}");
    assert!(stderr.contains("<stdin>:2:3"), "{stderr}");
}

#[test]
fn warnings_are_reported_but_do_not_fail() {
    let script = b"(seq (ap 1 $s) (canon relay $s #s))";
    let output = air(&["check", "--color", "never", "-"], Some(script));
    assert!(output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("[W101] Warning"), "{stderr}");
    assert!(stderr.contains("<stdin>: 1 warning"), "{stderr}");
    let output = air(&["fmt", "-"], Some(script));
    assert!(output.status.success());
    assert!(text(&output.stdout).starts_with("(seq\n"));
}

#[test]
fn colors_on_request() {
    let output = air(&["check", "--color", "always", "-"], Some(b"(nul)"));
    assert!(text(&output.stderr).contains("\u{1b}["));
}

#[test]
fn fmt_rewrites_in_place_and_check_mode_reports() {
    let dir = TempDir::new("fmt");
    let path = dir.file("script.air", VALID.as_bytes());
    let output = air(&["fmt", "--check", &path], None);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("not formatted"));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        VALID,
        "--check writes nothing"
    );

    let output = air(&["fmt", &path], None);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), FORMATTED);
    let output = air(&["fmt", "--check", &path], None);
    assert!(output.status.success());
    assert!(!Path::new(&format!("{path}.fmt-tmp")).exists());
}

#[test]
fn fmt_leaves_broken_files_alone() {
    let dir = TempDir::new("fmt-broken");
    let broken = "(seq (null)";
    let path = dir.file("broken.air", broken.as_bytes());
    let output = air(&["fmt", "--color", "never", &path], None);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("[E003]"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), broken);
}

#[test]
fn fmt_stdin_to_stdout_keeps_comments() {
    let output = air(
        &["fmt", "-"],
        Some(b"; the whole script\n(seq (null) ; first\n (never))"),
    );
    assert!(output.status.success());
    assert_eq!(
        text(&output.stdout),
        "; the whole script\n(seq\n  (null)\n  ; first\n  (never))\n"
    );
}

#[test]
fn stats_reports_figures() {
    let output = air(&["stats", "-"], Some(VALID.as_bytes()));
    assert!(output.status.success());
    let stdout = text(&output.stdout);
    assert!(stdout.contains("instructions: 3"), "{stdout}");
    assert!(stdout.contains("max depth: 2"), "{stdout}");
    assert!(stdout.contains("op.noop"), "{stdout}");
}

#[test]
fn opt_prints_a_smaller_script_and_refuses_invalid_ones() {
    let script = br#"(xor
        (seq (new $h (new #c (canon "relay" $h #c))) (call "relay" ("peer" "identify") [] info))
        (fail :error:))"#;
    let output = air(&["opt", "-"], Some(script));
    assert!(output.status.success());
    assert_eq!(
        text(&output.stdout),
        "(call \"relay\" (\"peer\" \"identify\") [] info)\n"
    );
    let output = air(&["opt", "--color", "never", "-"], Some(b"(next i)"));
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stdout).is_empty());
    assert!(text(&output.stderr).contains("error"));
}

#[test]
fn help_everywhere() {
    for args in [
        &["--help"][..],
        &["check", "--help"],
        &["fmt", "--help"],
        &["stats", "--help"],
        &["opt", "--help"],
        &["run", "--help"],
        &["keygen", "--help"],
        &["data", "--help"],
        &["data", "show", "--help"],
    ] {
        let output = air(args, None);
        assert!(output.status.success(), "{args:?}");
        assert!(text(&output.stdout).contains("Usage"), "{args:?}");
    }
    let output = air(&[], None);
    assert_eq!(output.status.code(), Some(2));
}
