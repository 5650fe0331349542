//! The `marine` binary on the real spell and sqlite3 modules of `fluence-spell-distro`, and on
//! files that are not Marine modules. Expected texts are in `tests/data/`; `UPDATE_EXPECT=1`
//! rewrites them.

use std::path::Path;
use std::process::{Command, Output};

use aqua::compile::{compile, Options};
use aqua::project::MemoryFiles;
use serde_json::Value;

/// A directory holding the spell service: its modules and its config.
fn spell_service() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        ("spell.wasm", fluence_spell_distro::SPELL_WASM),
        ("sqlite3.wasm", fluence_spell_distro::SQLITE_WASM),
        ("Config.toml", fluence_spell_distro::CONFIG),
    ];
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    dir
}

/// Runs `marine` in `dir`.
fn marine(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_marine"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "marine failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// The error message of a run that must fail with exit code `code`.
fn failure(output: &Output, code: i32) -> String {
    assert_eq!(output.status.code(), Some(code), "{output:?}");
    assert!(output.stdout.is_empty(), "{output:?}");
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn expect(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        expected == actual,
        "{name} differs (UPDATE_EXPECT=1 rewrites it):\n{actual}"
    );
}

#[test]
fn info_describes_the_real_modules() {
    let dir = spell_service();
    expect(
        "spell.info.txt",
        &stdout(&marine(dir.path(), &["info", "spell.wasm"])),
    );
    expect(
        "sqlite3.info.txt",
        &stdout(&marine(dir.path(), &["info", "sqlite3.wasm"])),
    );
}

#[test]
fn it_prints_the_section_as_text() {
    let dir = spell_service();
    let text = stdout(&marine(dir.path(), &["it", "sqlite3.wasm"]));
    assert!(text.starts_with("(@interface it_version \"0."), "{text}");
    expect("sqlite3.it.txt", &text);
}

#[test]
fn aqua_declares_the_spell_and_our_compiler_accepts_it() {
    let dir = spell_service();
    let spell = stdout(&marine(dir.path(), &["aqua", "spell.wasm"]));
    expect("spell.aqua", &spell);

    let named = stdout(&marine(
        dir.path(),
        &["aqua", "sqlite3.wasm", "-s", "Db", "-i", "db-1"],
    ));
    assert!(named.starts_with("aqua Db declares *\n"), "{named}");
    assert!(named.contains("\nservice Db(\"db-1\"):\n"), "{named}");

    // Both declarations, used from a function, compile without errors.
    let main = r#"
aqua Main
export main

import Spell from "spell.aqua"

func main(key: string) -> bool:
    Spell "spell-1"
    value <- Spell.get_string(key)
    <- value.absent
"#;
    let files: MemoryFiles = [
        ("main.aqua", main),
        ("spell.aqua", spell.as_str()),
        ("db.aqua", named.as_str()),
    ]
    .into_iter()
    .collect();
    for root in ["main.aqua", "db.aqua"] {
        let compilation = compile(&[root.into()], &files, &Options::default());
        assert!(
            !compilation.has_errors(),
            "{root}: {:?}",
            compilation.diagnostics()
        );
    }
}

#[test]
fn aqua_rejects_names_aqua_cannot_use() {
    let dir = spell_service();
    let message = failure(
        &marine(dir.path(), &["aqua", "spell.wasm", "-s", "spell"]),
        1,
    );
    assert!(
        message.contains("`spell` cannot name an Aqua service"),
        "{message}"
    );
    let message = failure(
        &marine(dir.path(), &["aqua", "spell.wasm", "-i", "a\"b"]),
        1,
    );
    assert!(message.contains("cannot be written in Aqua"), "{message}");
}

#[test]
fn files_that_are_not_marine_modules_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.wasm"), "not wasm at all").unwrap();
    let plain = wat::parse_str(r#"(module (func (export "f") (result i32) (i32.const 1)))"#);
    std::fs::write(dir.path().join("plain.wasm"), plain.unwrap()).unwrap();

    for command in ["info", "it", "aqua"] {
        let message = failure(&marine(dir.path(), &[command, "notes.wasm"]), 1);
        assert!(
            message.starts_with("error: notes.wasm: not a valid Wasm module"),
            "{message}"
        );
        let message = failure(&marine(dir.path(), &[command, "plain.wasm"]), 1);
        assert!(
            message.starts_with("error: plain.wasm: it has no `interface-types` section"),
            "{message}"
        );
        let message = failure(&marine(dir.path(), &[command, "missing.wasm"]), 1);
        assert!(
            message.starts_with("error: missing.wasm: cannot read it"),
            "{message}"
        );
    }
}

#[test]
fn usage_errors_exit_with_2() {
    let dir = tempfile::tempdir().unwrap();
    failure(&marine(dir.path(), &["info"]), 2);
    failure(&marine(dir.path(), &["frobnicate", "x.wasm"]), 2);
    failure(&marine(dir.path(), &["call", "Config.toml", "f"]), 2);
}

#[test]
fn call_runs_a_facade_function() {
    let dir = spell_service();
    let cache = tempfile::tempdir().unwrap();
    let cache = cache.path().to_str().unwrap();
    let call = |args: &[&str]| {
        let mut all = vec!["call", "Config.toml"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--cache-dir", cache]);
        marine(dir.path(), &all)
    };

    let out = stdout(&call(&["get_string", r#"["nothing"]"#]));
    assert_eq!(out.lines().count(), 1, "{out}");
    let result: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(result["absent"], true, "{result}");
    assert_eq!(result["success"], true, "{result}");

    // Arguments by name, and call parameters with only some fields.
    let parameters = r#"{"particle": {"id": "p1"}, "service_id": "spell-1"}"#;
    let out = stdout(&call(&[
        "get_string",
        r#"{"key": "nothing"}"#,
        "--call-parameters",
        parameters,
    ]));
    let result: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(result["absent"], true, "{result}");

    let message = failure(&call(&["get_string", "[42]"]), 1);
    assert!(
        message.contains("`get_string`")
            && message.contains("expected a string, got the number 42"),
        "{message}"
    );
    let message = failure(&call(&["no_such_function", "[]"]), 1);
    assert!(
        message.contains("has no function `no_such_function`"),
        "{message}"
    );
    let message = failure(&call(&["get_string", "[nothing"]), 1);
    assert!(message.contains("the arguments are not JSON"), "{message}");
    let message = failure(&call(&["get_string", "[]", "--call-parameters", "[1]"]), 1);
    assert!(message.contains("--call-parameters"), "{message}");
}

#[test]
fn call_reports_a_broken_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Config.toml"),
        "[[module]]\nname = \"absent\"\n",
    )
    .unwrap();
    let message = failure(&marine(dir.path(), &["call", "Config.toml", "f", "[]"]), 1);
    assert!(message.starts_with("error: "), "{message}");
    assert!(message.contains("absent"), "{message}");
}
