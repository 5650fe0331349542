//! The real registry service of `registry-distro` (registry + sqlite3), unmodified, with its
//! own Config.toml: keys and records signed here with Ed25519 are accepted, forged ones
//! refused.

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
            ("registry.wasm", registry_distro::REGISTRY_WASM),
            ("sqlite3.wasm", registry_distro::SQLITE_WASM),
            ("Config.toml", registry_distro::CONFIG),
        ],
        &[],
    )
}

/// The trust-graph weight the registry is given for `peer`, as the host's trust graph
/// reports it.
fn weight(peer: &Peer) -> Value {
    json!({"success": true, "weight": 4, "peer_id": peer.id, "error": ""})
}

/// Tetraplets of `arity` arguments, the host's weight at `weight` and its timestamp at
/// `timestamp`.
fn tetraplets(arity: usize, weight: usize, timestamp: usize) -> Vec<Vec<SecurityTetraplet>> {
    let mut all = vec![vec![]; arity];
    all[weight] = from_host("trust-graph", "get_weight");
    all[timestamp] = from_host("peer", "timestamp_sec");
    all
}

/// Registers key `label` of `owner`, signed by `signer`; returns the service's result.
fn register(registry: &Deployed, owner: &Peer, signer: &Peer, label: &str) -> Value {
    let created = now() - 10;
    let challenge: Vec<u8> = vec![1, 2, 3];
    let message = registry.call(
        "get_key_bytes",
        json!([label, [owner.id], created, challenge, "none"]),
        owner.calls(vec![]),
    );
    // Length-prefixed fields, little-endian timestamp, hashed: the registry's key encoding.
    let mut expected = vec![label.len() as u8];
    expected.extend(label.as_bytes());
    expected.push(owner.id.len() as u8);
    expected.extend(owner.id.as_bytes());
    expected.extend(created.to_le_bytes());
    expected.push(challenge.len() as u8);
    expected.extend(&challenge);
    expected.push(4);
    expected.extend(b"none");
    assert_eq!(bytes(&message), Sha256::digest(&expected).to_vec());

    registry.call(
        "register_key",
        json!([
            label,
            [owner.id],
            created,
            challenge,
            "none",
            signer.sign(&bytes(&message)),
            weight(owner),
            now()
        ]),
        owner.calls(tetraplets(8, 6, 7)),
    )
}

#[test]
fn keys_are_registered_with_the_owners_signature() {
    let registry = start();
    let owner = Peer::new();
    let registered = register(&registry, &owner, &owner, "topic");
    assert_eq!(registered["success"], json!(true), "{registered}");
    let key_id = registered["key_id"].as_str().unwrap();
    let id = registry.call(
        "get_key_id",
        json!(["topic", owner.id]),
        owner.calls(vec![]),
    );
    assert_eq!(id, json!(key_id));
    let hash = Sha256::digest(format!("topic{}", owner.id));
    assert_eq!(key_id, bs58::encode(hash).into_string());

    let metadata = registry.call("get_key_metadata", json!([key_id]), owner.calls(vec![]));
    assert_eq!(metadata["success"], json!(true), "{metadata}");
    assert_eq!(metadata["key"]["label"], json!("topic"));
    assert_eq!(metadata["key"]["owner_peer_id"], json!(owner.id));
    assert_eq!(metadata["key"]["challenge"], json!([1, 2, 3]));

    let forger = Peer::new();
    let forged = register(&registry, &owner, &forger, "other");
    assert_eq!(forged["success"], json!(false), "{forged}");
    let error = forged["error"].as_str().unwrap();
    assert!(error.contains("signature"), "{error}");
    let absent = registry.call(
        "get_key_metadata",
        json!([bs58::encode(Sha256::digest(format!("other{}", owner.id))).into_string()]),
        owner.calls(vec![]),
    );
    assert_eq!(absent["success"], json!(false), "{absent}");
}

#[test]
fn records_are_put_and_got_with_both_signatures() {
    let registry = start();
    let owner = Peer::new();
    let host = Peer::new();
    let registered = register(&registry, &owner, &owner, "services");
    assert_eq!(registered["success"], json!(true), "{registered}");
    let key_id = registered["key_id"].as_str().unwrap();

    // The issuer signs what the record says; the peer that hosts it signs the record.
    let put = |value: &str, host_signer: &Peer| {
        let issued = now() - 5;
        let fields = json!([key_id, owner.id, issued, value, host.id, [], ["echo"], []]);
        let message = registry.call("get_record_metadata_bytes", fields, owner.calls(vec![]));
        let signature = owner.sign(&bytes(&message));
        let fields = json!([
            key_id,
            owner.id,
            issued,
            value,
            host.id,
            [],
            ["echo"],
            [],
            signature
        ]);
        let metadata = registry.call("create_record_metadata", fields, owner.calls(vec![]));
        let created = now() - 1;
        let message = registry.call(
            "get_record_bytes",
            json!([metadata, created]),
            owner.calls(vec![]),
        );
        registry.call(
            "put_record",
            json!([
                metadata,
                created,
                host_signer.sign(&bytes(&message)),
                weight(&owner),
                now()
            ]),
            owner.calls(tetraplets(5, 3, 4)),
        )
    };
    let put_result = put("first", &host);
    assert_eq!(put_result["success"], json!(true), "{put_result}");
    let refused = put("forged", &owner);
    assert_eq!(refused["success"], json!(false), "{refused}");

    let mut timestamp = vec![vec![]; 2];
    timestamp[1] = from_host("peer", "timestamp_sec");
    let got = registry.call(
        "get_records",
        json!([key_id, now()]),
        owner.calls(timestamp),
    );
    assert_eq!(got["success"], json!(true), "{got}");
    let records = got["result"].as_array().unwrap();
    assert_eq!(records.len(), 1, "{got}");
    let metadata = &records[0]["metadata"];
    assert_eq!(metadata["value"], json!("first"));
    assert_eq!(metadata["issued_by"], json!(owner.id));
    assert_eq!(metadata["peer_id"], json!(host.id));
    assert_eq!(metadata["service_id"], json!(["echo"]));
    assert_eq!(metadata["relay_id"], json!([]));

    // Timestamps must come from the host itself.
    let untrusted = registry.call("get_records", json!([key_id, now()]), owner.calls(vec![]));
    assert_eq!(untrusted["success"], json!(false), "{untrusted}");
}
