//! `air data show` on particle data written by the reference AquaVM 0.62, and `air run`
//! continuing a particle the reference started.

mod support;

use std::rc::Rc;

use reference_air::{execute_air, RunParameters};
use serde_json::{json, Value};
use support::{air, text, TempDir};
use vm::data::calls::{self, CallResults, CallServiceResult};
use vm::data::{KeyPair, RawValue};

const PARTICLE_ID: &str = "reference-particle";
const MIB: u64 = 1 << 20;

/// A script that leaves most kinds of states on its initiator, then goes to `other`.
fn script(other: &str) -> String {
    format!(
        r#"(seq
             (seq
               (call %init_peer_id% ("svc" "get") [] x)
               (par
                 (ap x $s)
                 (call %init_peer_id% ("svc" "count") [] $s)))
             (seq
               (seq
                 (canon %init_peer_id% $s #c)
                 (par (fold $s i (seq (null) (next i))) (null)))
               (seq
                 (xor (call %init_peer_id% ("svc" "fail") []) (null))
                 (call "{other}" ("svc" "put") [#c] y))))"#
    )
}

fn answer(function: &str) -> CallServiceResult {
    match function {
        "get" => CallServiceResult::ok(&json!("hello")),
        "count" => CallServiceResult::ok(&json!(2)),
        "fail" => CallServiceResult::err(5, &json!("broken")),
        other => panic!("unexpected call {other}"),
    }
}

/// The data the reference writes when it runs `script` on `secret`'s peer, answering its calls
/// until it sends the particle on.
fn reference_data(script: &str, secret: &[u8]) -> Vec<u8> {
    let peer_id = KeyPair::from_secret_key(secret, 0)
        .expect("an Ed25519 key")
        .peer_id()
        .to_string();
    let mut data = Vec::new();
    let mut results = CallResults::new();
    loop {
        let params = RunParameters::new(
            peer_id.clone(),
            peer_id.clone(),
            1_700_000_000_000,
            60_000,
            0,
            secret.to_vec(),
            PARTICLE_ID.to_owned(),
            16 * MIB,
            64 * MIB,
            32 * MIB,
            false,
        );
        let outcome = execute_air(
            script.to_owned(),
            data,
            Vec::new(),
            params,
            calls::encode_call_results(&results).into(),
        );
        assert_eq!(outcome.ret_code, 0, "{}", outcome.error_message);
        data = outcome.data;
        let requests = calls::decode_call_requests(&outcome.call_requests).expect("requests");
        if requests.is_empty() {
            return data;
        }
        results = requests
            .iter()
            .map(|(&id, request)| (id, answer(&request.function_name)))
            .collect();
    }
}

/// A particle the reference ran on peer A, for peer B from `air keygen`.
struct Fixture {
    dir: TempDir,
    script: String,
    data: String,
    a: String,
    b: Value,
}

fn fixture(name: &str) -> Fixture {
    let dir = TempDir::new(name);
    let keygen = air(&["keygen"], None);
    let b: Value = serde_json::from_slice(&keygen.stdout).expect("keygen prints JSON");
    let script = script(b["peer_id"].as_str().expect("a peer id"));
    let secret = [7u8; 32];
    let a = KeyPair::from_secret_key(&secret, 0)
        .expect("an Ed25519 key")
        .peer_id()
        .to_string();
    let data = dir.file("a.data", &reference_data(&script, &secret));
    let script = dir.file("script.air", script.as_bytes());
    Fixture {
        dir,
        script,
        data,
        a,
        b,
    }
}

#[test]
fn shows_the_trace_the_reference_wrote() {
    let Fixture {
        dir: _dir,
        data,
        a,
        b,
        ..
    } = fixture("data-show");
    let output = air(&["data", "show", "--particle-id", PARTICLE_ID, &data], None);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let shown = text(&output.stdout);
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(
        lines[..2],
        [
            "data format 0.17.2, written by interpreter 0.62.0",
            "last call request id: 3",
        ]
    );
    let trace = &lines[3..13];
    assert_eq!(trace[0], "9 trace states");
    let expected_starts = [
        format!("  0  call executed, scalar = \"hello\" from {a}/svc.get (bagaaihra"),
        "  1  par 1 + 1".to_owned(),
        "  2  ap into generation 0".to_owned(),
        format!("  3  call executed, stream generation 1 = 2 from {a}/svc.count (bagaaihra"),
        // The count arrived in the same step, in a newer generation than the canon saw.
        format!("  4  canon on {a} = [\"hello\"] (bagaaihra"),
        "  5  par 1 + 0".to_owned(),
        "  6  fold, 2 iterations; value at 2: before next 7..7, after next 7..7; \
         value at 3: before next 7..7, after next 7..7"
            .to_owned(),
        format!("  7  call failed, ret_code 5, message \"broken\" from {a}/svc.fail (bagaaihra"),
        format!("  8  call sent by {a} to the call's peer"),
    ];
    for (line, start) in trace[1..].iter().zip(&expected_starts) {
        assert!(line.starts_with(start.as_str()), "{line:?}\n{shown}");
    }
    assert_eq!(trace.len(), expected_starts.len() + 1);
    assert!(shown.contains("\n3 values\n"), "{shown}");
    assert!(
        shown.contains(&format!("\n1 signature (checked)\n  {a}  key ")),
        "{shown}"
    );
    assert!(shown.ends_with("\n0 errors\n"), "{shown}");
    assert!(
        !shown.contains(b["peer_id"].as_str().unwrap()),
        "B has not run yet"
    );
}

#[test]
fn json_form_has_the_same_content() {
    let Fixture {
        dir: _dir, data, a, ..
    } = fixture("data-json");
    let output = air(
        &[
            "data",
            "show",
            "--json",
            "--particle-id",
            PARTICLE_ID,
            &data,
        ],
        None,
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let view: Value = serde_json::from_slice(&output.stdout).expect("--json prints JSON");
    assert_eq!(view["interpreter_version"], "0.62.0");
    assert_eq!(view["signatures_checked"], true);
    assert_eq!(view["errors"], json!([]));
    let trace = view["trace"].as_array().expect("a trace");
    assert_eq!(trace.len(), 9);
    assert_eq!(trace[0]["kind"], "call_executed");
    assert_eq!(trace[0]["value"], "hello");
    assert_eq!(
        trace[0]["tetraplet"],
        json!({"peer_pk": a, "service_id": "svc", "function_name": "get", "lens": ""})
    );
    assert_eq!(
        trace[1],
        json!({"position": 1, "kind": "par", "left_size": 1, "right_size": 1})
    );
    assert_eq!(trace[3]["stream_generation"], 1);
    assert_eq!(trace[4]["values"], json!(["hello"]));
    assert_eq!(
        trace[6]["iterations"][1],
        json!({"value_pos": 3, "subtraces": [{"begin_pos": 7, "len": 0}, {"begin_pos": 7, "len": 0}]})
    );
    assert_eq!(
        trace[7]["failure"],
        json!({"ret_code": 5, "message": "\"broken\""})
    );
    assert_eq!(
        trace[8],
        json!({"position": 8, "kind": "call_sent", "peer_id": a})
    );
    // Every CID the trace names is in the stores.
    let service_result = trace[0]["cid"].as_str().expect("a CID");
    let value_cid = &view["service_results"][service_result]["value_cid"];
    assert_eq!(view["values"][value_cid.as_str().unwrap()], "hello");
}

#[test]
fn our_vm_continues_where_the_reference_stopped() {
    let Fixture {
        dir,
        script,
        data,
        a,
        b,
    } = fixture("data-continue");
    let b_id = b["peer_id"].as_str().expect("a peer id");
    let b_key = b["secret_key"].as_str().expect("a key");
    let run = |extra: &[&str], out: &str| {
        let out = dir.path(out);
        let mut args = vec![
            "run",
            "--script",
            &script,
            "--init-peer-id",
            &a,
            "--current-peer-id",
            b_id,
            "--secret-key",
            b_key,
            "--particle-id",
            PARTICLE_ID,
            "--out-data",
            &out,
        ];
        args.extend(extra);
        let output = air(&args, None);
        assert!(output.status.success(), "{}", text(&output.stderr));
        serde_json::from_slice::<Value>(&output.stdout).expect("run prints JSON")
    };
    let outcome = run(&["--current-data", &data], "b1");
    assert_eq!(outcome["ret_code"], 0, "{outcome}");
    // A canon argument has one tetraplet per element: where the element came from.
    let element = json!({"peer_pk": a, "service_id": "svc", "function_name": "get", "lens": ""});
    assert_eq!(
        outcome["call_requests"],
        json!({"1": {
            "service_id": "svc",
            "function_name": "put",
            "arguments": [["hello"]],
            "tetraplets": [[element]],
        }})
    );
    let results = dir.file(
        "b.results.json",
        br#"{"1": {"ret_code": 0, "result": "done"}}"#,
    );
    let b1 = dir.path("b1");
    let outcome = run(&["--prev-data", &b1, "--call-results", &results], "b2");
    assert_eq!(
        outcome,
        json!({"ret_code": 0, "error_message": "", "next_peer_pks": [], "call_requests": {}})
    );
    let output = air(
        &[
            "data",
            "show",
            "--particle-id",
            PARTICLE_ID,
            &dir.path("b2"),
        ],
        None,
    );
    assert!(output.status.success(), "{}", text(&output.stdout));
    let shown = text(&output.stdout);
    assert!(
        shown.contains(&format!(
            "\n  8  call executed, scalar = \"done\" from {b_id}/svc.put ("
        )),
        "{shown}"
    );
    assert!(shown.contains("\n2 signatures (checked)\n"), "{shown}");
}

#[test]
fn problems_are_reported() {
    let Fixture { dir, data, .. } = fixture("data-problems");

    // Signatures are salted with the particle id: another id does not verify them.
    let output = air(&["data", "show", "--particle-id", "another", &data], None);
    assert_eq!(output.status.code(), Some(1));
    let shown = text(&output.stdout);
    assert!(
        shown.contains("\n1 error\n  signature of peer 12D3KooW"),
        "{shown}"
    );
    assert!(
        shown.ends_with(": Ed25519 signature does not verify\n"),
        "{shown}"
    );

    // A value swapped under its CID.
    let (_, mut forged) = vm::data::decode(&std::fs::read(&data).unwrap()).expect("decodes");
    let hello = vm::data::value_cid(&json!("hello"));
    forged.cid_info.value_store = forged
        .cid_info
        .value_store
        .iter()
        .map(|(cid, value)| {
            let value = if *cid == hello {
                Rc::new(RawValue::from_value(&json!("forged")))
            } else {
                Rc::clone(value)
            };
            (cid.clone(), value)
        })
        .collect();
    let forged = dir.file("forged.data", &vm::data::encode(&forged));
    let output = air(&["data", "show", &forged], None);
    assert_eq!(output.status.code(), Some(1));
    let shown = text(&output.stdout);
    assert!(
        shown.contains("  0  call executed, scalar = \"forged\""),
        "{shown}"
    );
    assert!(
        shown.contains(" signature (not checked: the data has errors)\n"),
        "{shown}"
    );
    assert!(
        shown.ends_with(&format!(
            "\n1 error\n  value store entry {hello} does not match its CID: content hash differs\n"
        )),
        "{shown}"
    );

    // A result dropped from its store: the trace state refers to nothing.
    let (_, mut dangling) = vm::data::decode(&std::fs::read(&data).unwrap()).expect("decodes");
    let (dropped, _) = dangling
        .cid_info
        .service_result_store
        .iter()
        .next()
        .expect("a service result");
    let dropped = dropped.clone();
    dangling.cid_info.service_result_store = dangling
        .cid_info
        .service_result_store
        .iter()
        .filter(|(cid, _)| **cid != dropped)
        .map(|(cid, result)| (cid.clone(), Rc::clone(result)))
        .collect();
    let dangling = dir.file("dangling.data", &vm::data::encode(&dangling));
    let output = air(&["data", "show", "--json", &dangling], None);
    assert_eq!(output.status.code(), Some(1));
    let view: Value = serde_json::from_slice(&output.stdout).expect("--json prints JSON");
    let position = view["trace"]
        .as_array()
        .expect("a trace")
        .iter()
        .position(|state| state["cid"] == dropped.as_str())
        .expect("a state names the dropped result");
    assert_eq!(view["trace"][position]["value"], Value::Null);
    let missing = format!(
        "trace state {position} refers to {dropped}, which is not in the service result store"
    );
    assert!(
        view["errors"]
            .as_array()
            .expect("errors")
            .contains(&json!(missing)),
        "{view:#}"
    );

    let garbage = dir.file("garbage.data", b"not particle data");
    let output = air(&["data", "show", &garbage], None);
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    assert_eq!(
        text(&output.stderr),
        format!("error: {garbage}: cannot read the data envelope: invalid type: integer `110`, expected struct Envelope\n")
    );

    let output = air(&["data", "show", "/nonexistent/data"], None);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stderr),
        "error: cannot read /nonexistent/data: No such file or directory (os error 2)\n"
    );
}
