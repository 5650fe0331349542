//! The VM facade: the script cache, and scripts whose shape would exhaust a fixed stack.

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
