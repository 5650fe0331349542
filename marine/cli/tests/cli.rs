//! The `marine` binary on the real modules of the Fluence distro crates (spell, sqlite3,
//! registry, trust-graph, aqua-ipfs), and on files that are not Marine modules. Expected texts are in `tests/data/`; `UPDATE_EXPECT=1`
//! rewrites them.

use std::path::Path;
use std::process::{Command, Output};

use aqua::compile::{compile, Options};
use aqua::project::MemoryFiles;
use serde_json::Value;

mod common;

#[path = "../../../tools/test-support/snapshot.rs"]
mod snapshot;

use common::{marine_binary, spell_service};
use snapshot::expect;

/// Runs `marine` in `dir`.
fn marine(dir: &Path, args: &[&str]) -> Output {
    Command::new(marine_binary())
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

/// The real modules that carry the SDK's item descriptions, from every distro crate.
fn sdk_modules() -> Vec<(&'static str, &'static [u8])> {
    vec![
        ("spell.wasm", fluence_spell_distro::SPELL_WASM),
        ("registry.wasm", registry_distro::REGISTRY_WASM),
        ("trust-graph.wasm", trust_graph_distro::TRUST_GRAPH_WASM),
        ("ipfs_pure.wasm", aqua_ipfs_distro::IPFS_FACADE),
        ("ipfs_effector.wasm", aqua_ipfs_distro::IPFS_EFFECTOR),
    ]
}

/// `module` without its custom sections named `name`, every other section as it was.
fn without_section(module: &[u8], name: &str) -> Vec<u8> {
    let mut out = wasm_encoder::Module::new();
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        let payload = payload.unwrap();
        if matches!(&payload, wasmparser::Payload::CustomSection(s) if s.name() == name) {
            continue;
        }
        if let Some((id, range)) = payload.as_section() {
            out.section(&wasm_encoder::RawSection {
                id,
                data: &module[range],
            });
        }
    }
    out.finish()
}

#[test]
fn embed_it_regenerates_the_sections_of_real_modules_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    for (name, original) in sdk_modules() {
        let stripped = without_section(original, marine_it::SECTION_NAME);
        assert!(stripped.len() < original.len(), "{name}");
        std::fs::write(dir.path().join(name), &stripped).unwrap();
        let out = format!("out-{name}");
        // The distro modules were built when the generator wrote IT version 0.27.0.
        let args = ["embed-it", name, "-o", &out, "--it-version", "0.27.0"];
        assert_eq!(stdout(&marine(dir.path(), &args)), "");
        let embedded = std::fs::read(dir.path().join(&out)).unwrap();
        assert!(embedded == original, "{name} differs after embed-it");
    }
}

#[test]
fn embed_it_replaces_a_section_in_place_with_the_current_it_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spell.wasm");
    std::fs::write(&path, fluence_spell_distro::SPELL_WASM).unwrap();
    stdout(&marine(dir.path(), &["embed-it", "spell.wasm"]));
    let text = stdout(&marine(dir.path(), &["it", "spell.wasm"]));
    assert!(
        text.starts_with("(@interface it_version \"0.28.0\")"),
        "{text}"
    );
    let original = marine::describe(fluence_spell_distro::SPELL_WASM).unwrap();
    let embedded = marine::describe(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(embedded.sdk_version, original.sdk_version);
    assert_eq!(embedded.interface.functions, original.interface.functions);
    assert_eq!(embedded.interface.records, original.interface.records);
    assert_eq!(embedded.interfaces.adapters, original.interfaces.adapters);
}

#[test]
fn embed_it_states_the_sdk_version_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let stripped = without_section(
        fluence_spell_distro::SPELL_WASM,
        marine_it::SDK_VERSION_SECTION_NAME,
    );
    std::fs::write(dir.path().join("spell.wasm"), stripped).unwrap();
    let message = failure(&marine(dir.path(), &["embed-it", "spell.wasm"]), 1);
    assert!(
        message.contains(
            "has no `__fluence_sdk_version` section; give the SDK version with --sdk-version"
        ),
        "{message}"
    );
    let message = failure(
        &marine(
            dir.path(),
            &["embed-it", "spell.wasm", "--sdk-version", "new"],
        ),
        1,
    );
    assert!(
        message.contains("the SDK version `new` is not a version like 1.2.3"),
        "{message}"
    );
    let args = ["embed-it", "spell.wasm", "--sdk-version", "0.15.0"];
    stdout(&marine(dir.path(), &args));
    let info = stdout(&marine(dir.path(), &["info", "spell.wasm"]));
    assert!(info.contains("SDK version: 0.15.0\n"), "{info}");
}

#[test]
fn embed_it_needs_the_sdk_descriptions() {
    let dir = spell_service();
    // sqlite3 is written in C: its section was written by hand, not generated.
    let message = failure(&marine(dir.path(), &["embed-it", "sqlite3.wasm"]), 1);
    assert_eq!(
        message,
        "error: sqlite3.wasm: it has no `__m_generated_section__*` sections: it was not built with the Marine Rust SDK\n"
    );
    std::fs::write(dir.path().join("notes.wasm"), "not wasm").unwrap();
    let message = failure(&marine(dir.path(), &["embed-it", "notes.wasm"]), 1);
    assert!(
        message.starts_with("error: notes.wasm: not a valid Wasm module"),
        "{message}"
    );
    let message = failure(&marine(dir.path(), &["embed-it", "missing.wasm"]), 1);
    assert!(
        message.starts_with("error: missing.wasm: cannot read it"),
        "{message}"
    );
    // A description the generator cannot use names its section.
    let broken = wat::parse_str(
        r#"(module (@custom "__m_generated_section__f" "{\"ast_type\":\"Function\"}"))"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("broken.wasm"), broken).unwrap();
    let message = failure(&marine(dir.path(), &["embed-it", "broken.wasm"]), 1);
    assert!(
        message.starts_with(
            "error: broken.wasm: section `__m_generated_section__f` is not an SDK item description"
        ),
        "{message}"
    );
    // Nothing was written over the input.
    assert_eq!(
        std::fs::read(dir.path().join("sqlite3.wasm")).unwrap(),
        fluence_spell_distro::SQLITE_WASM
    );
}
