//! The particle data format against the reference AquaVM 0.62, used as the oracle: data it writes
//! must read the same with `vm::data`, data `vm::data` writes must be accepted by it, and both must
//! reject the same broken or forged data with the same error class.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use air_interpreter_cid::CID;
use air_interpreter_interface::{
    CallArgumentsRepr, CallRequestsRepr, CallResultsRepr, SerializedCallResults, TetrapletsRepr,
};
use air_interpreter_sede::{FromSerialized, ToSerialized};
use reference_air::interpreter_data as refdata;
use reference_air::{execute_air, InterpreterOutcome, RunParameters, SecurityTetraplet};
use serde_json::{json, Value};
use vm::data::calls::{self, CallRequest, CallResults, CallServiceResult};
use vm::data::{
    self, CallResult, CallServiceFailed, CanonResult, Cid, CidStore, CidStoreError, DataError,
    Envelope, ExecutedState, InterpreterData, KeyError, KeyPair, Provenance, RawValue, Sender,
    ServiceResultCidAggregate, SharedStr, SignatureCheckError, SignatureStore, SignatureTracker,
    Tetraplet, ValueRef, Versions,
};

const PARTICLE_ID: &str = "particle-under-test";
const MIB: u64 = 1 << 20;

/// A peer with a real Ed25519 key, so that the reference signs and verifies.
struct Peer {
    secret: Vec<u8>,
    keypair: KeyPair,
}

impl Peer {
    fn new(seed: u8) -> Self {
        let secret = vec![seed; 32];
        let keypair = KeyPair::from_secret_key(&secret, 0).expect("a 32-byte Ed25519 secret");
        Self { secret, keypair }
    }

    fn id(&self) -> &str {
        self.keypair.peer_id()
    }

    fn params(&self, init: &Peer) -> RunParameters {
        RunParameters::new(
            init.id().to_owned(),
            self.id().to_owned(),
            1_700_000_000_000,
            60_000,
            0,
            self.secret.clone(),
            PARTICLE_ID.to_owned(),
            16 * MIB,
            64 * MIB,
            32 * MIB,
            false,
        )
    }
}

type Service<'a> = &'a dyn Fn(&CallRequest) -> CallServiceResult;

/// The services of the test scripts.
fn service(request: &CallRequest) -> CallServiceResult {
    match request.function_name.as_str() {
        "scalar" => CallServiceResult::ok(&json!({"list": [1, 2, 3], "b": "text", "a": null})),
        "stream" | "echo" => CallServiceResult::ok(&Value::Array(request.arguments.clone())),
        "unused" => CallServiceResult::ok(&json!(42)),
        "fail" => CallServiceResult::err(7, &json!("boom")),
        "remote" => CallServiceResult::ok(&json!(["from", "b"])),
        other => panic!("unexpected function {other}"),
    }
}

/// Like [`service`], but `remote` answers differently.
fn other_service(request: &CallRequest) -> CallServiceResult {
    match request.function_name.as_str() {
        "remote" => CallServiceResult::ok(&json!("another answer")),
        _ => service(request),
    }
}

/// Runs `air` on `peer` with the reference the way a host does: answers the call requests (decoded
/// and answered with `vm::data::calls`) and reruns until there are none. Returns every outcome.
fn run_reference(
    peer: &Peer,
    init: &Peer,
    air: &str,
    prev: Vec<u8>,
    current: Vec<u8>,
    service: Service<'_>,
) -> Vec<InterpreterOutcome> {
    let no_results = calls::encode_call_results(&CallResults::new());
    let mut outcomes = vec![execute_air(
        air.to_owned(),
        prev,
        current,
        peer.params(init),
        SerializedCallResults::from(no_results),
    )];
    loop {
        let last = outcomes.last().expect("at least one run");
        assert_eq!(last.ret_code, 0, "reference failed: {}", last.error_message);
        let requests = calls::decode_call_requests(&last.call_requests).expect("call requests");
        if requests.is_empty() {
            return outcomes;
        }
        let results: CallResults = requests
            .iter()
            .map(|(&id, request)| (id, service(request)))
            .collect();
        let outcome = execute_air(
            air.to_owned(),
            last.data.clone(),
            Vec::new(),
            peer.params(init),
            SerializedCallResults::from(calls::encode_call_results(&results)),
        );
        outcomes.push(outcome);
    }
}

/// One reference run with the given data and no call results; returns its outcome.
fn reference_step(
    peer: &Peer,
    init: &Peer,
    air: &str,
    prev: Vec<u8>,
    current: Vec<u8>,
) -> InterpreterOutcome {
    execute_air(
        air.to_owned(),
        prev,
        current,
        peer.params(init),
        SerializedCallResults::from(calls::encode_call_results(&CallResults::new())),
    )
}

