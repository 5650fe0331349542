//! `vm::execute` on a fixed set of scripts with random, correctly signed particle data: traces of
//! any shape (that need not match the script) over stored values of two peers, random call
//! results, or raw random bytes. Nothing panics; a run that fails before or outside the script
//! keeps the previous data; any data the VM writes decodes and its stores are consistent.
//! (Its signatures need not verify: a trace that does not match the script loses the states
//! the script does not reach, which other peers signed.)
//!
//! The same input then runs through `Vm::execute_answering`, with services answering from the
//! input, and must end exactly as separate `execute` steps fed with the same answers do.
#![no_main]

use std::rc::Rc;

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use vm::data::calls::{encode_call_results, CallResults, CallServiceResult};
use vm::data::{
    self, argument_hash, ApResult, CallResult, CanonResult, CidInfo, ExecutedState, FoldResult,
    FoldSubTraceLore, InterpreterData, KeyPair, ParResult, Sender, SignatureTracker, SubTraceDesc,
    Tetraplet, ValueRef,
};
use vm::{RunParameters, Vm};

const PARTICLE_ID: &str = "fuzz-particle";

/// Scripts over two peers, `@P` (the one executing) and `@Q`.
const SCRIPTS: &[&str] = &[
    r#"(call "@Q" ("svc" "f") [] x)"#,
    r#"(par (call "@Q" ("svc" "f") [] $s) (call "@P" ("svc" "f") [] $s))"#,
    r#"(seq (seq (call "@Q" ("svc" "f") [] $s) (call "@P" ("svc" "f") [] $s))
            (seq (canon "@P" $s #c) (call "@P" ("svc" "g") [#c] r)))"#,
    r#"(seq (call "@Q" ("svc" "f") [] items)
            (fold items i (par (call "@P" ("svc" "f") [i] $s) (next i))))"#,
    r#"(seq (par (call "@Q" ("svc" "f") [] $s) (call "@P" ("svc" "f") [] $s))
            (fold $s v (seq (ap v $t) (seq (call "@P" ("svc" "f") [v] $u) (next v)))))"#,
    r#"(xor (seq (call "@Q" ("svc" "f") [] x) (match x 1 (call "@P" ("svc" "f") [x] y)))
            (call "@P" ("svc" "e") [%last_error%.$.message] e))"#,
    r#"(new $s (seq (par (call "@Q" ("svc" "f") [] $s) (ap 1 $s))
                    (seq (canon "@P" $s #c) (fold #c i (seq (call "@P" ("svc" "f") [i] $z) (next i))))))"#,
    r#"(seq (call "@P" ("svc" "f") [] x) (par (call "@Q" ("svc" "f") [x] y) (call "@P" ("svc" "f") [x.$.x] z)))"#,
];

const VALUES: usize = 6;

fn value(index: u8) -> Value {
    match index as usize % VALUES {
        0 => json!("a"),
        1 => json!(1),
        2 => json!([1, 2, 3]),
        3 => json!({"x": "y"}),
        4 => json!(null),
        _ => json!([{"x": 1}, {"x": 2}]),
    }
}

#[derive(Arbitrary, Debug)]
enum State {
    Par(u8, u8),
    Scalar {
        value: u8,
        by_q: bool,
    },
    Stream {
        value: u8,
        by_q: bool,
        generation: u8,
    },
    Unused {
        value: u8,
    },
    Failed {
        code: i8,
        by_q: bool,
    },
    Sent {
        by_q: bool,
        call_id: Option<u8>,
    },
    Fold(Vec<(u8, Vec<(u8, u8)>)>),
    Ap(Vec<u8>),
    Canon {
        values: Vec<u8>,
        by_q: bool,
    },
    CanonSent {
        by_q: bool,
    },
}

#[derive(Arbitrary, Debug)]
enum Data {
    Empty,
    Trace {
        states: Vec<State>,
        last_call_request_id: u8,
    },
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    script: u8,
    prev: Data,
    current: Data,
    results: Vec<(u8, i8, u8)>,
    /// Answers of the services during a step, by call id modulo the length.
    answers: Vec<(i8, u8)>,
}

struct Peers {
    p: (Vec<u8>, KeyPair),
    q: (Vec<u8>, KeyPair),
}

impl Peers {
    fn new() -> Self {
        let key = |seed: u8| {
            let secret = vec![seed; 32];
            let pair = KeyPair::from_secret_key(&secret, 0).expect("valid secret key");
            (secret, pair)
        };
        Peers {
            p: key(1),
            q: key(2),
        }
    }

    fn id(&self, by_q: bool) -> &str {
        if by_q {
            self.q.1.peer_id()
        } else {
            self.p.1.peer_id()
        }
    }
}

/// Builds a signed data whose trace is `states` over values stored in its CID stores.
fn build(peers: &Peers, states: &[State], last_call_request_id: u8) -> Vec<u8> {
    let mut cids = CidInfo::default();
    let mut signed = SignatureTracker::default();
    let no_arguments = argument_hash(&[]);
    let tetraplet = |by_q: bool| {
        Rc::new(Tetraplet {
            peer_pk: peers.id(by_q).into(),
            service_id: "svc".into(),
            function_name: "f".into(),
            lens: "".into(),
        })
    };
    let mut trace = Vec::with_capacity(states.len());
    for state in states {
        let executed = match state {
            State::Par(left, right) => ExecutedState::Par(ParResult {
                left_size: u32::from(*left),
                right_size: u32::from(*right),
            }),
            State::Scalar { value: v, by_q } | State::Stream { value: v, by_q, .. } => {
                let cid =
                    cids.insert_service_result(&value(*v), tetraplet(*by_q), no_arguments.clone());
                signed.register(peers.id(*by_q), &cid);
                ExecutedState::Call(CallResult::Executed(match state {
                    State::Stream { generation, .. } => ValueRef::Stream {
                        cid,
                        generation: u32::from(*generation),
                    },
                    _ => ValueRef::Scalar(cid),
                }))
            }
            State::Unused { value: v } => {
                let cid =
                    cids.insert_service_result(&value(*v), tetraplet(false), no_arguments.clone());
                ExecutedState::Call(CallResult::Executed(ValueRef::Unused(cid)))
            }
            State::Failed { code, by_q } => {
                let failure = json!({"ret_code": i32::from(*code), "message": "\"failed\""});
                let cid =
                    cids.insert_service_result(&failure, tetraplet(*by_q), no_arguments.clone());
                signed.register(peers.id(*by_q), &cid);
                ExecutedState::Call(CallResult::Failed(cid))
            }
            State::Sent { by_q, call_id } => {
                let peer_id: Rc<str> = peers.id(*by_q).into();
                ExecutedState::Call(CallResult::RequestSentBy(match call_id {
                    Some(id) => Sender::PeerIdWithCallId {
                        peer_id,
                        call_id: u32::from(*id),
                    },
                    None => Sender::PeerId(peer_id),
                }))
            }
            State::Fold(lores) => ExecutedState::Fold(FoldResult {
                lore: lores
                    .iter()
                    .map(|(position, descs)| FoldSubTraceLore {
                        value_pos: u32::from(*position),
                        subtraces_desc: descs
                            .iter()
                            .map(|(begin, len)| SubTraceDesc {
                                begin_pos: u32::from(*begin),
                                subtrace_len: u32::from(*len),
                            })
                            .collect(),
                    })
                    .collect(),
            }),
            State::Ap(generations) => ExecutedState::Ap(ApResult {
                res_generations: generations.iter().map(|g| u32::from(*g)).collect(),
            }),
            State::Canon { values, by_q } => {
                let elements = values
                    .iter()
                    .map(|v| {
                        let provenance = data::Provenance::Literal;
                        cids.insert_canon_element(&value(*v), tetraplet(*by_q), provenance)
                    })
                    .collect();
                let cid = cids.insert_canon_result(tetraplet(*by_q), elements);
                signed.register(peers.id(*by_q), &cid);
                ExecutedState::Canon(CanonResult::Executed(cid))
            }
            State::CanonSent { by_q } => {
                ExecutedState::Canon(CanonResult::RequestSentBy(peers.id(*by_q).into()))
            }
        };
        trace.push(executed);
    }
    let mut data = InterpreterData {
        trace,
        last_call_request_id: u32::from(last_call_request_id),
        cid_info: cids,
        ..InterpreterData::default()
    };
    signed.sign_into(&peers.p.1, PARTICLE_ID, &mut data.signatures);
    signed.sign_into(&peers.q.1, PARTICLE_ID, &mut data.signatures);
    data::encode(&data)
}

fn bytes(peers: &Peers, data: &Data) -> Vec<u8> {
    match data {
        Data::Empty => Vec::new(),
        Data::Trace {
            states,
            last_call_request_id,
        } => build(peers, states, *last_call_request_id),
        Data::Raw(bytes) => bytes.clone(),
    }
}

fn answer(answers: &[(i8, u8)], call_id: u32) -> CallServiceResult {
    let (code, v) = answers[call_id as usize % answers.len()];
    match code {
        0 => CallServiceResult::ok(&value(v)),
        code => CallServiceResult::err(i32::from(code), &value(v)),
    }
}

/// Separate steps, as a host without `execute_answering` runs them: while a step succeeds,
/// stays on this peer and asks for calls, answer them all and step again.
fn separate_steps(
    vm: &Vm,
    script: &str,
    prev: &[u8],
    current: &[u8],
    params: &RunParameters,
    results: &[u8],
    answers: &[(i8, u8)],
) -> vm::Outcome {
    let mut outcome = vm.execute(script, prev, current, params, results);
    let mut steps = 1;
    while outcome.ret_code == 0
        && outcome.next_peer_pks.is_empty()
        && !outcome.call_requests.is_empty()
        && steps < Vm::MAX_PASSES_PER_STEP
    {
        let results: CallResults = outcome
            .call_requests
            .keys()
            .map(|id| (*id, answer(answers, *id)))
            .collect();
        outcome = vm.execute(
            script,
            &outcome.data,
            &[],
            params,
            &encode_call_results(&results),
        );
        steps += 1;
    }
    outcome
}

fuzz_target!(|input: Input| {
    let peers = Peers::new();
    let script = SCRIPTS[input.script as usize % SCRIPTS.len()]
        .replace("@P", peers.id(false))
        .replace("@Q", peers.id(true));
    let prev = bytes(&peers, &input.prev);
    let current = bytes(&peers, &input.current);
    let results: CallResults = input
        .results
        .iter()
        .map(|(id, code, v)| {
            let result = match code {
                0 => CallServiceResult::ok(&value(*v)),
                code => CallServiceResult::err(i32::from(*code), &value(*v)),
            };
            (u32::from(*id), result)
        })
        .collect();
    let mut params = RunParameters::new(
        peers.id(false),
        peers.id(false),
        peers.p.0.clone(),
        PARTICLE_ID,
    );
    params.timestamp = 1_700_000_000_000;
    params.ttl = 30_000;
    let encoded_results = encode_call_results(&results);
    let outcome = vm::execute(&script, &prev, &current, &params, &encoded_results);
    if !input.answers.is_empty() {
        let vm = Vm::new();
        let answering = vm.execute_answering(
            &script,
            &prev,
            &current,
            &params,
            &encoded_results,
            &mut |id, _| Some(answer(&input.answers, id)),
        );
        let steps = separate_steps(
            &vm,
            &script,
            &prev,
            &current,
            &params,
            &encoded_results,
            &input.answers,
        );
        assert_eq!(
            answering.ret_code, steps.ret_code,
            "{}",
            answering.error_message
        );
        assert_eq!(answering.data, steps.data, "the data of separate steps");
        assert_eq!(answering.next_peer_pks, steps.next_peer_pks);
        assert_eq!(answering.call_requests, steps.call_requests);
    }
    let kept_prev = outcome.data == prev;
    let failed_outside_script = !(outcome.ret_code == 0
        || (10_000..20_000).contains(&outcome.ret_code)
        || outcome.ret_code == 30_000);
    if failed_outside_script {
        assert!(
            kept_prev,
            "code {} lost the previous data",
            outcome.ret_code
        );
        return;
    }
    let (_, written) = data::decode(&outcome.data).expect("the VM's data decodes");
    written
        .cid_info
        .verify()
        .expect("the VM's stores are consistent");
});
