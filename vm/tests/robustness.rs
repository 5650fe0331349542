//! The VM facade: the script cache, answering calls during a step, and scripts whose shape
//! would exhaust a fixed stack.

use vm::data::calls::{encode_call_results, CallResults, CallServiceResult};
use vm::data::KeyPair;
use vm::{execute, RunParameters, Vm};

fn params() -> RunParameters {
    let secret = vec![7; 32];
    let peer = KeyPair::from_secret_key(&secret, 0)
        .expect("a 32-byte Ed25519 secret")
        .peer_id()
        .to_string();
    RunParameters::new(peer.clone(), peer, secret, "particle-1")
}

/// `(seq (null) (seq (null) ... (null)))`, `depth` levels deep.
fn nested_seqs(depth: usize) -> String {
    format!(
        "{}(null){}",
        "(seq (null) ".repeat(depth),
        ")".repeat(depth)
    )
}

#[test]
fn a_vm_parses_a_script_once_and_runs_it_like_execute() {
    let vm = Vm::new();
    let script = r#"(seq (call %init_peer_id% ("svc" "f") ["a"] x) (ap x $s))"#;
    let params = params();
    let first = vm.execute(script, &[], &[], &params, &[]);
    let second = vm.execute(script, &[], &[], &params, &[]);
    let uncached = execute(script, &[], &[], &params, &[]);
    assert_eq!(vm.cached_scripts(), 1);
    for outcome in [&first, &second] {
        assert_eq!(outcome.ret_code, uncached.ret_code);
        assert_eq!(outcome.data, uncached.data);
        assert_eq!(outcome.call_requests, uncached.call_requests);
    }
    assert_eq!(first.call_requests.len(), 1);
}

/// A fold of sequential local calls: each iteration's call is made once the previous one
/// has its result.
const SEQUENTIAL_CALLS: &str = r#"
(seq
 (call %init_peer_id% ("svc" "list") [] xs)
 (fold xs x
  (seq
   (call %init_peer_id% ("svc" "f") [x] $results)
   (next x))))"#;

/// Every call's answer: `svc.list` gives 0..100, any other call echoes its arguments.
fn answer_of(request: &vm::data::calls::CallRequest) -> CallServiceResult {
    let result = if request.function_name == "list" {
        serde_json::json!((0..100).collect::<Vec<u32>>())
    } else {
        serde_json::Value::Array(request.arguments.clone())
    };
    CallServiceResult {
        ret_code: 0,
        result: result.to_string(),
    }
}

fn answers(requests: &vm::data::calls::CallRequests) -> CallResults {
    requests
        .iter()
        .map(|(id, request)| (*id, answer_of(request)))
        .collect()
}

#[test]
fn answering_during_a_step_ends_with_the_data_of_separate_steps_and_bounds_its_passes() {
    let vm = Vm::new();
    let params = params();
    // Separate steps: execute, answer every request, execute again with the results.
    let mut data = Vec::new();
    let mut results = CallResults::new();
    let mut steps: usize = 0;
    loop {
        let outcome = vm.execute(
            SEQUENTIAL_CALLS,
            &data,
            &[],
            &params,
            &encode_call_results(&results),
        );
        assert_eq!(outcome.ret_code, 0, "{}", outcome.error_message);
        steps += 1;
        data = outcome.data;
        results = answers(&outcome.call_requests);
        if results.is_empty() {
            break;
        }
    }
    assert_eq!(steps, 102);
    // Answering: each step makes at most MAX_PASSES_PER_STEP passes, then hands back the
    // requests of its last pass.
    let mut answered_data = Vec::new();
    let mut results = CallResults::new();
    let mut answering_steps = 0;
    let mut answered = 0;
    loop {
        let outcome = vm.execute_answering(
            SEQUENTIAL_CALLS,
            &answered_data,
            &[],
            &params,
            &encode_call_results(&results),
            &mut |_, request| {
                answered += 1;
                Some(answer_of(&request))
            },
        );
        assert_eq!(outcome.ret_code, 0, "{}", outcome.error_message);
        answering_steps += 1;
        answered_data = outcome.data;
        assert!(outcome.call_requests.len() <= 1);
        results = answers(&outcome.call_requests);
        if results.is_empty() {
            break;
        }
    }
    assert_eq!(answered_data, data, "the same data, byte for byte");
    // As many passes as separate steps; each pass but the last of a step had its requests
    // answered in the step.
    assert_eq!(answering_steps, steps.div_ceil(Vm::MAX_PASSES_PER_STEP));
    assert_eq!(answered + answering_steps, steps);
}

