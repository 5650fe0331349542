//! `aquac build` and `aquac check` run as a program.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn aquac(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aquac"))
        .args(args)
        .output()
        .unwrap()
}

fn project(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("aquac-build-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

const GREETER: &str = r#"aqua Greeter declares *

export greet

import "@fluencelabs/aqua-lib/builtin.aqua"

const GREETING ?= "hello"

service Greet("greet"):
    hi(s: string) -> string

func greet(name: string, peer: string) -> string, string:
    on peer:
        info <- Peer.identify()
        r <- Greet.hi(name)
    <- r, GREETING
"#;

fn text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn build_writes_one_valid_air_file_per_exported_function() {
    let dir = project("ok", &[("src/greeter.aqua", GREETER)]);
    let out = dir.join("out");
    let output = aquac(&[
        "build",
        dir.join("src/greeter.aqua").to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--const",
        "GREETING=\"hey\"",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let air = text(&out.join("greeter.greet.air"));
    let parsed = air::check(&air);
    assert!(parsed.diagnostics.is_empty(), "{air}");
    assert!(air.contains(r#"("greet" "hi")"#), "{air}");
    assert!(air.contains(r#"("peer" "identify")"#), "{air}");
    assert!(
        air.contains(r#""hey""#),
        "the constant is overridden:\n{air}"
    );
    assert!(air.contains("-relay-"), "{air}");

    // The interface for clients: the function's parameters in order, its results.
    let json: serde_json::Value = serde_json::from_str(&text(&out.join("greeter.json"))).unwrap();
    let greet = &json["functions"]["greet"];
    assert_eq!(greet["functionName"], "greet");
    let params = greet["arrow"]["domain"]["fields"].as_object().unwrap();
    assert_eq!(params.len(), 2);
    assert_eq!(params["name"]["name"], "string");
    assert_eq!(greet["arrow"]["codomain"]["items"][1]["name"], "string");
    assert_eq!(json["services"], serde_json::json!({}));

    let no_relay = aquac(&[
        "build",
        dir.join("src/greeter.aqua").to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--no-relay",
    ]);
    assert!(no_relay.status.success());
    assert!(!text(&out.join("greeter.greet.air")).contains("-relay-"));

    let tracing = aquac(&[
        "build",
        dir.join("src/greeter.aqua").to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--tracing",
    ]);
    assert!(tracing.status.success());
    let traced = text(&out.join("greeter.greet.air"));
    assert!(air::check(&traced).diagnostics.is_empty(), "{traced}");
    for event in [
        r#"["greet" "enter"]"#,
        r#"["Greet.hi" "exit"]"#,
        r#"["Peer.identify" "enter"]"#,
    ] {
        assert!(traced.contains(event), "{event} in\n{traced}");
    }
}

#[test]
fn check_reports_type_errors_with_location_and_exit_code() {
    let source = "aqua M\n\nfunc f(x: u32) -> string:\n    <- x\n";
    let dir = project("bad", &[("m.aqua", source)]);
    let file = dir.join("m.aqua");
    let output = aquac(&["check", file.to_str().unwrap(), "--color", "never"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("E0303"), "{stderr}");
    assert!(stderr.contains("expected string, found u32"), "{stderr}");
    assert!(stderr.contains("m.aqua:4:8"), "{stderr}");

    let json = aquac(&["check", file.to_str().unwrap(), "--message-format", "json"]);
    assert_eq!(json.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&json.stdout);
    let line = stdout.lines().next().expect("one diagnostic");
    let value: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(value["code"], "E0303");
    assert_eq!(value["line"], 4);
    assert_eq!(value["column"], 8);
    assert_eq!(value["severity"], "error");
}

#[test]
fn check_passes_a_clean_file_and_rejects_bad_constants() {
    let dir = project("clean", &[("g.aqua", GREETER)]);
    let file = dir.join("g.aqua");
    let output = aquac(&["check", file.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let bad = aquac(&["check", file.to_str().unwrap(), "--const", "GREETING"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not `NAME=VALUE`"));
}

#[test]
fn a_file_that_exports_nothing_is_pointed_out() {
    let dir = project(
        "no-exports",
        &[
            ("plain.aqua", "func f() -> string:\n  <- \"x\"\n"),
            (
                "library.aqua",
                "aqua Library\n\nfunc f() -> string:\n  <- \"x\"\n",
            ),
        ],
    );
    let out = dir.join("out");
    let build = |file: &str| {
        aquac(&[
            "build",
            dir.join(file).to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
    };
    // No header: the compiler's warning, once, with the header to write.
    let output = build("plain.aqua");
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.matches("W0102").count(), 1, "{stderr}");
    assert!(stderr.contains("no `aqua` header"), "{stderr}");
    assert!(!stderr.contains("so nothing is written"), "{stderr}");
    // A header but no `export` line.
    let output = build("library.aqua");
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("library.aqua: exports nothing, so nothing is written"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}
