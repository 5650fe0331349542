//! `air keygen` and `air run`: a particle driven step by step through the command, as a tool
//! would, and the errors a user gets for bad input.

mod support;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::{json, Value};
use support::{air, text, TempDir};

const TIMESTAMP: &str = "1700000000000";

struct Peer {
    id: String,
    secret_key: String,
}

/// A new peer from `air keygen`, checking the shape of its output.
fn keygen() -> Peer {
    let output = air(&["keygen"], None);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert_eq!(stdout.lines().count(), 1, "one line: {stdout}");
    assert!(stdout.starts_with(r#"{"secret_key":""#), "{stdout}");
    let line: Value = serde_json::from_str(&stdout).expect("keygen prints JSON");
    let fields: Vec<&String> = line.as_object().expect("an object").keys().collect();
    assert_eq!(fields, ["peer_id", "secret_key"]);
    let secret_key = line["secret_key"].as_str().expect("a string").to_owned();
    let secret = BASE64.decode(&secret_key).expect("base64");
    let keypair = vm::data::KeyPair::from_secret_key(&secret, 0).expect("an Ed25519 key");
    assert_eq!(line["peer_id"], **keypair.peer_id());
    Peer {
        id: line["peer_id"].as_str().expect("a string").to_owned(),
        secret_key,
    }
}

/// One particle: its script and its initiator, with files in `dir`.
struct Particle<'a> {
    dir: &'a TempDir,
    script: String,
    init: &'a Peer,
}

/// The inputs of one step besides the peer; data files are named within the particle's dir.
#[derive(Default)]
struct Step<'a> {
    prev: Option<&'a str>,
    current: Option<&'a str>,
    call_results: Option<Value>,
}

impl Particle<'_> {
    fn args(&self, peer: &Peer, step: &Step<'_>, out: &str) -> Vec<String> {
        let mut args: Vec<String> = [
            "run",
            "--script",
            &self.script,
            "--init-peer-id",
            &self.init.id,
            "--current-peer-id",
            &peer.id,
            "--secret-key",
            &peer.secret_key,
            "--timestamp",
            TIMESTAMP,
            "--out-data",
            &self.dir.path(out),
        ]
        .map(String::from)
        .to_vec();
        if let Some(prev) = step.prev {
            args.extend(["--prev-data".into(), self.dir.path(prev)]);
        }
        if let Some(current) = step.current {
            args.extend(["--current-data".into(), self.dir.path(current)]);
        }
        if let Some(results) = &step.call_results {
            let file = self.dir.file(
                &format!("{out}.results.json"),
                results.to_string().as_bytes(),
            );
            args.extend(["--call-results".into(), file]);
        }
        args
    }

    /// Runs a step that must succeed as a command; returns the printed outcome.
    fn run(&self, peer: &Peer, step: Step<'_>, out: &str) -> Value {
        let args = self.args(peer, &step, out);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = air(&args, None);
        assert!(output.status.success(), "{}", text(&output.stderr));
        assert!(output.stderr.is_empty(), "{}", text(&output.stderr));
        let stdout = text(&output.stdout);
        assert_eq!(stdout.lines().count(), 1, "one line: {stdout}");
        let outcome: Value = serde_json::from_str(&stdout).expect("run prints JSON");
        let fields: Vec<&String> = outcome.as_object().expect("an object").keys().collect();
        assert_eq!(
            fields,
            [
                "call_requests",
                "error_message",
                "next_peer_pks",
                "ret_code"
            ]
        );
        outcome
    }
}

/// A call request as `air run` prints it; `from` names the producer of each argument.
fn request(service: &str, function: &str, arguments: Value, from: Value) -> Value {
    let tetraplets: Vec<Value> = from
        .as_array()
        .expect("one producer per argument")
        .iter()
        .map(|producer| {
            let [service_id, function_name] = ["service", "function"].map(|key| &producer[key]);
            json!([{
                "peer_pk": &producer["peer"],
                "service_id": service_id,
                "function_name": function_name,
                "lens": "",
            }])
        })
        .collect();
    json!({
        "service_id": service,
        "function_name": function,
        "arguments": arguments,
        "tetraplets": tetraplets,
    })
}

fn ok(result: Value) -> Value {
    json!({"ret_code": 0, "result": result})
}

