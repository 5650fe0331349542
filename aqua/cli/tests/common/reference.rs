//! The reference toolchain run the same way: `tools/reference-run/batch.mjs` compiles with
//! `@fluencelabs/aqua-api` and calls on js-client's network of reference peers, many calls
//! in one node process.
//!
//! The npm packages are not in the repository: when `node_modules` is missing, `npm ci`
//! installs them from the committed `package-lock.json`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[path = "../../../../tools/test-support/npm.rs"]
mod npm;
use npm::npm_ci;

use network_sim::aqua::RunSpec;
use network_sim::services::{Behaviour, ServiceRule};
use runtime_node::embedded::CLIENT_INDEX;
use runtime_node::KeyPair;
use serde_json::{json, Value};

use super::{server_count, Clock, Ending, Names, TTL};

fn reference_run() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/reference-run")
}

/// `tools/reference-run`, with its packages installed.
fn installed() -> PathBuf {
    npm_ci(&reference_run(), "the reference toolchain", &[])
}

/// Runs `requests` (see batch.mjs) in one node process and returns the answers in order.
pub fn run_batch(requests: &[Value]) -> Vec<Value> {
    let dir = installed();
    let mut child = Command::new("node")
        .arg("batch.mjs")
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run node (it runs the reference toolchain): {e}"));
    let mut stdin = child.stdin.take().expect("piped");
    let input: String = requests.iter().map(|r| format!("{r}\n")).collect();
    // Written from another thread, so that neither side waits for the other's pipe.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let answers: Vec<Value> = BufReader::new(child.stdout.take().expect("piped"))
        .lines()
        .map(|line| {
            let line = line.expect("batch.mjs writes text");
            serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("batch.mjs wrote `{line}`, not JSON: {e}"))
        })
        .collect();
    writer
        .join()
        .expect("the writer")
        .expect("batch.mjs reads its requests");
    let status = child.wait().expect("batch.mjs ends");
    assert!(status.success(), "batch.mjs failed: {status}");
    assert_eq!(
        answers.len(),
        requests.len(),
        "batch.mjs answered too few requests"
    );
    answers
}

/// The names of a spec on the reference network: the same keys as ours (seed 0).
pub fn names(spec: &RunSpec) -> Names {
    let servers: Vec<String> = (0..server_count(spec))
        .map(|i| KeyPair::from_seed(0, i).peer_id().to_base58())
        .collect();
    let client = KeyPair::from_seed(0, CLIENT_INDEX).peer_id().to_base58();
    Names::new(spec, &servers, &client)
}

/// The batch request that runs `function` of `file` with `arguments` (as a client gives
/// them, see [`super::client_arguments`]) and the peers and services of `spec`, with `extra`
/// mock rules (already in batch.mjs's form, peer ids resolved) before the spec's.
pub fn request(
    file: &Path,
    function: &str,
    arguments: &BTreeMap<String, Value>,
    spec: &RunSpec,
    extra: Vec<Value>,
) -> Value {
    let names = names(spec);
    let mut rules: Vec<(usize, ServiceRule)> = names.rules(spec).into_iter().enumerate().collect();
    // batch.mjs takes the first matching rule: most specific first, later declared first.
    rules.sort_by_key(|(index, rule)| std::cmp::Reverse((rule.specificity(), *index)));
    let services: Vec<Value> = extra
        .into_iter()
        .chain(rules.into_iter().map(|(_, rule)| {
            json!({
                "peer": rule.peer.as_deref().map(|name| names.id(name)),
                "service": rule.service_id,
                "function": rule.function_name,
                "behaviour": behaviour(&rule.behaviour),
            })
        }))
        .collect();
    json!({
        "file": file,
        "function": function,
        "args": names.arguments(arguments),
        "peers": server_count(spec),
        "seed": 0,
        "ttl": TTL.as_millis() as u64,
        "services": services,
    })
}

fn behaviour(behaviour: &Behaviour) -> Value {
    match behaviour {
        Behaviour::Ok(value) => json!({ "ok": value }),
        Behaviour::Err(code, value) => json!({ "err": [code, value] }),
        Behaviour::Echo => json!({ "echo": null }),
        Behaviour::Arg(n) => json!({ "arg": n }),
        Behaviour::Seq(values) => json!({ "seq": values }),
        Behaviour::Lookup(table) => json!({ "lookup": table }),
        Behaviour::Tetraplets => json!({ "tetraplets": null }),
        Behaviour::Raw(..) => panic!("a js-client service answers JSON: no `raw` mock"),
    }
}

/// How a reference call ended, peer ids as `@name` and times as in [`Clock::hide`].
pub fn ending(answer: &Value, spec: &RunSpec) -> Ending {
    if let Some(problem) = answer.get("problem") {
        panic!("the reference could not run the call: {problem}");
    }
    let names = names(spec);
    let peers: Vec<&str> = (0..server_count(spec) as usize)
        .map(|i| names.id(spec_peer_name(spec, i)))
        .collect();
    assert_eq!(
        answer["peers"],
        json!(peers),
        "the reference's peer ids differ"
    );
    match &answer["error"] {
        Value::Null => {
            let window = &answer["window"];
            let clock = Clock::between(
                window[0].as_u64().expect("a start time"),
                window[1].as_u64().expect("an end time"),
            );
            let result = names.unsubstitute(&answer["result"].to_string());
            Ok(clock.hide(serde_json::from_str(&result).expect("names keep JSON valid")))
        }
        error => Err(names.unsubstitute(error.as_str().unwrap_or(&error.to_string()))),
    }
}

/// The name of server `index` in a spec: the relay, then the further peers.
fn spec_peer_name(spec: &RunSpec, index: usize) -> &str {
    match index {
        0 => &spec.topology.relay,
        i => &spec.topology.peers[i - 1],
    }
}
