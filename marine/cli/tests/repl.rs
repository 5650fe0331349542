//! `marine repl` driven through a pseudo-terminal, as a person would use it: on the real spell
//! service, commands typed, completed with Tab and recalled with the up arrow.

use std::path::Path;
use std::process::Command;

use rexpect::session::{spawn_with_options, Options, PtySession};

mod common;

use common::{marine_binary, spell_service, BY_SPELL};

/// A fresh prompt starts a new line; when the line editor redraws the line being typed (a
/// long one more than once) it only returns to its start.
const PROMPT: &str = "\n\r?marine> ";
const UP: &str = "\x1b[A";

/// Starts the shell on the service in `dir` with `home` as the home directory (where the
/// history is kept) and waits for its first prompt.
fn start(dir: &Path, home: &Path, cache: &Path) -> PtySession {
    let mut command = Command::new(marine_binary());
    command
        .current_dir(dir)
        .args(["repl", "Config.toml", "--cache-dir"])
        .arg(cache)
        .env("HOME", home)
        // A terminal that line editing supports, whatever the test runner has.
        .env("TERM", "xterm");
    // Loading compiles sqlite3, which takes a while in a debug build.
    let options = Options::new()
        .timeout_ms(Some(180_000))
        .strip_ansi_escape_codes(true);
    let mut shell = spawn_with_options(command, options).unwrap();
    shell
        .exp_string("Loaded modules sqlite3, spell (the last is the facade).")
        .unwrap();
    shell.exp_regex(PROMPT).unwrap();
    shell
}

/// Types `line`, then returns what the shell printed before its next prompt.
fn enter(shell: &mut PtySession, line: &str) -> String {
    shell.send_line(line).unwrap();
    shell.exp_regex(PROMPT).unwrap().0
}

#[test]
fn a_session_calls_completes_recalls_and_survives_errors() {
    let dir = spell_service();
    let home = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let mut shell = start(dir.path(), home.path(), cache.path());

    let out = enter(
        &mut shell,
        &format!(r#"call set_string ["counter", "1"] {BY_SPELL}"#),
    );
    assert!(out.contains(r#""success": true"#), "{out}");
    let out = enter(&mut shell, r#"call get_string ["counter"]"#);
    assert!(out.contains(r#""value": "1""#), "{out}");
    assert!(out.contains("(took "), "{out}");

    // Writing without the spell's own call parameters is refused by the spell itself.
    let out = enter(&mut shell, r#"c set_string ["counter", "2"]"#);
    assert!(out.contains(r#""success": false"#), "{out}");

    // Errors are reported and the shell goes on.
    let out = enter(&mut shell, r#"call get_string ["counter""#);
    assert!(out.contains("error: the arguments are not JSON"), "{out}");
    let out = enter(&mut shell, "call get_strin []");
    assert!(
        out.contains("error: the service has no function `get_strin`"),
        "{out}"
    );
    let out = enter(&mut shell, "call get_string [42]");
    assert!(
        out.contains("expected a string, got the number 42"),
        "{out}"
    );
    let out = enter(&mut shell, "frobnicate");
    assert!(out.contains("error: unknown command `frobnicate`"), "{out}");

    // Tab completes the only function starting with `get_st`; the call then reads the value.
    shell.send("call get_st\t").unwrap();
    let out = enter(&mut shell, r#" ["counter"]"#);
    assert!(out.contains(r#""value": "1""#), "{out}");

    // The interface of both modules, and the memory they hold.
    let out = enter(&mut shell, "interface");
    assert!(out.contains("Module `sqlite3`"), "{out}");
    assert!(out.contains("Module `spell` (facade)"), "{out}");
    assert!(
        out.contains("get_string(key: string) -> StringValue"),
        "{out}"
    );
    let out = enter(&mut shell, "m");
    let bytes: u64 = out
        .lines()
        .find_map(|line| line.split(" bytes").next()?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        bytes >= 2 << 16,
        "two modules hold at least a page each: {out}"
    );
    assert!(out.contains("(no limit)"), "{out}");

    // Ctrl-C drops the half-typed line; the up arrow brings back the last command.
    shell.send("call set_str").unwrap();
    shell.send_control('c').unwrap();
    let dropped = shell.exp_regex(PROMPT).unwrap().0;
    assert!(dropped.contains("call set_str"), "{dropped}");
    shell.send(UP).unwrap();
    let out = enter(&mut shell, "");
    assert!(out.contains("(no limit)"), "{out}");

    let out = enter(&mut shell, "help");
    assert!(
        out.contains("call FUNCTION [ARGUMENTS] [CALL_PARAMETERS]"),
        "{out}"
    );
    shell.send_line("quit").unwrap();
    shell.exp_eof().unwrap();

    // The history outlives the session: the first up arrow in a new one gives `quit`.
    let history = std::fs::read_to_string(home.path().join(".marine_repl_history")).unwrap();
    assert!(history.contains("call get_string [42]\n"), "{history}");
    assert!(history.ends_with("quit\n"), "{history}");
    let mut shell = start(dir.path(), home.path(), cache.path());
    shell.send(UP).unwrap();
    shell.send_line("").unwrap();
    shell.exp_eof().unwrap();
}

#[test]
fn a_broken_config_is_an_error_before_the_shell_starts() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Config.toml"),
        "[[module]]\nname = \"absent\"\n",
    )
    .unwrap();
    let output = Command::new(marine_binary())
        .current_dir(dir.path())
        .args(["repl", "Config.toml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let message = String::from_utf8(output.stderr).unwrap();
    assert!(
        message.starts_with("error: ") && message.contains("absent"),
        "{message}"
    );
}