/// A script that leaves every kind of state: calls into a scalar, a stream and nowhere, a failed
/// call, `par`, a fold over a stream, `ap`, canons on this peer and on another, and a call on
/// another peer.
fn script(b: &Peer) -> String {
    let b = b.id();
    format!(
        r#"
        (seq
          (seq
            (seq
              (call %init_peer_id% ("svc" "scalar") [] x)
              (par
                (call %init_peer_id% ("svc" "stream") ["a"] $s)
                (call %init_peer_id% ("svc" "stream") ["b"] $s)))
            (seq
              (fold $s v
                (seq
                  (ap v $t)
                  (next v))
                (null))
              (seq
                (canon %init_peer_id% $s #c)
                (seq
                  (call %init_peer_id% ("svc" "unused") [x.$.list #c])
                  (xor
                    (call %init_peer_id% ("svc" "fail") [x] y)
                    (null))))))
          (seq
            (par
              (call "{b}" ("svc" "remote") [x] z)
              (canon "{b}" $s #d))
            (call %init_peer_id% ("svc" "echo") [z #d] w)))
        "#
    )
}

/// The data of the script's three hops: A runs, B runs, A finishes.
struct Hops {
    a: Peer,
    b: Peer,
    air: String,
    /// Every outcome of A's first hop (intermediate ones have pending call requests).
    first: Vec<InterpreterOutcome>,
    a1: Vec<u8>,
    b1: Vec<u8>,
    a2: Vec<u8>,
}

fn hops() -> Hops {
    let a = Peer::new(1);
    let b = Peer::new(2);
    let air = script(&b);
    let first = run_reference(&a, &a, &air, vec![], vec![], &service);
    let a1 = first.last().expect("outcome").data.clone();
    assert_eq!(
        first.last().expect("outcome").next_peer_pks,
        vec![b.id().to_owned()]
    );
    let b1 = last_data(run_reference(&b, &a, &air, vec![], a1.clone(), &service));
    let a2 = last_data(run_reference(
        &a,
        &a,
        &air,
        a1.clone(),
        b1.clone(),
        &service,
    ));
    Hops {
        a,
        b,
        air,
        first,
        a1,
        b1,
        a2,
    }
}

fn last_data(outcomes: Vec<InterpreterOutcome>) -> Vec<u8> {
    outcomes.into_iter().last().expect("outcome").data
}

fn decode(bytes: &[u8]) -> InterpreterData {
    data::decode(bytes).expect("decodable data").1
}

/// The reference's own reading of a data, in its JSON form.
fn reference_json(bytes: &[u8]) -> Value {
    let envelope =
        refdata::InterpreterDataEnvelope::try_from_slice(bytes).expect("reference envelope");
    let data =
        refdata::InterpreterData::try_from_slice(&envelope.inner_data).expect("reference data");
    serde_json::to_value(&data).expect("JSON")
}

/// Our reading of a data, in the JSON form the reference gives its own (see `reference_json`).
fn our_json(data: &InterpreterData) -> Value {
    fn store<T>(store: &CidStore<T>, item: impl Fn(&T) -> Value) -> Value {
        Value::Object(
            store
                .iter()
                .map(|(cid, value)| (cid.to_string(), item(value)))
                .collect(),
        )
    }
    fn to_json<T: serde::Serialize>(item: &T) -> Value {
        serde_json::to_value(item).expect("JSON")
    }
    let trace: Vec<Value> = data.trace.iter().map(state_json).collect();
    let info = &data.cid_info;
    json!({
        "trace": trace,
        "lcid": data.last_call_request_id,
        "cid_info": {
            "value_store": store(&info.value_store, |v| json!(v.as_str())),
            "tetraplet_store": store(&info.tetraplet_store, to_json),
            "canon_element_store": store(&info.canon_element_store, to_json),
            "canon_result_store": store(&info.canon_result_store, to_json),
            "service_result_store": store(&info.service_result_store, to_json),
        },
        "signatures": to_json(&data.signatures),
    })
}

fn state_json(state: &ExecutedState) -> Value {
    match state {
        ExecutedState::Par(par) => json!({"par": [par.left_size, par.right_size]}),
        ExecutedState::Call(CallResult::RequestSentBy(Sender::PeerId(peer))) => {
            json!({"call": {"sent_by": {"PeerId": &**peer}}})
        }
        ExecutedState::Call(CallResult::RequestSentBy(Sender::PeerIdWithCallId {
            peer_id,
            call_id,
        })) => {
            json!({"call": {"sent_by": {"PeerIdWithCallId": {"peer_id": &**peer_id, "call_id": call_id}}}})
        }
        ExecutedState::Call(CallResult::Executed(ValueRef::Scalar(cid))) => {
            json!({"call": {"executed": {"scalar": cid.as_str()}}})
        }
        ExecutedState::Call(CallResult::Executed(ValueRef::Stream { cid, generation })) => {
            json!({"call": {"executed": {"stream": {"cid": cid.as_str(), "generation": generation}}}})
        }
        ExecutedState::Call(CallResult::Executed(ValueRef::Unused(cid))) => {
            json!({"call": {"executed": {"unused": cid.as_str()}}})
        }
        ExecutedState::Call(CallResult::Failed(cid)) => json!({"call": {"failed": cid.as_str()}}),
        ExecutedState::Fold(fold) => {
            let lore: Vec<Value> = fold
                .lore
                .iter()
                .map(|lore| {
                    let desc: Vec<Value> = lore
                        .subtraces_desc
                        .iter()
                        .map(|d| json!({"pos": d.begin_pos, "len": d.subtrace_len}))
                        .collect();
                    json!({"pos": lore.value_pos, "desc": desc})
                })
                .collect();
            json!({"fold": {"lore": lore}})
        }
        ExecutedState::Ap(ap) => json!({"ap": {"gens": ap.res_generations.as_slice()}}),
        ExecutedState::Canon(CanonResult::RequestSentBy(peer)) => {
            json!({"canon": {"sent_by": &**peer}})
        }
        ExecutedState::Canon(CanonResult::Executed(cid)) => {
            json!({"canon": {"executed": cid.as_str()}})
        }
    }
}

/// The reference's preparation error code for each class of `DataError`.
fn reference_code(error: &DataError) -> i64 {
    match error {
        DataError::DataDeFailed { .. } => 2,
        DataError::EnvelopeDeFailed { .. } => 3,
        DataError::EnvelopeDeFailedWithVersions { .. } => 4,
        DataError::UnsupportedInterpreterVersion { .. } => 6,
        DataError::CidStoreVerification(_) => 8,
        DataError::DataSignatureCheck(_) => 9,
    }
}

fn encode_envelope(interpreter_version: &str, inner_data: &[u8]) -> Vec<u8> {
    let envelope = Envelope {
        versions: Versions {
            data_version: data::DATA_FORMAT_VERSION,
            interpreter_version: interpreter_version.parse().expect("version"),
        },
        inner_data: Cow::Borrowed(inner_data),
    };
    rmp_serde::to_vec_named(&envelope).expect("envelope")
}

fn inner_data(bytes: &[u8]) -> Vec<u8> {
    data::decode_envelope(bytes)
        .expect("envelope")
        .inner_data
        .into_owned()
}

fn service_result(data: &InterpreterData, cid: &Cid) -> (Value, Tetraplet, SharedStr) {
    let info = &data.cid_info;
    let aggregate = info.service_result_store.get(cid).expect("service result");
    let value = info.value_store.get(&aggregate.value_cid).expect("value");
    let tetraplet = info
        .tetraplet_store
        .get(&aggregate.tetraplet_cid)
        .expect("tetraplet");
    (
        value.value().expect("JSON").clone(),
        (**tetraplet).clone(),
        aggregate.argument_hash.clone(),
    )
}

fn tetraplet(peer: &str, service_id: &str, function_name: &str, lens: &str) -> Tetraplet {
    Tetraplet {
        peer_pk: peer.into(),
        service_id: service_id.into(),
        function_name: function_name.into(),
        lens: lens.into(),
    }
}

/// Replaces the value stored under `cid` without changing the CID.
fn replace_value(data: &mut InterpreterData, cid: &Cid, value: &Value) {
    let store: CidStore<RawValue> = data
        .cid_info
        .value_store
        .iter()
        .map(|(key, old)| {
            let new = if key == cid {
                Rc::new(RawValue::from_value(value))
            } else {
                old.clone()
            };
            (key.clone(), new)
        })
        .collect();
    data.cid_info.value_store = store;
}

fn first_call_of(data: &InterpreterData, function_name: &str) -> (usize, Cid) {
    data.trace
        .iter()
        .enumerate()
        .find_map(|(position, state)| match state {
            ExecutedState::Call(CallResult::Executed(
                ValueRef::Scalar(cid) | ValueRef::Stream { cid, .. },
            )) if *service_result(data, cid).1.function_name == *function_name => {
                Some((position, cid.clone()))
            }
            _ => None,
        })
        .expect("call in the trace")
}

#[test]
fn json_objects_are_written_with_sorted_keys() {
    // CIDs of values depend on it; serde_json's `preserve_order` feature would break it.
    assert_eq!(
        json!({"b": 1, "a": {"d": 2, "c": 3}}).to_string(),
        r#"{"a":{"c":3,"d":2},"b":1}"#
    );
}

#[test]
fn cids_match_the_reference() {
    let values = [
        json!("test"),
        json!(1),
        json!(-1.5),
        json!(null),
        json!([1, 2, 3]),
        json!({"key": 42, "another": ["x", {"z": true, "y": false}]}),
        json!("unicode é ✓ \u{1F600} and \"quotes\" \\ and \n newline"),
    ];
    for value in &values {
        let reference = air_interpreter_cid::value_to_json_cid(value).expect("CID");
        assert_eq!(
            data::value_cid(value).as_str(),
            &*reference.get_inner(),
            "{value}"
        );
        assert_eq!(RawValue::from_value(value).cid(), data::value_cid(value));
    }

    let arguments = vec![json!("a"), json!({"k": [1, 2]})];
    let reference = air_interpreter_cid::value_to_json_cid(&arguments).expect("CID");
    assert_eq!(*data::argument_hash(&arguments), *reference.get_inner());

    let ours = tetraplet("12D3KooWpeer", "svc", "fn", ".$.[0]");
    let theirs = SecurityTetraplet {
        peer_pk: "12D3KooWpeer".to_owned(),
        service_id: "svc".to_owned(),
        function_name: "fn".to_owned(),
        lens: ".$.[0]".to_owned(),
    };
    let reference = air_interpreter_cid::value_to_json_cid(&theirs).expect("CID");
    assert_eq!(data::serde_cid(&ours).as_str(), &*reference.get_inner());

    let value = data::value_cid(&json!(1));
    let tetraplet_cid = data::serde_cid(&ours);
    let ours = ServiceResultCidAggregate {
        value_cid: value.clone(),
        argument_hash: data::argument_hash(&arguments),
        tetraplet_cid: tetraplet_cid.clone(),
    };
    let theirs = refdata::ServiceResultCidAggregate::new(
        CID::new(value.as_str()),
        Rc::from(&*data::argument_hash(&arguments)),
        CID::new(tetraplet_cid.as_str()),
    );
    let result_cid = air_interpreter_cid::value_to_json_cid(&theirs).expect("CID");
    assert_eq!(data::serde_cid(&ours).as_str(), &*result_cid.get_inner());

    let provenances = [
        (Provenance::Literal, refdata::Provenance::literal()),
        (
            Provenance::ServiceResult { cid: value.clone() },
            refdata::Provenance::service_result(CID::new(value.as_str())),
        ),
        (
            Provenance::Canon { cid: value.clone() },
            refdata::Provenance::canon(CID::new(value.as_str())),
        ),
    ];
    for (ours, theirs) in provenances {
        let ours = data::CanonCidAggregate {
            value: value.clone(),
            tetraplet: tetraplet_cid.clone(),
            provenance: ours,
        };
        let theirs = refdata::CanonCidAggregate::new(
            CID::new(value.as_str()),
            CID::new(tetraplet_cid.as_str()),
            theirs,
        );
        let reference = air_interpreter_cid::value_to_json_cid(&theirs).expect("CID");
        assert_eq!(
            data::serde_cid(&ours).as_str(),
            &*reference.get_inner(),
            "{ours:?}"
        );
    }

    let ours = data::CanonResultCidAggregate {
        tetraplet: tetraplet_cid.clone(),
        values: vec![value.clone(), value.clone()],
    };
    let theirs = refdata::CanonResultCidAggregate::new(
        CID::new(tetraplet_cid.as_str()),
        vec![CID::new(value.as_str()), CID::new(value.as_str())],
    );
    let reference = air_interpreter_cid::value_to_json_cid(&theirs).expect("CID");
    assert_eq!(data::serde_cid(&ours).as_str(), &*reference.get_inner());

    let failed = CallServiceFailed {
        ret_code: 7,
        message: "\"boom\"".into(),
    };
    assert_eq!(
        failed.to_value().to_string(),
        r#"{"message":"\"boom\"","ret_code":7}"#
    );
    assert_eq!(
        CallServiceFailed::from_value(&failed.to_value()).expect("failure"),
        failed
    );
}

#[test]
fn sha2_cids_are_accepted_when_verifying() {
    use sha2::Digest as _;

    let text = r#"{"a":1}"#;
    let digest = sha2::Sha256::digest(text.as_bytes());
    let multihash = cid::multihash::Multihash::<64>::wrap(0x12, &digest).expect("multihash");
    let sha2_cid = Cid::new(cid::Cid::new_v1(0x0200, multihash).to_string());
    air_interpreter_cid::verify_raw_value::<Value>(&CID::new(sha2_cid.as_str()), text)
        .expect("the reference accepts it");
    data::verify_cid(&sha2_cid, text).expect("we accept it");
    assert_eq!(
        data::verify_cid(&sha2_cid, r#"{"a":2}"#),
        Err(data::CidMismatch::HashMismatch)
    );

    let truncated = cid::multihash::Multihash::<64>::wrap(
        0x1e,
        &blake3::hash(text.as_bytes()).as_bytes()[..16],
    )
    .expect("multihash");
    let truncated = Cid::new(cid::Cid::new_v1(0x0200, truncated).to_string());
    assert_eq!(
        data::verify_cid(&truncated, text),
        Err(data::CidMismatch::HashMismatch)
    );

    let raw_codec = Cid::new(cid::Cid::new_v1(0x55, multihash).to_string());
    assert_eq!(
        data::verify_cid(&raw_codec, text),
        Err(data::CidMismatch::UnsupportedCodec(0x55))
    );
    assert!(matches!(
        data::verify_cid(&Cid::new("not a cid"), text),
        Err(data::CidMismatch::Malformed(_))
    ));
}

#[test]
fn keys_and_peer_ids_match_fluence_keypair() {
    for seed in 1..=3 {
        let ours = Peer::new(seed);
        let theirs = fluence_keypair::KeyPair::from_secret_key(
            vec![seed; 32],
            fluence_keypair::KeyFormat::Ed25519,
        )
        .expect("key");
        assert_eq!(
            ours.keypair.public_key().as_bytes(),
            theirs.public().encode().as_slice()
        );
        assert_eq!(ours.id(), theirs.get_peer_id().to_string());
        assert!(ours.id().starts_with("12D3KooW"));
        assert_eq!(
            ours.keypair.public_key().peer_id().as_deref(),
            Ok(ours.id())
        );
    }
}

#[test]
fn only_ed25519_keys_are_accepted() {
    let secret = [7u8; 32];
    assert_eq!(
        KeyPair::from_secret_key(&secret, 1).err(),
        Some(KeyError::AlgorithmNotWhitelisted("RSA"))
    );
    assert_eq!(
        KeyPair::from_secret_key(&secret, 2).err(),
        Some(KeyError::AlgorithmNotWhitelisted("secp256k1"))
    );
    assert_eq!(
        KeyPair::from_secret_key(&secret, 9).err(),
        Some(KeyError::UnknownKeyFormat(9))
    );
    assert!(matches!(
        KeyPair::from_secret_key(&secret[..31], 0),
        Err(KeyError::InvalidKeyData(_))
    ));

    // The reference rejects the secp256k1 key too (MalformedKeyPairData).
    let peer = Peer::new(1);
    let mut params = peer.params(&peer);
    params.key_format = 2;
    let outcome = execute_air(
        "(null)".to_owned(),
        vec![],
        vec![],
        params,
        SerializedCallResults::from(calls::encode_call_results(&CallResults::new())),
    );
    assert_eq!(outcome.ret_code, 7, "{}", outcome.error_message);
}

#[test]
fn reference_data_reads_the_same() {
    let hops = hops();
    for bytes in hops
        .first
        .iter()
        .map(|o| &o.data)
        .chain([&hops.a1, &hops.b1, &hops.a2])
    {
        let (versions, ours) = data::decode(bytes).expect("decodable");
        assert_eq!(our_json(&ours), reference_json(bytes));
        assert_eq!(versions, Versions::current());
    }

    // An intermediate outcome: requests to the host are recorded with their call ids.
    let waiting = decode(&hops.first[0].data);
    let a = Rc::<str>::from(hops.a.id());
    assert_eq!(
        waiting.trace,
        vec![ExecutedState::Call(CallResult::RequestSentBy(
            Sender::PeerIdWithCallId {
                peer_id: a.clone(),
                call_id: 1,
            }
        ))]
    );
    assert_eq!(waiting.last_call_request_id, 1);
    let requests = calls::decode_call_requests(&hops.first[0].call_requests).expect("requests");
    let expected = CallRequest {
        service_id: "svc".to_owned(),
        function_name: "scalar".to_owned(),
        arguments: vec![],
        tetraplets: vec![],
    };
    assert_eq!(requests, BTreeMap::from([(1, expected)]));

    // A's first hop forwarded the call and the canon to B.
    let a1 = decode(&hops.a1);
    assert!(a1
        .trace
        .contains(&ExecutedState::Call(CallResult::RequestSentBy(
            Sender::PeerId(a.clone())
        ))));
    assert!(a1
        .trace
        .contains(&ExecutedState::Canon(CanonResult::RequestSentBy(a.clone()))));

    // The finished data: every kind of state, with the values the services returned.
    let a2 = decode(&hops.a2);
    let (_, scalar) = first_call_of(&a2, "scalar");
    let (value, origin, argument_hash) = service_result(&a2, &scalar);
    assert_eq!(value, json!({"list": [1, 2, 3], "b": "text", "a": null}));
    assert_eq!(origin, tetraplet(hops.a.id(), "svc", "scalar", ""));
    assert_eq!(argument_hash, data::argument_hash(&[]));

    let (remote_pos, remote) = first_call_of(&a2, "remote");
    let (value, origin, _) = service_result(&a2, &remote);
    assert_eq!(value, json!(["from", "b"]));
    assert_eq!(&*origin.peer_pk, hops.b.id());
    assert!(matches!(a2.trace[remote_pos - 1], ExecutedState::Par(_)));

    let streams: Vec<(Value, u32)> = a2
        .trace
        .iter()
        .filter_map(|state| match state {
            ExecutedState::Call(CallResult::Executed(ValueRef::Stream { cid, generation })) => {
                Some((service_result(&a2, cid).0, *generation))
            }
            _ => None,
        })
        .collect();
    assert_eq!(streams, vec![(json!(["a"]), 0), (json!(["b"]), 0)]);

    let unused = a2.trace.iter().find_map(|state| match state {
        ExecutedState::Call(CallResult::Executed(ValueRef::Unused(cid))) => Some(cid.clone()),
        _ => None,
    });
    assert_eq!(unused, Some(data::value_cid(&json!(42))));

    let failed = a2.trace.iter().find_map(|state| match state {
        ExecutedState::Call(CallResult::Failed(cid)) => Some(service_result(&a2, cid)),
        _ => None,
    });
    let (value, origin, _) = failed.expect("a failed call");
    let failure = CallServiceFailed::from_value(&value).expect("a failure record");
    assert_eq!(
        failure,
        CallServiceFailed {
            ret_code: 7,
            message: "\"boom\"".into()
        }
    );
    assert_eq!(origin, tetraplet(hops.a.id(), "svc", "fail", ""));

    let folds = a2
        .trace
        .iter()
        .filter(|state| matches!(state, ExecutedState::Fold(_)))
        .count();
    let aps = a2
        .trace
        .iter()
        .filter(|state| matches!(state, ExecutedState::Ap(_)))
        .count();
    assert_eq!((folds, aps), (1, 2));
    let fold = a2.trace.iter().find_map(|state| match state {
        ExecutedState::Fold(fold) => Some(fold),
        _ => None,
    });
    assert!(fold
        .expect("fold")
        .lore
        .iter()
        .all(|lore| lore.subtraces_desc.len() == 2));

    let canon_peers: Vec<String> = a2
        .trace
        .iter()
        .filter_map(|state| match state {
            ExecutedState::Canon(CanonResult::Executed(cid)) => {
                let canon = a2.cid_info.canon_result_store.get(cid).expect("canon");
                let elements: Vec<Value> = canon
                    .values
                    .iter()
                    .map(|element| {
                        let element = a2
                            .cid_info
                            .canon_element_store
                            .get(element)
                            .expect("element");
                        assert!(matches!(
                            element.provenance,
                            Provenance::ServiceResult { .. }
                        ));
                        let value = a2.cid_info.value_store.get(&element.value).expect("value");
                        value.value().expect("JSON").clone()
                    })
                    .collect();
                assert_eq!(elements, vec![json!(["a"]), json!(["b"])]);
                let origin = a2
                    .cid_info
                    .tetraplet_store
                    .get(&canon.tetraplet)
                    .expect("tetraplet");
                Some(origin.peer_pk.to_string())
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        canon_peers,
        vec![hops.a.id().to_owned(), hops.b.id().to_owned()]
    );

    // Both peers signed.
    let signers: Vec<String> = a2
        .signatures
        .iter()
        .map(|(key, _)| key.peer_id().expect("Ed25519 key"))
        .collect();
    assert_eq!(signers.len(), 2);
    assert!(signers.contains(&hops.a.id().to_owned()) && signers.contains(&hops.b.id().to_owned()));
}

#[test]
fn our_encoding_round_trips_and_is_deterministic() {
    let hops = hops();
    for bytes in [&hops.a1, &hops.b1, &hops.a2] {
        let ours = decode(bytes);
        let encoded = data::encode(&ours);
        let (versions, again) = data::decode(&encoded).expect("our own data");
        assert_eq!(versions, Versions::current());
        assert_eq!(again, ours);
        assert_eq!(data::encode(&again), encoded);
        // Equal peer ids are stored once, so our archive is no larger than the reference's.
        assert!(inner_data(&encoded).len() <= inner_data(bytes).len());
    }
    assert_eq!(
        data::decode(&data::encode(&InterpreterData::default()))
            .expect("empty")
            .1,
        InterpreterData::default()
    );
}

#[test]
fn the_reference_reads_our_data_the_same() {
    let hops = hops();
    for bytes in [&hops.a1, &hops.b1, &hops.a2] {
        let ours = data::encode(&decode(bytes));
        assert_eq!(reference_json(&ours), reference_json(bytes));
        let versions = refdata::InterpreterDataEnvelope::try_get_versions(&ours).expect("versions");
        assert_eq!(versions.data_version.to_string(), "0.17.2");
        assert_eq!(versions.interpreter_version.to_string(), "0.62.0");
    }
}

#[test]
fn the_reference_continues_from_our_data() {
    let hops = hops();
    let a1 = data::encode(&decode(&hops.a1));
    let b1 = last_data(run_reference(
        &hops.b,
        &hops.a,
        &hops.air,
        vec![],
        a1.clone(),
        &service,
    ));
    assert_eq!(reference_json(&b1), reference_json(&hops.b1));

    let b1 = data::encode(&decode(&b1));
    let a2 = last_data(run_reference(&hops.a, &hops.a, &hops.air, a1, b1, &service));
    assert_eq!(reference_json(&a2), reference_json(&hops.a2));
}

#[test]
fn the_envelope_is_written_like_the_reference_writes_it() {
    let hops = hops();
    let envelope = data::decode_envelope(&hops.a2).expect("envelope");
    assert_eq!(
        rmp_serde::to_vec_named(&envelope).expect("envelope"),
        hops.a2
    );

    let empty = data::decode_envelope(&[]).expect("empty data");
    assert_eq!(
        empty.versions.interpreter_version,
        data::MIN_SUPPORTED_INTERPRETER_VERSION
    );
    assert_eq!(
        data::decode(&[]).expect("empty data").1,
        InterpreterData::default()
    );
}

#[test]
fn our_data_verifies_and_so_does_the_references() {
    let hops = hops();
    for bytes in [&hops.a1, &hops.b1, &hops.a2] {
        data::verify(&decode(bytes), PARTICLE_ID).expect("valid data");
    }
    let merged = data::verify_and_merge(&decode(&hops.a1), &decode(&hops.b1), PARTICLE_ID)
        .expect("valid merge");
    assert_eq!(merged, decode(&hops.b1).signatures);

    // Our signature over the CIDs a peer produced is byte for byte the reference's.
    let a2 = decode(&hops.a2);
    let mut tracker = SignatureTracker::default();
    for state in &a2.trace {
        let (cid, origin) = match state {
            ExecutedState::Call(
                CallResult::Executed(ValueRef::Scalar(cid) | ValueRef::Stream { cid, .. })
                | CallResult::Failed(cid),
            ) => (cid, service_result(&a2, cid).1),
            ExecutedState::Canon(CanonResult::Executed(cid)) => {
                let canon = a2.cid_info.canon_result_store.get(cid).expect("canon");
                (
                    cid,
                    (**a2
                        .cid_info
                        .tetraplet_store
                        .get(&canon.tetraplet)
                        .expect("tetraplet"))
                    .clone(),
                )
            }
            _ => continue,
        };
        tracker.register(&origin.peer_pk, cid);
    }
    for peer in [&hops.a, &hops.b] {
        let mut store = SignatureStore::default();
        tracker.sign_into(&peer.keypair, PARTICLE_ID, &mut store);
        let key = peer.keypair.public_key();
        assert_eq!(
            store.get(&key),
            a2.signatures.get(&key),
            "signature of {}",
            peer.id()
        );
    }
}

#[test]
fn data_we_sign_is_accepted_by_the_reference() {
    let b = Peer::new(2);
    let c = Peer::new(3);
    let air = format!(
        r#"(seq (call "{c}" ("svc" "remote") ["arg"] x) (call "{b}" ("svc" "echo") [x] y))"#,
        c = c.id(),
        b = b.id()
    );
    // The data C would have sent after running the first call.
    let mut sent = InterpreterData::default();
    let origin = tetraplet(c.id(), "svc", "remote", "");
    let value = json!({"made": ["by", "us"]});
    let cid = sent.cid_info.insert_service_result(
        &value,
        origin.clone(),
        data::argument_hash(&[json!("arg")]),
    );
    sent.trace
        .push(ExecutedState::Call(CallResult::Executed(ValueRef::Scalar(
            cid.clone(),
        ))));
    let mut tracker = SignatureTracker::default();
    tracker.register(c.id(), &cid);
    tracker.sign_into(&c.keypair, PARTICLE_ID, &mut sent.signatures);
    data::verify(&sent, PARTICLE_ID).expect("our data verifies");

    let first = reference_step(&b, &c, &air, vec![], data::encode(&sent));
    assert_eq!(first.ret_code, 0, "{}", first.error_message);
    let requests = calls::decode_call_requests(&first.call_requests).expect("requests");
    let request = requests.values().next().expect("the echo call");
    assert_eq!(request.arguments, vec![value.clone()]);
    assert_eq!(request.tetraplets, vec![vec![origin]]);

    let outcomes = run_reference(&b, &c, &air, vec![], data::encode(&sent), &service);
    let done = decode(&outcomes.last().expect("outcome").data);
    data::verify(&done, PARTICLE_ID).expect("the reference's data verifies");
    assert_eq!(done.signatures.len(), 2);
    assert_eq!(
        done.signatures.get(&c.keypair.public_key()),
        sent.signatures.get(&c.keypair.public_key())
    );
}

/// Checks that we reject `bytes` with `expected` and that the reference rejects it with the same
/// error code, received by A after its first hop.
fn assert_both_reject(hops: &Hops, bytes: Vec<u8>, expected: impl Fn(&DataError) -> bool) {
    let ours = match data::decode(&bytes) {
        Err(error) => error,
        Ok((_, received)) => data::verify_and_merge(&decode(&hops.a1), &received, PARTICLE_ID)
            .expect_err("we must reject it"),
    };
    assert!(expected(&ours), "unexpected error: {ours}");
    let outcome = reference_step(&hops.a, &hops.a, &hops.air, hops.a1.clone(), bytes);
    assert_eq!(
        outcome.ret_code,
        reference_code(&ours),
        "ours: {ours}\nreference: {}",
        outcome.error_message
    );
    assert_eq!(
        outcome.data, hops.a1,
        "a rejected data leaves the previous data as it was"
    );
}

#[test]
fn a_tampered_value_is_rejected() {
    let hops = hops();
    let mut b1 = decode(&hops.b1);
    let (_, remote) = first_call_of(&b1, "remote");
    let value_cid = b1
        .cid_info
        .service_result_store
        .get(&remote)
        .expect("result")
        .value_cid
        .clone();
    replace_value(&mut b1, &value_cid, &json!("forged"));

    let error = data::verify(&b1, PARTICLE_ID).expect_err("tampered");
    let DataError::CidStoreVerification(CidStoreError::ValueMismatch { store, cid, .. }) = &error
    else {
        panic!("unexpected error: {error}");
    };
    assert_eq!((*store, cid), ("value", &value_cid));
    assert!(error.to_string().contains(value_cid.as_str()), "{error}");
    assert_both_reject(&hops, data::encode(&b1), |e| {
        matches!(e, DataError::CidStoreVerification(_))
    });
}

#[test]
fn a_consistently_replaced_value_breaks_the_signature() {
    let hops = hops();
    let mut b1 = decode(&hops.b1);
    let (position, remote) = first_call_of(&b1, "remote");
    let (_, origin, argument_hash) = service_result(&b1, &remote);
    let forged = b1
        .cid_info
        .insert_service_result(&json!("forged"), origin, argument_hash);
    b1.trace[position] = ExecutedState::Call(CallResult::Executed(ValueRef::Scalar(forged)));

    let error = data::verify(&b1, PARTICLE_ID).expect_err("forged");
    let DataError::DataSignatureCheck(SignatureCheckError::SignatureMismatch { peer_id, .. }) =
        &error
    else {
        panic!("unexpected error: {error}");
    };
    assert_eq!(peer_id, hops.b.id());
    assert_both_reject(&hops, data::encode(&b1), |e| {
        matches!(
            e,
            DataError::DataSignatureCheck(SignatureCheckError::SignatureMismatch { .. })
        )
    });
}

#[test]
fn a_forged_signature_is_rejected() {
    let hops = hops();
    let mut b1 = decode(&hops.b1);
    let key = hops.b.keypair.public_key();
    let cids: Vec<Rc<str>> = vec![Rc::from("bagaaihra-some-other-cid")];
    b1.signatures
        .put(key, hops.b.keypair.sign(&cids, PARTICLE_ID));

    let error = data::verify(&b1, PARTICLE_ID).expect_err("forged");
    assert!(
        matches!(&error, DataError::DataSignatureCheck(SignatureCheckError::SignatureMismatch { peer_id, .. }) if peer_id == hops.b.id()),
        "{error}"
    );
    assert_both_reject(&hops, data::encode(&b1), |e| {
        matches!(e, DataError::DataSignatureCheck(_))
    });

    // A valid signature made for another particle does not do either.
    let error = data::verify(&decode(&hops.b1), "another-particle").expect_err("other salt");
    assert!(
        matches!(
            error,
            DataError::DataSignatureCheck(SignatureCheckError::SignatureMismatch { .. })
        ),
        "{error}"
    );
}

#[test]
fn a_missing_signature_is_rejected() {
    let hops = hops();
    let mut b1 = decode(&hops.b1);
    let b_key = hops.b.keypair.public_key();
    b1.signatures = b1
        .signatures
        .iter()
        .filter(|(key, _)| **key != b_key)
        .map(|(key, signature)| (key.clone(), signature.clone()))
        .collect();

    let error = data::verify(&b1, PARTICLE_ID).expect_err("unsigned");
    assert!(
        matches!(&error, DataError::DataSignatureCheck(SignatureCheckError::PeerIdNotFound { peer_id }) if peer_id == hops.b.id()),
        "{error}"
    );
    assert_both_reject(&hops, data::encode(&b1), |e| {
        matches!(e, DataError::DataSignatureCheck(_))
    });
}

#[test]
fn a_malformed_key_is_rejected() {
    let hops = hops();
    let mut b1 = decode(&hops.b1);
    let signature = b1
        .signatures
        .iter()
        .next()
        .map(|(_, s)| s.clone())
        .expect("a signature");
    let bad_key: data::PublicKey =
        serde_json::from_value(json!(bs58::encode([2u8; 33]).into_string())).expect("base58 key");
    b1.signatures.put(bad_key, signature);
    let error = data::verify(&b1, PARTICLE_ID).expect_err("malformed key");
    assert!(
        matches!(
            &error,
            DataError::DataSignatureCheck(SignatureCheckError::MalformedKey { .. })
        ),
        "{error}"
    );
}

#[test]
fn rewritten_history_is_rejected_on_merge() {
    let hops = hops();
    // B answers the same call differently in another run; both datas are validly signed.
    let b1_other = last_data(run_reference(
        &hops.b,
        &hops.a,
        &hops.air,
        vec![],
        hops.a1.clone(),
        &other_service,
    ));
    data::verify(&decode(&b1_other), PARTICLE_ID).expect("validly signed");

    let error = data::verify_and_merge(&decode(&hops.b1), &decode(&b1_other), PARTICLE_ID)
        .expect_err("rewritten");
    assert!(
        matches!(&error, DataError::DataSignatureCheck(SignatureCheckError::MergeMismatch { peer_id, .. }) if peer_id == hops.b.id()),
        "{error}"
    );
    let outcome = reference_step(&hops.a, &hops.a, &hops.air, hops.b1.clone(), b1_other);
    assert_eq!(outcome.ret_code, 9, "{}", outcome.error_message);
}

#[test]
fn a_dangling_reference_is_rejected() {
    let hops = hops();
    let mut b1 = decode(&hops.b1);
    let (_, remote) = first_call_of(&b1, "remote");
    let removed = b1
        .cid_info
        .service_result_store
        .get(&remote)
        .expect("result")
        .tetraplet_cid
        .clone();
    b1.cid_info.tetraplet_store = b1
        .cid_info
        .tetraplet_store
        .iter()
        .filter(|(cid, _)| **cid != removed)
        .map(|(cid, tetraplet)| (cid.clone(), tetraplet.clone()))
        .collect();

    let error = data::verify(&b1, PARTICLE_ID).expect_err("dangling");
    assert!(
        matches!(&error, DataError::CidStoreVerification(CidStoreError::MissingReference { to_cid, .. }) if *to_cid == removed),
        "{error}"
    );
    assert_both_reject(&hops, data::encode(&b1), |e| {
        matches!(e, DataError::CidStoreVerification(_))
    });
}

#[test]
fn a_trace_state_naming_nothing_is_rejected() {
    // The reference would panic on this one, so only we are asked.
    let hops = hops();
    let mut b1 = decode(&hops.b1);
    let (position, _) = first_call_of(&b1, "remote");
    let nowhere = data::value_cid(&json!("not stored"));
    b1.trace[position] = ExecutedState::Call(CallResult::Failed(nowhere.clone()));
    let error = data::verify(&b1, PARTICLE_ID).expect_err("dangling");
    assert!(
        matches!(&error, DataError::CidStoreVerification(CidStoreError::MissingTraceReference { position: p, cid, .. }) if *p == position && *cid == nowhere),
        "{error}"
    );
    let error = data::verify_and_merge(&b1, &InterpreterData::default(), PARTICLE_ID)
        .expect_err("dangling prev");
    assert!(
        matches!(error, DataError::CidStoreVerification(_)),
        "{error}"
    );
}

/// Which error a broken input must give.
type Expectation = fn(&DataError) -> bool;

#[test]
fn broken_envelopes_get_the_references_error_classes() {
    let hops = hops();
    let inner = inner_data(&hops.a2);

    let mut not_data = b"definitely not particle data".to_vec();
    not_data.extend_from_slice(&hops.a2[..20]);
    let cases: Vec<(&str, Vec<u8>, Expectation)> = vec![
        ("not msgpack", not_data, |e| {
            matches!(e, DataError::EnvelopeDeFailed { .. })
        }),
        (
            "inner data is a number",
            rmp_serde::to_vec_named(
                &json!({"version": "0.17.2", "interpreter_version": "0.62.0", "inner_data": 42}),
            )
            .expect("msgpack"),
            |e| matches!(e, DataError::EnvelopeDeFailedWithVersions { versions, .. } if versions.interpreter_version.to_string() == "0.62.0"),
        ),
        (
            "garbage archive",
            encode_envelope("0.62.0", b"0123456789abcdef0123456789abcdef"),
            |e| matches!(e, DataError::DataDeFailed { .. }),
        ),
        ("empty archive", encode_envelope("0.62.0", b""), |e| {
            matches!(e, DataError::DataDeFailed { .. })
        }),
        ("old interpreter", encode_envelope("0.60.9", &inner), |e| {
            matches!(e, DataError::UnsupportedInterpreterVersion { .. })
        }),
        (
            "old interpreter, garbage archive",
            encode_envelope("0.1.0", b"garbage"),
            |e| matches!(e, DataError::UnsupportedInterpreterVersion { .. }),
        ),
    ];
    for (name, bytes, expected) in cases {
        let error = data::decode(&bytes).expect_err(name);
        assert!(expected(&error), "{name}: {error}");
        let outcome = reference_step(&hops.a, &hops.a, &hops.air, vec![], bytes);
        assert_eq!(
            outcome.ret_code,
            reference_code(&error),
            "{name}: {}",
            outcome.error_message
        );
    }

    // Cut anywhere, the envelope is rejected the same way by both.
    for cut in (1..hops.a2.len())
        .step_by(97)
        .chain([1, 2, 5, 17, 40, 60, hops.a2.len() - 1])
    {
        let bytes = hops.a2[..cut].to_vec();
        let error = data::decode(&bytes).expect_err("truncated");
        let outcome = reference_step(&hops.a, &hops.a, &hops.air, vec![], bytes);
        assert_eq!(
            outcome.ret_code,
            reference_code(&error),
            "cut at {cut}: ours {error}"
        );
    }
}

#[test]
fn corrupted_archives_are_accepted_or_rejected_exactly_as_by_the_reference() {
    let hops = hops();
    let theirs = inner_data(&hops.a2);
    let ours = inner_data(&data::encode(&decode(&hops.a2)));
    for archive in [theirs, ours] {
        for position in 0..archive.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut corrupted = archive.clone();
                corrupted[position] ^= flip;
                let ours = data::decode_inner(&corrupted);
                let accepted_by_them = refdata::InterpreterData::try_from_slice(&corrupted).is_ok();
                // The one deliberate difference: a length of a shared string changed in one
                // place only, which the reference reads unchecked and we reject.
                let shared_size_mismatch = matches!(&ours,
                    Err(DataError::DataDeFailed { reason }) if reason.contains("disagree on its size"));
                assert!(
                    ours.is_ok() == accepted_by_them || (accepted_by_them && shared_size_mismatch),
                    "byte {position} ^ {flip:#x}: ours {:?}, the reference's accepted: {accepted_by_them}",
                    ours.err()
                );
            }
        }
        for cut in 0..archive.len() {
            let truncated = &archive[..cut];
            let accepted_by_us = data::decode_inner(truncated).is_ok();
            let accepted_by_them = refdata::InterpreterData::try_from_slice(truncated).is_ok();
            assert_eq!(accepted_by_us, accepted_by_them, "cut at {cut}");
        }
    }
}

/// Found by the `vm_data` fuzz target: two shared pointers to one string with different
/// lengths. rkyv 0.7 validates a shared target once, so the longer one would read unchecked
/// bytes; the data is rejected instead.
#[test]
fn shared_pointers_that_disagree_on_a_size_are_rejected() {
    let bytes = include_bytes!("data/shared_pointers_disagree.data");
    match data::decode(bytes) {
        Err(DataError::DataDeFailed { reason }) => {
            assert!(reason.contains("disagree on its size"), "{reason}")
        }
        other => panic!("expected a decoding error, got {other:?}"),
    }
}

#[test]
fn random_bytes_never_panic() {
    // A small deterministic generator is enough to sweep shapes; proptest-style shrinking is not
    // needed for a no-panic property.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for length in 0..600 {
        let bytes: Vec<u8> = (0..length).map(|_| next() as u8).collect();
        let _ = data::decode(&bytes);
        let _ = data::decode_inner(&bytes);
        let _ = data::decode(&encode_envelope("0.62.0", &bytes));
        let _ = calls::decode_call_results(&bytes);
        let _ = calls::decode_call_requests(&bytes);
    }
}

#[test]
fn call_requests_and_results_interoperate() {
    let tetraplets = vec![vec![tetraplet("12D3KooWpeer", "svc", "fn", ".$.a")], vec![]];
    let request = CallRequest {
        service_id: "svc".to_owned(),
        function_name: "fn".to_owned(),
        arguments: vec![json!({"a": [1, 2.5, -3]}), json!(null)],
        tetraplets: tetraplets.clone(),
    };
    let requests = BTreeMap::from([
        (3, request.clone()),
        (
            7,
            CallRequest {
                arguments: vec![],
                tetraplets: vec![],
                ..request.clone()
            },
        ),
    ]);
    let encoded = calls::encode_call_requests(&requests);
    assert_eq!(
        calls::decode_call_requests(&encoded).expect("ours"),
        requests
    );

    let theirs = CallRequestsRepr
        .deserialize(&encoded)
        .expect("the reference reads our requests");
    assert_eq!(theirs.len(), 2);
    let params = &theirs[&3];
    assert_eq!(
        (params.service_id.as_str(), params.function_name.as_str()),
        ("svc", "fn")
    );
    let arguments: Vec<Value> = CallArgumentsRepr
        .deserialize(&params.arguments)
        .expect("arguments");
    assert_eq!(arguments, request.arguments);
    let their_tetraplets: Vec<Vec<SecurityTetraplet>> = TetrapletsRepr
        .deserialize(&params.tetraplets)
        .expect("tetraplets");
    assert_eq!(their_tetraplets[0][0].lens, ".$.a");
    assert_eq!(their_tetraplets[1].len(), 0);

    let results = BTreeMap::from([
        (1, CallServiceResult::ok(&json!({"x": 1}))),
        (22, CallServiceResult::err(3, &json!("no"))),
    ]);
    let theirs: HashMap<String, air_interpreter_interface::CallServiceResult> = CallResultsRepr
        .deserialize(&calls::encode_call_results(&results))
        .expect("the reference reads our results");
    assert_eq!(theirs["22"].ret_code, 3);
    assert_eq!(theirs["1"].result, r#"{"x":1}"#);

    let their_results = HashMap::from([
        (
            "5".to_owned(),
            air_interpreter_interface::CallServiceResult::ok(&json!([1])),
        ),
        (
            "6".to_owned(),
            air_interpreter_interface::CallServiceResult {
                ret_code: 0,
                result: "not json".to_owned(),
            },
        ),
    ]);
    let encoded = CallResultsRepr.serialize(&their_results).expect("results");
    let ours = calls::decode_call_results(&encoded).expect("we read the reference's results");
    assert_eq!(ours[&5].parse_result().expect("JSON"), json!([1]));
    assert_eq!(ours[&6].result, "not json");
    assert!(ours[&6].parse_result().is_err());
    assert_eq!(ours[&6].to_string(), "ret_code: 0, result: 'not json'");

    let odd_key = HashMap::from([(
        "01".to_owned(),
        air_interpreter_interface::CallServiceResult::ok(&json!(1)),
    )]);
    let encoded = CallResultsRepr.serialize(&odd_key).expect("results");
    assert!(
        matches!(calls::decode_call_results(&encoded), Err(calls::CallSedeError::InvalidCallId(key)) if key == "01")
    );

    let mut other_codec = calls::encode_call_results(&results);
    other_codec[0] = 0x51;
    assert!(matches!(
        calls::decode_call_results(&other_codec),
        Err(calls::CallSedeError::UnsupportedCodec(_))
    ));
    assert!(matches!(
        calls::decode_call_results(&[]),
        Err(calls::CallSedeError::Multiformat(_))
    ));
}

/// A service result that is not JSON fails its call. The reference signs that failure only
/// from the next step on (as a result met in the previous data), so the data of the step that
/// records it must carry the signature without it.
#[test]
fn a_failure_by_a_result_that_is_not_json_is_signed_like_the_reference() {
    use network_sim::engine::{ServiceAnswer, StepInput};
    use network_sim::network::same_content;
    use network_sim::{Engine, ReferenceEngine, VmEngine};

    let peer = network_sim::peers::Peer::named("a");
    let script = format!(
        r#"(xor (call "{id}" ("svc" "get") [] x) (call "{id}" ("log" "error") [] y))"#,
        id = peer.id
    );
    let mut input = StepInput {
        script: &script,
        prev_data: &[],
        current_data: &[],
        init_peer_id: &peer.id,
        current_peer_id: &peer.id,
        timestamp: 1_700_000_000_000,
        ttl: 30_000,
        particle_id: "particle",
        secret_key: peer.secret_key,
        call_results: BTreeMap::new(),
    };
    let requested = ReferenceEngine.step(&input);
    input.prev_data = &requested.data;
    input.call_results = BTreeMap::from([(
        1,
        ServiceAnswer {
            ret_code: 0,
            result: "not { json".into(),
        },
    )]);
    let reference = ReferenceEngine.step(&input);
    let ours = VmEngine.step(&input);
    assert_eq!(reference.call_requests, ours.call_requests);
    assert!(same_content(&reference.data, &ours.data));
}
