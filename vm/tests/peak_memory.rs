//! The heap a step needs next to its particle, measured with a counting global allocator (this
//! test binary's only test, so that nothing else allocates while it counts).

#[path = "../../tools/bench-support/counting_alloc.rs"]
mod counting_alloc;

use std::sync::atomic::Ordering::Relaxed;

use counting_alloc::{CURRENT, ENABLED, PEAK};
use vm::data::calls::{encode_call_results, CallResults, CallServiceResult};
use vm::data::KeyPair;
use vm::{execute, Outcome, RunParameters};

/// The peer id of the key made of 32 times `secret`.
fn peer_id(secret: u8) -> String {
    KeyPair::from_secret_key(&[secret; 32], 0)
        .expect("a 32-byte Ed25519 secret")
        .peer_id()
        .to_string()
}

/// The run parameters of the peer of key `secret`, for a particle that `init` started.
fn params(init: &str, secret: u8) -> RunParameters {
    RunParameters::new(
        init.to_string(),
        peer_id(secret),
        vec![secret; 32],
        "particle-1",
    )
}

/// Runs a step and returns its outcome with the most heap it held at once above what was live
/// before it.
fn measured(
    script: &str,
    current_data: &[u8],
    params: &RunParameters,
    results: &[u8],
) -> (Outcome, usize) {
    ENABLED.store(true, Relaxed);
    let before = CURRENT.load(Relaxed);
    PEAK.store(before, Relaxed);
    let outcome = execute(script, &[], current_data, params, results);
    let peak = PEAK.load(Relaxed) - before;
    ENABLED.store(false, Relaxed);
    assert_eq!(outcome.ret_code, 0, "{}", outcome.error_message);
    (
        outcome,
        usize::try_from(peak).expect("a peak above the baseline"),
    )
}

/// A peer that receives a large value from the host and passes it on holds it once, plus the
/// new data; the next peer, which folds over it, holds the received data and the parsed value,
/// then the received data and the new data, but never all three. Besides those, a step holds a
/// few kilobytes whatever the value's size (its decoded data, the script, the output's margin).
#[test]
fn a_large_value_costs_twice_its_size_at_most() {
    const SIZE: usize = 4 << 20;
    const SLACK: usize = 64 << 10;
    let script = r#"(seq (call %init_peer_id% ("storage" "load") [] blob)
  (seq (fold blob item (next item)) (canon "@b" $seen #seen)))"#;
    let a = params(&peer_id(1), 1);
    let b = params(&peer_id(1), 2);
    let script = script.replace("@b", &b.current_peer_id);
    // Lower-case hex, as canonical JSON: a text the host gives as it is.
    let text: String = (0..SIZE)
        .map(|i| char::from(b"0123456789abcdef"[i % 16]))
        .collect();

    let first = execute(&script, &[], &[], &a, &[]);
    let (&id, _) = first.call_requests.iter().next().expect("the load request");
    let results: CallResults = [(
        id,
        CallServiceResult {
            ret_code: 0,
            result: format!("[\"{text}\"]"),
        },
    )]
    .into_iter()
    .collect();
    let results = encode_call_results(&results);
    let (sent, peak) = measured(&script, &first.data, &a, &results);
    assert_eq!(sent.next_peer_pks, std::slice::from_ref(&b.current_peer_id));
    let particle = first.data.len() + results.len();
    assert!(
        peak < 2 * particle + SLACK,
        "taking the value in: {peak} bytes for a {particle}-byte particle"
    );

    let (_, peak) = measured(&script, &sent.data, &b, &[]);
    let particle = sent.data.len();
    assert!(
        peak < 2 * particle + SLACK,
        "folding over the value: {peak} bytes for a {particle}-byte particle"
    );
}
