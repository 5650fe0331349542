//! `aquac run` as a program: compile, run on an embedded network, print.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

fn aquac(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aquac"))
        .args(args)
        .output()
        .unwrap()
}

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
        .display()
        .to_string()
}

fn file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("aquac-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The one JSON line of `--json`.
fn json_line(output: &Output) -> Value {
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    serde_json::from_str(stdout.trim()).unwrap()
}

#[test]
fn hello_prints_the_greeting() {
    let output = aquac(&["run", &example("hello.aqua"), "-f", r#"hello("world")"#]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "\"Hello, world\"\n"
    );
}

#[test]
fn json_output_names_the_peers_and_the_same_seed_gives_the_same_ids() {
    let run = |seed: &str| {
        let output = aquac(&[
            "run",
            &example("peers.aqua"),
            "-f",
            "identities(PEERS)",
            "--peers",
            "4",
            "--seed",
            seed,
            "--json",
        ]);
        assert!(output.status.success(), "{output:?}");
        json_line(&output)
    };
    let first = run("5");
    assert_eq!(first["error"], Value::Null);
    assert_eq!(first["result"].as_array().unwrap().len(), 4);
    assert_eq!(first["peers"].as_array().unwrap().len(), 4);
    assert!(first["client"].as_str().unwrap().starts_with("12D3KooW"));
    let again = run("5");
    assert_eq!(first["peers"], again["peers"]);
    assert_eq!(first["client"], again["client"]);
    assert_ne!(first["peers"], run("6")["peers"]);
}

#[test]
fn several_results_come_as_an_array_and_none_as_null() {
    let source = file(
        "results.aqua",
        "aqua Results\n\nexport two, none\n\nfunc two(a: i64, b: []string) -> i64, []string:\n    <- a, b\n\nfunc none():\n    x = 1\n",
    );
    let source = source.to_str().unwrap();
    let data = file("args.json", r#"{"names": ["a", "b"]}"#);
    let output = aquac(&[
        "run",
        source,
        "-f",
        "two(-3, names)",
        "--data",
        data.to_str().unwrap(),
        "--json",
    ]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(json_line(&output)["result"], json!([-3, ["a", "b"]]));
    let output = aquac(&["run", source, "-f", "none()", "--json"]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(json_line(&output)["result"], Value::Null);
}

#[test]
fn an_aqua_error_exits_with_1_and_says_where_it_happened() {
    let source = file(
        "fails.aqua",
        "aqua Fails\n\nexport fails\n\nservice Op2(\"op\"):\n    identity(a: i64, b: i64) -> i64\n\nfunc fails() -> i64:\n    on HOST_PEER_ID:\n        x <- Op2.identity(1, 2)\n    <- x\n",
    );
    let output = aquac(&["run", source.to_str().unwrap(), "-f", "fails()", "--json"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let line = json_line(&output);
    let relay = line["peers"][0].as_str().unwrap();
    let error = line["error"].as_str().unwrap();
    assert!(
        error.starts_with(&format!("op.identity on peer {relay}: ")),
        "{error}"
    );
    assert!(error.contains("at most 1 argument"), "{error}");
    assert_eq!(line["result"], Value::Null);
}

#[test]
fn a_timeout_names_the_peers_that_never_answered() {
    let lost = "12D3KooWGzNvhSDsgFoHwpWHAyPf1kcTYCGeRBPfznL8J6qdyu2H";
    let source = file(
        "lost.aqua",
        &format!("aqua Lost\n\nexport lost\n\nimport \"@fluencelabs/aqua-lib/builtin.aqua\"\n\nfunc lost() -> u64:\n    on \"{lost}\":\n        x <- Peer.timestamp_ms()\n    <- x\n"),
    );
    let output = aquac(&[
        "run",
        source.to_str().unwrap(),
        "-f",
        "lost()",
        "--timeout",
        "500",
    ]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "the particle timed out after 500 ms; peers that never answered: {lost}"
        )),
        "{stderr}"
    );
}

#[test]
fn bad_calls_and_arguments_are_explained() {
    let hello = example("hello.aqua");
    let cases: [(&[&str], &str); 4] = [
        (&["-f", "hello("], "does not end with `)`"),
        (
            &["-f", "hi(\"x\")"],
            "no exported function `hi`; exported: hello",
        ),
        (
            &["-f", "hello()"],
            "`hello` takes 1 argument (name), the call gives 0",
        ),
        (
            &["-f", "hello(who)"],
            "`who` is neither JSON nor a name from --data",
        ),
    ];
    for (args, expected) in cases {
        let mut all = vec!["run", hello.as_str()];
        all.extend_from_slice(args);
        let output = aquac(&all);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn verbose_prints_every_hop() {
    let output = aquac(&[
        "run",
        &example("peers.aqua"),
        "-f",
        "timestamps(PEERS)",
        "--peers",
        "2",
        "--verbose",
    ]);
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    for hop in [
        "hop: client -> peer0",
        "hop: peer0 -> peer1",
        "hop: peer1 -> peer0",
        "hop: peer0 -> client",
    ] {
        assert!(stderr.contains(hop), "{hop}: {stderr}");
    }
}

/// The ```` ```console ```` sessions of the book's "Getting started": each `$ aquac ...` line
/// runs from the repository's root with the built `aquac` on `PATH`, and prints the lines
/// that follow it in the book.
#[test]
fn the_getting_started_sessions_print_what_the_book_shows() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let chapter = std::fs::read_to_string(root.join("book/src/getting-started.md")).unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_aquac")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut sessions = 0;
    let mut in_console = false;
    let mut lines = chapter.lines().peekable();
    while let Some(line) = lines.next() {
        if line.starts_with("```") {
            in_console = !in_console && line == "```console";
            continue;
        }
        let Some(command) = line.strip_prefix("$ ").filter(|_| in_console) else {
            continue;
        };
        let mut expected = Vec::new();
        while let Some(next) = lines.peek() {
            if next.starts_with("$ ") || next.starts_with("```") {
                break;
            }
            expected.push(lines.next().unwrap());
        }
        let output = Command::new("sh")
            .args(["-c", &format!("{command} 2>&1")])
            .current_dir(&root)
            .env("PATH", &path)
            .output()
            .unwrap();
        let printed = String::from_utf8_lossy(&output.stdout);
        assert_eq!(printed.lines().collect::<Vec<_>>(), expected, "{command}");
        sessions += 1;
    }
    assert!(sessions >= 2, "the chapter has its sessions");
}
