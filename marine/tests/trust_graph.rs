//! The real trust-graph service of `trust-graph-distro` (trust-graph + sqlite3), unmodified,
//! with its own Config.toml: a root, trusts signed here, and the weights they give.

#[path = "common/distro.rs"]
mod distro;
#[path = "common/peers.rs"]
mod peers;

use distro::{deploy, Deployed};
use marine::SecurityTetraplet;
use peers::{bytes, from_host, now, Peer};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

fn start() -> Deployed {
    deploy(
        tempfile::tempdir().unwrap(),
        &[
            ("trust-graph.wasm", trust_graph_distro::TRUST_GRAPH_WASM),
            ("sqlite3.wasm", trust_graph_distro::SQLITE_WASM),
            ("Config.toml", trust_graph_distro::CONFIG),
        ],
        &[],
    )
}

/// Tetraplets of `arity` arguments, the last being the host's timestamp.
fn timestamp_last(arity: usize) -> Vec<Vec<SecurityTetraplet>> {
    let mut all = vec![vec![]; arity - 1];
    all.push(from_host("peer", "timestamp_sec"));
    all
}

/// A trust in `subject` that `issuer` signs, made through the service.
fn trust(graph: &Deployed, issuer: &Peer, subject: &Peer) -> Value {
    let (expires, issued) = (now() + 3600, now() - 10);
    let message = graph.call(
        "get_trust_bytes",
        json!([subject.id, expires, issued]),
        issuer.calls(vec![]),
    );
    assert_eq!(message["success"], json!(true), "{message}");
    // What is signed: the hash of the subject's encoded key and both times, little-endian.
    let mut expected = subject.keys.public().encode();
    expected.extend(expires.to_le_bytes());
    expected.extend(issued.to_le_bytes());
    let message = bytes(&message["result"]);
    assert_eq!(message, Sha256::digest(&expected).to_vec());

    let signature = issuer.sign(&message);
    let issued = graph.call(
        "issue_trust",
        json!([subject.id, expires, issued, signature]),
        issuer.calls(vec![]),
    );
    assert_eq!(issued["success"], json!(true), "{issued}");
    let trust = issued["trust"].clone();
    assert_eq!(trust["issued_for"], json!(subject.id));
    assert_eq!(trust["sig_type"], json!("ed25519"));
    assert_eq!(
        trust["signature"],
        json!(bs58::encode(signature).into_string())
    );
    trust
}

fn add_trust(graph: &Deployed, trust: &Value, issuer: &Peer) -> Value {
    graph.call(
        "add_trust",
        json!([trust, issuer.id, now()]),
        issuer.calls(timestamp_last(3)),
    )
}

fn weight(graph: &Deployed, of: &Peer, asker: &Peer) -> u64 {
    let weight = graph.call(
        "get_weight",
        json!([of.id, now()]),
        asker.calls(timestamp_last(2)),
    );
    assert_eq!(weight["success"], json!(true), "{weight}");
    assert_eq!(weight["peer_id"], json!(of.id));
    weight["weight"].as_u64().unwrap()
}

#[test]
fn trusts_from_a_root_give_weights() {
    let graph = start();
    let root = Peer::new();
    let peer = Peer::new();

    // Only the service's creator sets roots.
    let mut not_owner = peer.calls(vec![]);
    not_owner.service_creator_peer_id = root.id.clone();
    let refused = graph.call("set_root", json!([peer.id, 2]), not_owner);
    assert_eq!(refused["success"], json!(false), "{refused}");
    let set = graph.call("set_root", json!([root.id, 2]), root.calls(vec![]));
    assert_eq!(set["success"], json!(true), "{set}");

    // A root with chains of at most 2 weighs 2^2; each trust down a chain halves it.
    assert_eq!(weight(&graph, &root, &peer), 4);
    assert_eq!(weight(&graph, &peer, &peer), 0);
    let own = add_trust(&graph, &trust(&graph, &root, &root), &root);
    assert_eq!(own["success"], json!(true), "{own}");
    assert_eq!(own["weight"], json!(4));
    let given = add_trust(&graph, &trust(&graph, &root, &peer), &root);
    assert_eq!(given["success"], json!(true), "{given}");
    assert_eq!(given["weight"], json!(2));
    assert_eq!(weight(&graph, &peer, &peer), 2);

    let certificates = graph.call(
        "get_all_certs",
        json!([peer.id, now()]),
        peer.calls(timestamp_last(2)),
    );
    assert_eq!(certificates["success"], json!(true), "{certificates}");
    let chains: Vec<Vec<&Value>> = certificates["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            c["chain"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| &t["issued_for"])
                .collect()
        })
        .collect();
    assert_eq!(chains, [[&json!(root.id), &json!(peer.id)]]);
}

#[test]
fn forged_trusts_are_refused() {
    let graph = start();
    let root = Peer::new();
    let forger = Peer::new();
    let set = graph.call("set_root", json!([root.id, 2]), root.calls(vec![]));
    assert_eq!(set["success"], json!(true), "{set}");
    let own = add_trust(&graph, &trust(&graph, &root, &root), &root);
    assert_eq!(own["success"], json!(true), "{own}");

    // Signed by the forger, claimed to be the root's.
    let forged = trust(&graph, &forger, &forger);
    let added = add_trust(&graph, &forged, &root);
    assert_eq!(added["success"], json!(false), "{added}");
    let verified = graph.call(
        "verify_trust",
        json!([forged, root.id, now()]),
        root.calls(timestamp_last(3)),
    );
    assert_eq!(verified["success"], json!(false), "{verified}");
    assert_eq!(weight(&graph, &forger, &root), 0);

    // Timestamps must come from the host itself.
    let untrusted = graph.call("get_weight", json!([root.id, now()]), root.calls(vec![]));
    assert_eq!(untrusted["success"], json!(false), "{untrusted}");
}