#[test]
fn two_peers_step_by_step() {
    let dir = TempDir::new("run-two-peers");
    let (a, b) = (keygen(), keygen());
    assert_ne!(a.id, b.id);
    let script = format!(
        r#"(seq
             (call %init_peer_id% ("svc" "get") [] x)
             (seq
               (call "{b}" ("svc" "put") [x] y)
               (call %init_peer_id% ("svc" "done") [y] z)))"#,
        b = b.id
    );
    let particle = Particle {
        dir: &dir,
        script: dir.file("script.air", script.as_bytes()),
        init: &a,
    };
    let from = |peer: &Peer, function: &str| json!({"peer": peer.id, "service": "svc", "function": function});

    // A asks its host for `get`.
    let outcome = particle.run(&a, Step::default(), "a1");
    assert_eq!(outcome["ret_code"], 0);
    assert_eq!(outcome["next_peer_pks"], json!([]));
    assert_eq!(
        outcome["call_requests"],
        json!({"1": request("svc", "get", json!([]), json!([]))})
    );

    // The result makes A send the particle to B.
    let step = Step {
        prev: Some("a1"),
        call_results: Some(json!({"1": ok(json!({"greeting": "hello"}))})),
        ..Step::default()
    };
    let outcome = particle.run(&a, step, "a2");
    assert_eq!(outcome["ret_code"], 0, "{outcome}");
    assert_eq!(outcome["next_peer_pks"], json!([b.id]));
    assert_eq!(outcome["call_requests"], json!({}));

    // B receives A's data and asks its host for `put`, with A's value and its origin.
    let step = Step {
        current: Some("a2"),
        ..Step::default()
    };
    let outcome = particle.run(&b, step, "b1");
    assert_eq!(outcome["next_peer_pks"], json!([]));
    let put = request(
        "svc",
        "put",
        json!([{"greeting": "hello"}]),
        json!([from(&a, "get")]),
    );
    assert_eq!(outcome["call_requests"], json!({"1": put}));

    let step = Step {
        prev: Some("b1"),
        call_results: Some(json!({"1": ok(json!("stored"))})),
        ..Step::default()
    };
    let outcome = particle.run(&b, step, "b2");
    assert_eq!(outcome["next_peer_pks"], json!([a.id]));

    // Back on A: its own previous data and B's data merge.
    let step = Step {
        prev: Some("a2"),
        current: Some("b2"),
        ..Step::default()
    };
    let outcome = particle.run(&a, step, "a3");
    let done = request("svc", "done", json!(["stored"]), json!([from(&b, "put")]));
    assert_eq!(outcome["call_requests"], json!({"2": done}));

    let step = Step {
        prev: Some("a3"),
        call_results: Some(json!({"2": ok(json!(true))})),
        ..Step::default()
    };
    let outcome = particle.run(&a, step, "a4");
    assert_eq!(
        outcome,
        json!({"ret_code": 0, "error_message": "", "next_peer_pks": [], "call_requests": {}})
    );

    // The final data holds the three results, signed by both peers.
    let output = air(
        &["data", "show", "--particle-id", "air-run", &dir.path("a4")],
        None,
    );
    assert!(output.status.success(), "{}", text(&output.stdout));
    let shown = text(&output.stdout);
    let trace: Vec<&str> = shown
        .lines()
        .skip_while(|line| *line != "3 trace states")
        .skip(1)
        .take(3)
        .collect();
    assert!(
        trace[0].starts_with(&format!(
            "  0  call executed, scalar = {{\"greeting\":\"hello\"}} from {}/svc.get (",
            a.id
        )),
        "{shown}"
    );
    assert!(
        trace[1].starts_with(&format!(
            "  1  call executed, scalar = \"stored\" from {}/svc.put (",
            b.id
        )),
        "{shown}"
    );
    assert!(
        trace[2].starts_with(&format!(
            "  2  call executed, scalar = true from {}/svc.done (",
            a.id
        )),
        "{shown}"
    );
    assert!(shown.contains("2 signatures (checked)\n"), "{shown}");
    assert!(shown.ends_with("\n0 errors\n"), "{shown}");
}

#[test]
fn out_data_is_what_the_library_returns() {
    let dir = TempDir::new("run-out-data");
    let a = keygen();
    let script = r#"(seq (ap "literal" $s) (seq (canon %init_peer_id% $s #c) (call %init_peer_id% ("svc" "f") [#c])))"#;
    let particle = Particle {
        dir: &dir,
        script: dir.file("script.air", script.as_bytes()),
        init: &a,
    };
    let outcome = particle.run(&a, Step::default(), "out");
    assert_eq!(outcome["ret_code"], 0, "{outcome}");

    let secret = BASE64.decode(&a.secret_key).expect("base64");
    let mut params = vm::RunParameters::new(&a.id, &a.id, secret, "air-run");
    params.timestamp = TIMESTAMP.parse().expect("a number");
    params.ttl = 60_000;
    let expected = vm::execute(script, &[], &[], &params, &[]);
    let written = std::fs::read(dir.path("out")).expect("--out-data was written");
    assert_eq!(written, expected.data);
    assert_eq!(
        outcome["call_requests"]["1"]["arguments"],
        json!([["literal"]])
    );
}

