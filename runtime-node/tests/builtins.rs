//! The builtin services, called as the engine calls them: through the registry, with a
//! particle. Expected values are computed here independently (hashes, distances) or are
//! known vectors.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use runtime_node::builtins::{register_builtins, Host, HostInfo, Vault};
use runtime_node::connectivity::{Connectivity, Contact};
use runtime_node::identity;
use runtime_node::service::{
    Call, FnService, Outcome, ParticleParams, Reply, Service, ServiceRegistry,
};
use runtime_node::{KeyPair, PeerId};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use vm::data::Tetraplet;

/// A network view set by the test.
#[derive(Default)]
struct FakeConnectivity {
    known: Vec<PeerId>,
    connected: HashSet<PeerId>,
    contacts: HashMap<PeerId, Vec<String>>,
}

impl Connectivity for FakeConnectivity {
    fn is_connected(&self, peer: &PeerId) -> bool {
        self.connected.contains(peer)
    }

    fn known_peers(&self) -> Vec<PeerId> {
        self.known.clone()
    }

    fn contact(&self, peer: &PeerId) -> Option<Contact> {
        self.contacts.get(peer).map(|addresses| Contact {
            peer_id: peer.to_base58(),
            addresses: addresses.clone(),
        })
    }
}

/// A peer with its builtins.
struct Peer {
    registry: ServiceRegistry,
    key: Arc<KeyPair>,
    vault: Vault,
    console: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

fn peer_key(index: u32) -> KeyPair {
    KeyPair::from_seed(7, index)
}

fn info() -> HostInfo {
    HostInfo {
        external_addresses: vec!["/ip4/127.0.0.1/tcp/7777".into()],
        node_version: "0.1.0".into(),
        air_version: "0.62.0".into(),
        spell_version: "0.7.0".into(),
        allowed_binaries: vec!["/usr/bin/curl".into()],
    }
}

impl Peer {
    fn new() -> Peer {
        Peer::with_connectivity(FakeConnectivity::default())
    }

    fn with_connectivity(connectivity: FakeConnectivity) -> Peer {
        let key = Arc::new(peer_key(0));
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::new(dir.path().join("vault"), key.clone());
        let console = Arc::new(Mutex::new(Vec::new()));
        let lines = console.clone();
        let registry = ServiceRegistry::new();
        register_builtins(
            &registry,
            Host {
                key_pair: key.clone(),
                connectivity: Arc::new(connectivity),
                vault: vault.clone(),
                info: info(),
                console: Arc::new(move |line| lines.lock().unwrap().push(line.to_owned())),
                management_peer: Some(peer_key(99).peer_id()),
                apps: None,
            },
        );
        Peer {
            registry,
            key,
            vault,
            console,
            _dir: dir,
        }
    }

    /// A particle started by `init`.
    fn particle(&self, init: &KeyPair, id: &str) -> ParticleParams {
        ParticleParams {
            id: id.to_owned(),
            init_peer_id: init.peer_id(),
            timestamp: 1_700_000_000_000,
            ttl: 10_000,
            signature: init.sign(id.as_bytes()),
        }
    }

    fn reply(
        &self,
        particle: &ParticleParams,
        service: &str,
        function: &str,
        arguments: Vec<Value>,
        tetraplets: Vec<Vec<Tetraplet>>,
    ) -> Reply {
        let call = Call {
            service_id: service.to_owned(),
            function_name: function.to_owned(),
            arguments,
            tetraplets,
        };
        let service = self.registry.resolve(service).expect("a builtin");
        service.call(call, particle)
    }

    /// Calls a function that answers at once, in a particle of `init`.
    fn call_by(&self, init: &KeyPair, service: &str, function: &str, args: Vec<Value>) -> Outcome {
        let particle = self.particle(init, "particle-1");
        ready(self.reply(&particle, service, function, args, Vec::new()))
    }

    /// Calls a function that answers at once, in a particle of the host.
    fn call(&self, service: &str, function: &str, args: Vec<Value>) -> Outcome {
        self.call_by(&self.key.clone(), service, function, args)
    }

    fn value(&self, service: &str, function: &str, args: Vec<Value>) -> Value {
        match self.call(service, function, args) {
            Outcome::Value(value) => value,
            other => panic!("{service}.{function}: expected a value, got {other:?}"),
        }
    }