#[test]
fn requests_the_host_keeps_are_not_returned_and_their_results_come_later() {
    let vm = Vm::new();
    let params = params();
    let mut kept = Vec::new();
    let first = vm.execute_answering(
        SEQUENTIAL_CALLS,
        &[],
        &[],
        &params,
        &[],
        &mut |id, request| {
            kept.push((id, request));
            None
        },
    );
    assert_eq!(first.ret_code, 0, "{}", first.error_message);
    assert!(first.call_requests.is_empty(), "the host took the request");
    assert_eq!(kept.len(), 1);
    // The same step without answering: the same data, with the request in the outcome.
    let plain = vm.execute(SEQUENTIAL_CALLS, &[], &[], &params, &[]);
    assert_eq!(first.data, plain.data);
    assert_eq!(plain.call_requests.len(), 1);
    let results = answers(&kept.into_iter().collect());
    let second = vm.execute(
        SEQUENTIAL_CALLS,
        &first.data,
        &[],
        &params,
        &encode_call_results(&results),
    );
    assert_eq!(second.ret_code, 0, "{}", second.error_message);
    assert_eq!(second.call_requests.len(), 1, "the first iteration's call");
}

#[test]
fn a_cached_parse_error_is_reported_every_time() {
    let vm = Vm::new();
    let params = params();
    for _ in 0..2 {
        let outcome = vm.execute("(seq (null)", &[], &[], &params, &[]);
        assert_eq!(outcome.ret_code, 1, "{}", outcome.error_message);
        assert!(outcome
            .error_message
            .starts_with("AIR parse error at script:1:"));
    }
    assert_eq!(vm.cached_scripts(), 1);
}

#[test]
fn the_script_cache_stays_within_its_byte_bound() {
    let vm = Vm::with_script_cache_bytes(4096);
    let params = params();
    for i in 0..200 {
        let script = format!(r#"(seq (ap "{i:0>100}" x) (null))"#);
        assert_eq!(vm.execute(&script, &[], &[], &params, &[]).ret_code, 0);
    }
    // 200 scripts of ~130 bytes would be 26 KB; the bound keeps a fraction of them.
    assert!(vm.cached_scripts() < 60, "{} cached", vm.cached_scripts());
    assert!(vm.cached_scripts() > 0);
}

#[test]
fn deeply_nested_scripts_run_without_exhausting_the_stack() {
    let script = nested_seqs(100_000);
    let outcome = execute(&script, &[], &[], &params(), &[]);
    assert_eq!(outcome.ret_code, 0, "{}", outcome.error_message);
}

#[test]
fn long_folds_run_without_exhausting_the_stack() {
    let script = r#"(seq (call %init_peer_id% ("svc" "items") [] items)
                         (fold items i (seq (match i i (null)) (next i))))"#;
    let params = params();
    let asked = execute(script, &[], &[], &params, &[]);
    let (&id, _) = asked
        .call_requests
        .iter()
        .next()
        .expect("the call is requested");
    let items: Vec<u32> = (0..20_000).collect();
    let results = CallResults::from([(id, CallServiceResult::ok(&serde_json::json!(items)))]);
    let outcome = execute(
        script,
        &asked.data,
        &[],
        &params,
        &encode_call_results(&results),
    );
    assert_eq!(outcome.ret_code, 0, "{}", outcome.error_message);
}