#[test]
fn vm_errors_are_outcomes_not_command_failures() {
    let dir = TempDir::new("run-vm-errors");
    let a = keygen();
    let broken = Particle {
        dir: &dir,
        script: dir.file("broken.air", b"(seq (null))"),
        init: &a,
    };
    let outcome = broken.run(&a, Step::default(), "out");
    assert_eq!(outcome["ret_code"], 1);
    let message = outcome["error_message"].as_str().expect("a string");
    assert!(
        message.starts_with("AIR parse error at script:1:"),
        "{message}"
    );

    // An uncaught service error fails the step; the data still records it.
    let failing = Particle {
        dir: &dir,
        script: dir.file(
            "failing.air",
            br#"(call %init_peer_id% ("svc" "fail") [] x)"#,
        ),
        init: &a,
    };
    let first = failing.run(&a, Step::default(), "f1");
    assert_eq!(first["ret_code"], 0);
    let step = Step {
        prev: Some("f1"),
        call_results: Some(json!({"1": {"ret_code": 5, "result": "out of order"}})),
        ..Step::default()
    };
    let outcome = failing.run(&a, step, "f2");
    assert_ne!(outcome["ret_code"], 0, "{outcome}");
    let message = outcome["error_message"].as_str().expect("a string");
    assert!(message.contains("out of order"), "{message}");

    // Data that is not particle data is refused by the VM, which keeps the previous data.
    dir.file("garbage", b"not particle data");
    let step = Step {
        prev: Some("f1"),
        current: Some("garbage"),
        ..Step::default()
    };
    let outcome = failing.run(&a, step, "f3");
    assert_eq!(outcome["ret_code"], 3, "{outcome}");
    assert_eq!(
        std::fs::read(dir.path("f3")).unwrap(),
        std::fs::read(dir.path("f1")).unwrap()
    );
}

/// Runs `air run` on the peer with extra arguments; the command must fail with `message`.
fn assert_input_error(peer: &Peer, script: &str, extra: &[&str], message: &str) {
    let mut args = vec![
        "run",
        "--script",
        script,
        "--init-peer-id",
        &peer.id,
        "--current-peer-id",
        &peer.id,
    ];
    if !extra.contains(&"--secret-key") {
        args.extend(["--secret-key", &peer.secret_key]);
    }
    args.extend(extra);
    let output = air(&args, None);
    assert_eq!(output.status.code(), Some(1), "{args:?}");
    assert!(output.stdout.is_empty(), "{}", text(&output.stdout));
    assert_eq!(
        text(&output.stderr),
        format!("error: {message}\n"),
        "{args:?}"
    );
}

#[test]
fn input_errors_are_reported_exactly() {
    let dir = TempDir::new("run-input-errors");
    let a = keygen();
    let other = keygen();
    let script = dir.file("script.air", b"(null)");

    assert_input_error(
        &a,
        "/nonexistent/script.air",
        &[],
        "cannot read /nonexistent/script.air: No such file or directory (os error 2)",
    );
    assert_input_error(
        &a,
        &script,
        &["--prev-data", "/nonexistent/prev"],
        "cannot read /nonexistent/prev: No such file or directory (os error 2)",
    );
    assert_input_error(
        &a,
        "-",
        &["--current-data", "-"],
        "only one input can be read from standard input (`-`)",
    );

    let results = dir.file("syntax.json", br#"{"1": {"ret_code": 0, "result": }}"#);
    assert_input_error(
        &a,
        &script,
        &["--call-results", &results],
        &format!("{results} is not valid call results JSON: expected value at line 1 column 33"),
    );
    let results = dir.file("missing.json", br#"{"1": {"ret_code": 0}}"#);
    assert_input_error(
        &a,
        &script,
        &["--call-results", &results],
        &format!(
            "{results} is not valid call results JSON: missing field `result` at line 1 column 21"
        ),
    );
    let results = dir.file("key.json", br#"{"01": {"ret_code": 0, "result": 1}}"#);
    assert_input_error(
        &a,
        &script,
        &["--call-results", &results],
        &format!("{results}: call result key \"01\" is not a call id"),
    );

    assert_input_error(
        &a,
        &script,
        &["--secret-key", "not base64!"],
        "--secret-key is not valid base64: Invalid symbol 32, offset 3.",
    );
    let short = BASE64.encode([1u8; 16]);
    assert_input_error(
        &a,
        &script,
        &["--secret-key", &short],
        "--secret-key must be 32 bytes (an Ed25519 secret key), got 16",
    );
    assert_input_error(
        &a,
        &script,
        &["--secret-key", &other.secret_key],
        &format!(
            "--secret-key is the key of peer {}, not of --current-peer-id {}",
            other.id, a.id
        ),
    );

    // A command line clap cannot read is a usage error.
    let output = air(&["run", "--script", &script], None);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("--init-peer-id <ID>"));
}