    fn error(&self, service: &str, function: &str, args: Vec<Value>) -> String {
        expect_error(self.call(service, function, args))
    }
}

fn ready(reply: Reply) -> Outcome {
    match reply {
        Reply::Ready(outcome) => outcome,
        Reply::Later(_) => panic!("expected an immediate answer"),
    }
}

fn expect_error(outcome: Outcome) -> String {
    match outcome {
        Outcome::Error(message) => message,
        other => panic!("expected an error, got {other:?}"),
    }
}

fn b58(bytes: &[u8]) -> String {
    bs58::encode(bytes).into_string()
}

#[test]
fn unknown_functions_are_errors() {
    let peer = Peer::new();
    for service in [
        "op",
        "peer",
        "kad",
        "math",
        "cmp",
        "array",
        "json",
        "debug",
        "run-console",
        "sig",
        "vault",
        "srv",
    ] {
        let message = peer.error(service, "no_such_function", vec![]);
        assert!(message.contains("no_such_function"), "{service}: {message}");
    }
}

#[test]
fn op_values_and_arrays() {
    let peer = Peer::new();
    assert_eq!(peer.call("op", "noop", vec![json!(1)]), Outcome::Empty);
    assert_eq!(peer.call("op", "identity", vec![]), Outcome::Empty);
    assert_eq!(
        peer.value("op", "identity", vec![json!({"a": 1})]),
        json!({"a": 1})
    );
    let message = peer.error("op", "identity", vec![json!(1), json!(2)]);
    assert!(message.contains("at most 1 argument, got 2"), "{message}");

    assert_eq!(
        peer.value("op", "array", vec![json!(1), json!("b"), json!([3])]),
        json!([1, "b", [3]])
    );
    assert_eq!(peer.value("op", "array", vec![]), json!([]));

    assert_eq!(
        peer.value("op", "array_length", vec![json!([1, 2, 3])]),
        json!(3)
    );
    let message = peer.error("op", "array_length", vec![json!("abc")]);
    assert_eq!(
        message,
        "op.array_length: argument 1 must be an array, got a string"
    );
    let message = peer.error("op", "array_length", vec![]);
    assert!(message.contains("expected 1 argument, got 0"), "{message}");

    assert_eq!(
        peer.value("op", "concat", vec![json!([1]), json!([]), json!([2, [3]])]),
        json!([1, 2, [3]])
    );
    let message = peer.error("op", "concat", vec![json!([1]), json!("x")]);
    assert!(message.contains("argument 2 must be an array"), "{message}");

    assert_eq!(
        peer.value(
            "op",
            "concat_strings",
            vec![json!("ab"), json!(""), json!("c")]
        ),
        json!("abc")
    );
    let message = peer.error("op", "concat_strings", vec![json!("a"), json!(1)]);
    assert!(message.contains("argument 2 must be a string"), "{message}");
}

#[test]
fn op_base58() {
    let peer = Peer::new();
    assert_eq!(
        peer.value("op", "string_to_b58", vec![json!("hello world")]),
        json!("StV1DL6CwTryKyV")
    );
    assert_eq!(
        peer.value("op", "string_from_b58", vec![json!("StV1DL6CwTryKyV")]),
        json!("hello world")
    );
    let message = peer.error("op", "string_from_b58", vec![json!("0OIl")]);
    assert!(message.contains("not base58"), "{message}");
    let message = peer.error("op", "string_from_b58", vec![json!(b58(&[0xff, 0xfe]))]);
    assert!(message.contains("not UTF-8"), "{message}");
    let message = peer.error("op", "string_to_b58", vec![json!(5)]);
    assert!(
        message.starts_with("op.string_to_b58: argument 1 (string)"),
        "{message}"
    );

    let bytes = [0u8, 1, 2, 255];
    assert_eq!(
        peer.value("op", "bytes_to_b58", vec![json!(bytes)]),
        json!(b58(&bytes))
    );
    assert_eq!(
        peer.value("op", "bytes_from_b58", vec![json!(b58(&bytes))]),
        json!(bytes)
    );
    let message = peer.error("op", "bytes_to_b58", vec![json!([1, 256])]);
    assert!(message.contains("argument 1 (bytes)"), "{message}");
}

#[test]
fn op_sha256_string_gives_a_multihash_or_a_digest() {
    let peer = Peer::new();
    let digest = Sha256::digest(b"hello");
    // The SHA-256 multihash of "hello", as IPFS tools print it.
    assert_eq!(
        peer.value("op", "sha256_string", vec![json!("hello")]),
        json!("QmRN6wdp1S2A5EtjW9A3M1vKSBuQQGcgvuhoMUoEz4iiT5")
    );
    assert_eq!(
        peer.value("op", "sha256_string", vec![json!("hello"), json!([true])]),
        json!(b58(&digest))
    );
    assert_eq!(
        peer.value(
            "op",
            "sha256_string",
            vec![json!("hello"), json!([]), json!(true)]
        ),
        json!([[0x12, 0x20].as_slice(), digest.as_slice()].concat())
    );
    // An absent option may also be null; a present one may be bare.
    assert_eq!(
        peer.value(
            "op",
            "sha256_string",
            vec![json!("hello"), json!(null), json!(false)]
        ),
        json!("QmRN6wdp1S2A5EtjW9A3M1vKSBuQQGcgvuhoMUoEz4iiT5")
    );
    let message = peer.error("op", "sha256_string", vec![json!("hello"), json!("yes")]);
    assert!(message.contains("argument 2 (digest_only)"), "{message}");
    let message = peer.error(
        "op",
        "sha256_string",
        vec![json!("hello"), json!([true, false])],
    );
    assert!(message.contains("at most 1 element"), "{message}");
}

#[test]
fn peer_identify_and_clock() {
    let peer = Peer::new();
    assert_eq!(
        peer.value("peer", "identify", vec![]),
        json!({
            "external_addresses": ["/ip4/127.0.0.1/tcp/7777"],
            "node_version": "0.1.0",
            "air_version": "0.62.0",
            "spell_version": "0.7.0",
            "allowed_binaries": ["/usr/bin/curl"],
            "vm_info": null,
        })
    );
    let now = || SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let before = now();
    let ms = peer.value("peer", "timestamp_ms", vec![]).as_u64().unwrap();
    let sec = peer
        .value("peer", "timestamp_sec", vec![])
        .as_u64()
        .unwrap();
    let after = now();
    assert!((before.as_millis() as u64..=after.as_millis() as u64).contains(&ms));
    assert!((before.as_secs()..=after.as_secs()).contains(&sec));
}

#[test]
fn peer_connections_and_contacts() {
    let friend = peer_key(1).peer_id();
    let stranger = peer_key(2).peer_id();
    let peer = Peer::with_connectivity(FakeConnectivity {
        known: vec![friend],
        connected: HashSet::from([friend]),
        contacts: HashMap::from([(friend, vec!["/ip4/10.0.0.1/tcp/1".to_owned()])]),
    });
    let is_connected = |p: &PeerId| peer.value("peer", "is_connected", vec![json!(p.to_base58())]);
    assert_eq!(is_connected(&friend), json!(true));
    assert_eq!(is_connected(&stranger), json!(false));
    let message = peer.error("peer", "is_connected", vec![json!("not a peer")]);
    assert!(message.contains("is not a peer id"), "{message}");

    assert_eq!(
        peer.value("peer", "get_contact", vec![json!(friend.to_base58())]),
        json!({"peer_id": friend.to_base58(), "addresses": ["/ip4/10.0.0.1/tcp/1"]})
    );
    assert_eq!(
        peer.call("peer", "get_contact", vec![json!(stranger.to_base58())]),
        Outcome::Empty
    );
}

#[tokio::test(start_paused = true)]
async fn peer_timeout_answers_after_the_duration() {
    let peer = Peer::new();
    let particle = peer.particle(&peer.key, "p");
    for (args, duration, expected) in [
        (
            vec![json!(1500), json!("done")],
            1500,
            Outcome::Value(json!("done")),
        ),
        (vec![json!("250")], 250, Outcome::Empty),
        (vec![json!(10), json!([])], 10, Outcome::Empty),
    ] {
        let Reply::Later(pending) = peer.reply(&particle, "peer", "timeout", args, vec![]) else {
            panic!("timeout answers later");
        };
        let start = tokio::time::Instant::now();
        assert_eq!(pending.await, expected);
        assert!(start.elapsed() >= std::time::Duration::from_millis(duration));
    }
    for args in [vec![], vec![json!("soon")], vec![json!(-5)]] {
        let reply = peer.reply(&particle, "peer", "timeout", args, vec![]);
        let message = expect_error(ready(reply));
        assert!(message.contains("duration_ms"), "{message}");
    }
}

/// The peers of `known` sorted by the distance of their Kademlia points to `target_bytes`'s.
fn by_distance(known: &[PeerId], target_bytes: &[u8]) -> Vec<String> {
    let target = Sha256::digest(target_bytes);
    let mut sorted: Vec<(Vec<u8>, String)> = known
        .iter()
        .map(|peer| {
            let point = Sha256::digest(peer.to_bytes());
            let distance = target
                .iter()
                .zip(point.iter())
                .map(|(a, b)| a ^ b)
                .collect();
            (distance, peer.to_base58())
        })
        .collect();
    sorted.sort();
    sorted.into_iter().map(|(_, peer)| peer).collect()
}

#[test]
fn kad_neighborhood_orders_known_peers_by_distance() {
    let others: Vec<PeerId> = (1..=12).map(|i| peer_key(i).peer_id()).collect();
    let mut known = others.clone();
    known.push(peer_key(0).peer_id()); // the peer itself is never its own neighbor
    let contacts = HashMap::from([(others[3], vec!["/dns/x/tcp/1".to_owned()])]);
    let peer = Peer::with_connectivity(FakeConnectivity {
        known,
        contacts,
        ..FakeConnectivity::default()
    });

    let key = b"resource id";
    // The key's bytes stand for a SHA-256 multihash around them: code, length, bytes.
    let multihash = [[0x12, key.len() as u8].as_slice(), key].concat();
    let expected = by_distance(&others, &multihash);
    let all = peer.value("kad", "neighborhood", vec![json!(b58(key))]);
    assert_eq!(all, json!(expected));

    let three = peer.value(
        "kad",
        "neighborhood",
        vec![json!(b58(key)), json!([]), json!([3])],
    );
    assert_eq!(three, json!(expected[..3]));

    // Already hashed: the bytes are the multihash itself.
    let hashed = peer.value(
        "kad",
        "neighborhood",
        vec![json!(b58(&multihash)), json!([true]), json!(5)],
    );
    assert_eq!(hashed, json!(expected[..5]));
    let message = peer.error("kad", "neighborhood", vec![json!(b58(key)), json!(true)]);
    assert!(message.contains("not a multihash"), "{message}");
    let message = peer.error("kad", "neighborhood", vec![json!(b58(&[7; 65]))]);
    assert!(message.contains("65 bytes"), "{message}");
    let message = peer.error("kad", "neighborhood", vec![json!("0OIl")]);
    assert!(message.contains("not base58"), "{message}");

    let with_addresses = peer.value("kad", "neigh_with_addrs", vec![json!(b58(key))]);
    let with_addresses = with_addresses.as_array().unwrap();
    assert_eq!(with_addresses.len(), others.len());
    for (entry, id) in with_addresses.iter().zip(&expected) {
        assert_eq!(entry["peer_id"], json!(id));
        let addresses = if *id == others[3].to_base58() {
            json!(["/dns/x/tcp/1"])
        } else {
            json!([])
        };
        assert_eq!(entry["addresses"], addresses);
    }
}

#[test]
fn kad_merge_sorts_dedups_and_cuts() {
    let peer = Peer::new();
    let peers: Vec<PeerId> = (1..=30).map(|i| peer_key(i).peer_id()).collect();
    let ids: Vec<String> = peers.iter().map(|p| p.to_base58()).collect();
    let target = b58(b"target");
    // Each key's point is the SHA-256 of its decoded bytes, here a peer id's bytes.
    let target_point = Sha256::digest(b"target");
    let mut expected: Vec<(Vec<u8>, String)> = peers
        .iter()
        .map(|p| {
            let point = Sha256::digest(p.to_bytes());
            let d = target_point
                .iter()
                .zip(point.iter())
                .map(|(a, b)| a ^ b)
                .collect();
            (d, p.to_base58())
        })
        .collect();
    expected.sort();
    let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();

    let left = json!(ids[..20]);
    let right = json!(ids[10..]);
    let merged = peer.value(
        "kad",
        "merge",
        vec![json!(target), left.clone(), right.clone()],
    );
    assert_eq!(
        merged,
        json!(expected[..20]),
        "twenty by default, no repetitions"
    );
    let all = peer.value(
        "kad",
        "merge",
        vec![json!(target), left.clone(), right, json!([100])],
    );
    assert_eq!(all, json!(expected));
    let message = peer.error("kad", "merge", vec![json!(target), left, json!(["0OIl"])]);
    assert!(message.contains("not base58"), "{message}");
}

#[test]
fn math_is_checked_integer_arithmetic() {
    let peer = Peer::new();
    let math = |f: &str, x: Value, y: Value| peer.call("math", f, vec![x, y]);
    let value = |n: i64| Outcome::Value(json!(n));
    assert_eq!(math("add", json!(2), json!(3)), value(5));
    assert_eq!(math("sub", json!(2), json!(3)), value(-1));
    assert_eq!(math("mul", json!(-4), json!(3)), value(-12));
    assert_eq!(math("fmul", json!(2.5), json!(3)), value(7));
    assert_eq!(math("fmul", json!(-2.5), json!(3)), value(-8));
    assert_eq!(math("div", json!(7), json!(2)), value(3));
    assert_eq!(math("div", json!(-7), json!(2)), value(-3));
    assert_eq!(math("rem", json!(-7), json!(2)), value(-1));
    assert_eq!(math("pow", json!(2), json!(10)), value(1024));
    assert_eq!(math("log", json!(2), json!(1024)), value(10));
    assert_eq!(math("log", json!(10), json!(999)), value(2));

    for (f, x, y, error) in [
        ("add", json!(i64::MAX), json!(1), "i64 overflow"),
        ("sub", json!(i64::MIN), json!(1), "i64 overflow"),
        ("mul", json!(i64::MAX), json!(2), "i64 overflow"),
        ("div", json!(1), json!(0), "division by zero"),
        ("rem", json!(1), json!(0), "division by zero"),
        ("div", json!(i64::MIN), json!(-1), "i64 overflow"),
        ("pow", json!(2), json!(64), "i64 overflow"),
        ("pow", json!(2), json!(-1), "argument 2 (y)"),
        ("log", json!(1), json!(5), "base must be at least 2"),
        ("log", json!(2), json!(0), "number positive"),
        ("add", json!("1"), json!(1), "argument 1 (x)"),
        ("add", json!(1.5), json!(1), "argument 1 (x)"),
    ] {
        let message = expect_error(math(f, x, y));
        assert!(message.starts_with(&format!("math.{f}: ")), "{message}");
        assert!(message.contains(error), "{f}: {message}");
    }
    let message = peer.error("math", "add", vec![json!(1), json!(2), json!(3)]);
    assert_eq!(message, "math.add: expected 2 arguments, got 3");
}

#[test]
fn cmp_compares() {
    let peer = Peer::new();
    let cmp = |f: &str, x: i64, y: i64| peer.value("cmp", f, vec![json!(x), json!(y)]);
    assert_eq!(cmp("gt", 2, 1), json!(true));
    assert_eq!(cmp("gt", 1, 1), json!(false));
    assert_eq!(cmp("gte", 1, 1), json!(true));
    assert_eq!(cmp("lt", 1, 2), json!(true));
    assert_eq!(cmp("lt", 2, 2), json!(false));
    assert_eq!(cmp("lte", 2, 2), json!(true));
    assert_eq!(cmp("lte", 3, 2), json!(false));
    assert_eq!(cmp("cmp", 1, 2), json!(-1));
    assert_eq!(cmp("cmp", 2, 2), json!(0));
    assert_eq!(cmp("cmp", 3, 2), json!(1));
    let message = peer.error("cmp", "gt", vec![json!(1)]);
    assert!(message.contains("expected 2 arguments, got 1"), "{message}");
}

#[test]
fn array_functions() {
    let peer = Peer::new();
    assert_eq!(
        peer.value("array", "sum", vec![json!([1, 2, -4])]),
        json!(-1)
    );
    assert_eq!(peer.value("array", "sum", vec![json!([])]), json!(0));
    let message = peer.error("array", "sum", vec![json!([i64::MAX, 1])]);
    assert!(message.contains("overflow"), "{message}");

    assert_eq!(
        peer.value("array", "dedup", vec![json!(["b", "a", "b", "c", "a"])]),
        json!(["b", "a", "c"])
    );
    let xs = json!(["a", "b", "c", "b"]);
    let ys = json!(["d", "c", "a", "d"]);
    let set = |f: &str| peer.value("array", f, vec![xs.clone(), ys.clone()]);
    assert_eq!(set("intersect"), json!(["a", "c"]));
    assert_eq!(set("diff"), json!(["b"]));
    assert_eq!(set("sdiff"), json!(["b", "d"]));
    let message = peer.error("array", "diff", vec![xs.clone(), json!([1])]);
    assert!(message.contains("argument 2 (ys)"), "{message}");

    let slice = |array: Value, start: Value, end: Value| {
        peer.call("array", "slice", vec![array, start, end])
    };
    assert_eq!(
        slice(json!([1, 2, 3, 4]), json!(1), json!(3)),
        Outcome::Value(json!([2, 3]))
    );
    assert_eq!(
        slice(json!([1, 2]), json!(2), json!(2)),
        Outcome::Value(json!([]))
    );
    // Whatever the indexes, an empty array has an empty slice.
    assert_eq!(
        slice(json!([]), json!(5), json!(1)),
        Outcome::Value(json!([]))
    );
    let message = expect_error(slice(json!([1, 2]), json!(1), json!(3)));
    assert!(message.contains("out of bounds"), "{message}");
    let message = expect_error(slice(json!([1, 2]), json!(2), json!(1)));
    assert!(message.contains("out of bounds"), "{message}");
    let message = expect_error(slice(json!([1]), json!(-1), json!(1)));
    assert!(message.contains("argument 2 (start)"), "{message}");
    let message = peer.error("array", "slice", vec![json!([1])]);
    assert!(message.contains("expected 3 arguments"), "{message}");

    assert_eq!(
        peer.value("array", "length", vec![json!([[], []])]),
        json!(2)
    );
}

#[test]
fn json_functions() {
    let peer = Peer::new();
    assert_eq!(
        peer.value(
            "json",
            "obj",
            vec![json!("a"), json!(1), json!("b"), json!([2])]
        ),
        json!({"a": 1, "b": [2]})
    );
    assert_eq!(peer.value("json", "obj", vec![]), json!({}));
    let message = peer.error("json", "obj", vec![json!("a"), json!(1), json!("b")]);
    assert!(message.contains("key \"b\" has no value"), "{message}");
    let message = peer.error("json", "obj", vec![json!(1), json!(1)]);
    assert!(message.contains("keys must be strings"), "{message}");

    assert_eq!(
        peer.value("json", "put", vec![json!({"a": 1}), json!("b"), json!(2)]),
        json!({"a": 1, "b": 2})
    );
    let message = peer.error("json", "put", vec![json!([]), json!("b"), json!(2)]);
    assert!(message.contains("argument 1 (object)"), "{message}");
    assert_eq!(
        peer.value(
            "json",
            "puts",
            vec![
                json!({"a": 1}),
                json!("a"),
                json!(3),
                json!("c"),
                json!(null)
            ]
        ),
        json!({"a": 3, "c": null})
    );

    assert_eq!(
        peer.value("json", "parse", vec![json!(r#"{"x": [1, "y"]}"#)]),
        json!({"x": [1, "y"]})
    );
    let message = peer.error("json", "parse", vec![json!("{oops")]);
    assert!(message.contains("invalid JSON"), "{message}");
    assert_eq!(
        peer.value("json", "stringify", vec![json!({"x": [1, "y"]})]),
        json!(r#"{"x":[1,"y"]}"#)
    );

    assert_eq!(
        peer.value(
            "json",
            "obj_pairs",
            vec![json!([["a", 1], ["b", {"c": 2}]])]
        ),
        json!({"a": 1, "b": {"c": 2}})
    );
    assert_eq!(
        peer.value(
            "json",
            "puts_pairs",
            vec![json!({"a": 1}), json!([["b", 2], ["a", 0]])]
        ),
        json!({"a": 0, "b": 2})
    );
    let message = peer.error("json", "puts_pairs", vec![json!("x"), json!([])]);
    assert!(message.contains("must be an object"), "{message}");
    let message = peer.error("json", "obj_pairs", vec![json!([["a"]])]);
    assert!(message.contains("argument 1 (pairs)"), "{message}");
}

#[test]
fn debug_stringify_and_console() {
    let peer = Peer::new();
    assert_eq!(
        peer.value("debug", "stringify", vec![]),
        json!("\"<empty argument list>\"")
    );
    assert_eq!(
        peer.value("debug", "stringify", vec![json!("a")]),
        json!("\"a\"")
    );
    assert_eq!(
        peer.value("debug", "stringify", vec![json!(1), json!({"b": null})]),
        json!(r#"[1,{"b":null}]"#)
    );

    // Anyone may print, not only the host.
    let stranger = peer_key(5);
    assert_eq!(
        peer.call_by(
            &stranger,
            "run-console",
            "print",
            vec![json!("hello"), json!([1, "x"])]
        ),
        Outcome::Empty
    );
    assert_eq!(
        peer.call("run-console", "print", vec![json!({"a": 1})]),
        Outcome::Empty
    );
    assert_eq!(
        *peer.console.lock().unwrap(),
        vec![r#"hello [1,"x"]"#.to_owned(), r#"{"a":1}"#.to_owned()]
    );
}

fn tetraplet(peer: &PeerId, service: &str, function: &str, lens: &str) -> Tetraplet {
    Tetraplet {
        peer_pk: peer.to_base58().into(),
        service_id: service.into(),
        function_name: function.into(),
        lens: lens.into(),
    }
}

#[test]
fn sig_signs_registry_records_for_trusted_peers() {
    let peer = Peer::new();
    let me = peer.key.peer_id();
    let data = json!([1, 2, 3]);
    let sign = |init: &KeyPair, args: Vec<Value>, tetraplets: Vec<Vec<Tetraplet>>| {
        let particle = peer.particle(init, "p");
        ready(peer.reply(&particle, "sig", "sign", args, tetraplets))
    };
    let record = || vec![vec![tetraplet(&me, "registry", "get_record_bytes", "")]];

    let Outcome::Value(signed) = sign(&peer.key, vec![data.clone()], record()) else {
        panic!("the host signs its registry records");
    };
    assert_eq!(signed["success"], json!(true));
    assert_eq!(signed["error"], json!([]));
    let signature: Vec<u8> = serde_json::from_value(signed["signature"][0].clone()).unwrap();
    identity::verify(&me, &[1, 2, 3], &signature).unwrap();

    // The management peer may too, and metadata bytes are signable.
    let metadata = vec![vec![tetraplet(
        &me,
        "registry",
        "get_record_metadata_bytes",
        "",
    )]];
    let Outcome::Value(signed) = sign(&peer_key(99), vec![data.clone()], metadata) else {
        panic!("the management peer signs");
    };
    assert_eq!(signed["success"], json!(true));

    let refusals = [
        (peer_key(5), record(), "is not allowed to sign"),
        (peer_key(0), vec![], "must come from one call"),
        (
            peer_key(0),
            vec![vec![
                tetraplet(&me, "registry", "get_record_bytes", ""),
                tetraplet(&me, "registry", "get_record_bytes", ""),
            ]],
            "must come from one call",
        ),
        (
            peer_key(0),
            vec![vec![tetraplet(
                &peer_key(5).peer_id(),
                "registry",
                "get_record_bytes",
                "",
            )]],
            "comes from peer",
        ),
        (
            peer_key(0),
            vec![vec![tetraplet(&me, "op", "identity", "")]],
            "comes from 'op.identity'",
        ),
        (
            peer_key(0),
            vec![vec![tetraplet(
                &me,
                "registry",
                "get_record_bytes",
                ".$.[0]",
            )]],
            "lens",
        ),
    ];
    for (init, tetraplets, error) in refusals {
        let message = expect_error(sign(&init, vec![data.clone()], tetraplets));
        assert!(message.contains(error), "{message}");
    }

    // Data that is not bytes is reported in the result, not as a failed call.
    let Outcome::Value(unsigned) = sign(&peer.key, vec![json!("text")], record()) else {
        panic!("bad data gives a result");
    };
    assert_eq!(unsigned["success"], json!(false));
    assert_eq!(unsigned["signature"], json!([]));
    assert!(unsigned["error"][0]
        .as_str()
        .unwrap()
        .contains("argument 1 (data)"));
}

#[test]
fn sig_verifies_and_names_the_peer() {
    let peer = Peer::new();
    let signature = peer.key.sign(b"data");
    let verify = |signature: &[u8], data: &[u8]| {
        peer.value("sig", "verify", vec![json!(signature), json!(data)])
    };
    assert_eq!(verify(&signature, b"data"), json!(true));
    assert_eq!(verify(&signature, b"date"), json!(false));
    assert_eq!(verify(&peer_key(3).sign(b"data"), b"data"), json!(false));
    assert_eq!(verify(&[1, 2], b"data"), json!(false));
    let message = peer.error("sig", "verify", vec![json!("x"), json!([])]);
    assert!(message.contains("argument 1 (signature)"), "{message}");
    assert_eq!(
        peer.value("sig", "get_peer_id", vec![]),
        json!(peer.key.peer_id().to_base58())
    );
}

#[test]
fn vault_keeps_a_particles_files_to_itself() {
    let peer = Peer::new();
    let alice = peer_key(1);
    let first = peer.particle(&alice, "first");
    let second = peer.particle(&alice, "second");
    let call = |particle: &ParticleParams, function: &str, arg: &str| {
        ready(peer.reply(particle, "vault", function, vec![json!(arg)], vec![]))
    };
    let Outcome::Value(Value::String(path)) = call(&first, "put", "some text") else {
        panic!("put gives a path");
    };
    let prefix = peer.vault.virtual_dir(&first).display().to_string();
    assert!(prefix.starts_with("/tmp/vault/first-"), "{prefix}");
    assert!(path.starts_with(&format!("{prefix}/")), "{path}");
    assert_eq!(
        call(&first, "cat", &path),
        Outcome::Value(json!("some text"))
    );
    let name = path.rsplit('/').next().unwrap();
    assert_eq!(
        call(&first, "cat", name),
        Outcome::Value(json!("some text"))
    );
    assert_eq!(
        call(&first, "cat", &format!("./{name}")),
        Outcome::Value(json!("some text"))
    );

    // Another particle sees neither the path nor the name.
    let message = expect_error(call(&second, "cat", &path));
    assert!(
        message.contains("outside this particle's vault"),
        "{message}"
    );
    let message = expect_error(call(&second, "cat", name));
    assert!(message.contains("no file"), "{message}");

    // Ways out of the vault are refused.
    let second_dir = peer.vault.particle_dir(&second);
    std::fs::create_dir_all(&second_dir).unwrap();
    for escape in [
        "/etc/passwd".to_owned(),
        "../../../../etc/passwd".to_owned(),
        format!("{prefix}/../second-x/file"),
        format!("sub/../../{name}"),
    ] {
        let message = expect_error(call(&second, "cat", &escape));
        assert!(
            message.contains("outside this particle's vault"),
            "{escape}: {message}"
        );
    }
    #[cfg(unix)]
    {
        let secret = peer._dir.path().join("secret");
        std::fs::write(&secret, "secret").unwrap();
        std::os::unix::fs::symlink(&secret, second_dir.join("link")).unwrap();
        let message = expect_error(call(&second, "cat", "link"));
        assert!(
            message.contains("outside this particle's vault"),
            "{message}"
        );
    }
    let message = expect_error(call(&first, "cat", "missing"));
    assert_eq!(
        message,
        "vault.cat: no file `missing` in this particle's vault"
    );

    // A particle id is never a path on disk.
    let evil = peer.particle(&alice, "../../evil");
    let Outcome::Value(Value::String(evil_path)) = call(&evil, "put", "x") else {
        panic!("put gives a path");
    };
    let evil_dir = peer.vault.particle_dir(&evil);
    assert!(evil_dir.starts_with(peer._dir.path().join("vault")));
    assert!(!evil_dir.to_string_lossy().contains("evil"));
    assert_eq!(call(&evil, "cat", &evil_path), Outcome::Value(json!("x")));

    // Expiry removes the files.
    peer.vault.remove_particle("first").unwrap();
    let message = expect_error(call(&first, "cat", &path));
    assert!(message.contains("no file"), "{message}");
    peer.vault.remove_particle("first").unwrap();
    peer.vault.remove_particle("../../evil").unwrap();
    assert!(!evil_dir.exists());
}

/// A host service that answers with its name.
fn named(name: &'static str) -> Arc<dyn Service> {
    Arc::new(FnService(move |_: Call, _: &ParticleParams| {
        Reply::Ready(Outcome::Value(json!(name)))
    }))
}

#[test]
fn srv_aliases_have_a_lifecycle() {
    let peer = Peer::new();
    let owner = peer_key(1);
    let stranger = peer_key(2);
    let registry = peer.registry.clone();
    registry
        .register("svc-1", named("one"), owner.peer_id())
        .unwrap();
    registry
        .register("svc-2", named("two"), stranger.peer_id())
        .unwrap();

    let describe = |id: &str, owner: &KeyPair, aliases: Value| {
        json!({
            "id": id,
            "blueprint_id": "",
            "service_type": "service",
            "owner_id": owner.peer_id().to_base58(),
            "aliases": aliases,
            "worker_id": peer.key.peer_id().to_base58(),
        })
    };
    assert_eq!(
        peer.value("srv", "list", vec![]),
        json!([
            describe("svc-1", &owner, json!([])),
            describe("svc-2", &stranger, json!([]))
        ])
    );

    // The owner names its service; a stranger may not.
    let add = |who: &KeyPair, alias: &str, id: &str| {
        peer.call_by(who, "srv", "add_alias", vec![json!(alias), json!(id)])
    };
    let message = expect_error(add(&stranger, "one", "svc-1"));
    assert!(
        message.contains("may not change service 'svc-1'"),
        "{message}"
    );
    assert_eq!(add(&owner, "one", "svc-1"), Outcome::Empty);
    assert_eq!(
        peer.value("srv", "resolve_alias", vec![json!("one")]),
        json!("svc-1")
    );
    assert_eq!(
        peer.value("srv", "resolve_alias_opt", vec![json!("one")]),
        json!(["svc-1"])
    );
    assert_eq!(
        peer.value("srv", "info", vec![json!("one")]),
        describe("svc-1", &owner, json!(["one"]))
    );
    // Calls by the alias reach the service.
    let particle = peer.particle(&owner, "p");
    assert_eq!(
        ready(peer.reply(&particle, "one", "any", vec![], vec![])),
        Outcome::Value(json!("one"))
    );

    // The alias cannot be taken by another owner's service, but the host may move it.
    let message = expect_error(add(&stranger, "one", "svc-2"));
    assert!(
        message.contains("may not change service 'svc-1'"),
        "{message}"
    );
    assert_eq!(add(&peer.key, "one", "svc-2"), Outcome::Empty);
    assert_eq!(
        peer.value("srv", "resolve_alias", vec![json!("one")]),
        json!("svc-2")
    );
    assert_eq!(
        peer.value("srv", "info", vec![json!("svc-1")]),
        describe("svc-1", &owner, json!([]))
    );

    for (alias, error) in [
        ("spell", "reserved"),
        ("self", "reserved"),
        ("svc-2", "is the id of a service"),
        ("op", "names a builtin service"),
    ] {
        let message = expect_error(add(&peer.key, alias, "svc-1"));
        assert!(message.contains(error), "{alias}: {message}");
    }
    let message = expect_error(add(&peer.key, "x", "svc-9"));
    assert!(message.contains("'svc-9' not found"), "{message}");

    // Removal: by the owner (here through the alias), the host or the management peer.
    let remove = |who: &KeyPair, id: &str| peer.call_by(who, "srv", "remove", vec![json!(id)]);
    let message = expect_error(remove(&owner, "one"));
    assert!(
        message.contains("may not change service 'svc-2'"),
        "{message}"
    );
    assert_eq!(remove(&stranger, "one"), Outcome::Empty);
    assert_eq!(
        peer.value("srv", "resolve_alias_opt", vec![json!("one")]),
        json!([])
    );
    let message = peer.error("srv", "resolve_alias", vec![json!("one")]);
    assert_eq!(message, "srv.resolve_alias: no service has the alias 'one'");
    let message = peer.error("srv", "info", vec![json!("svc-2")]);
    assert!(message.contains("'svc-2' not found"), "{message}");
    assert_eq!(remove(&peer_key(99), "svc-1"), Outcome::Empty);
    assert_eq!(peer.value("srv", "list", vec![]), json!([]));
    let message = expect_error(remove(&peer.key, "svc-1"));
    assert!(message.contains("not found"), "{message}");
}
