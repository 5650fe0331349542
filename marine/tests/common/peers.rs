//! Peers for the services that check who called them: Ed25519 key pairs, their peer ids, and
//! call parameters whose tetraplets say where each argument came from.

use fluence_keypair::KeyPair;
use marine::{CallParameters, SecurityTetraplet};
use serde_json::Value;

/// The node the services run on.
pub const HOST: &str = "12D3KooWHostHostHostHostHostHostHostHostHostHost";

pub struct Peer {
    pub keys: KeyPair,
    pub id: String,
}

impl Peer {
    pub fn new() -> Peer {
        let keys = KeyPair::generate_ed25519();
        let id = keys.get_peer_id().to_base58();
        Peer { keys, id }
    }

    /// The raw Ed25519 signature of `message`, as the services expect it.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.keys.sign(message).unwrap().to_vec().to_vec()
    }

    /// Parameters of a call this peer started, on a service it created, with one list of
    /// tetraplets per argument.
    pub fn calls(&self, tetraplets: Vec<Vec<SecurityTetraplet>>) -> CallParameters {
        let mut parameters = CallParameters {
            service_id: "service".into(),
            service_creator_peer_id: self.id.clone(),
            host_id: HOST.into(),
            worker_id: HOST.into(),
            tetraplets,
            ..Default::default()
        };
        parameters.particle.id = "particle".into();
        parameters.particle.init_peer_id = self.id.clone();
        parameters
    }
}

/// An argument the host itself produced with `service.function`: only such timestamps and
/// weights are trusted.
pub fn from_host(service: &str, function: &str) -> Vec<SecurityTetraplet> {
    vec![SecurityTetraplet {
        peer_pk: HOST.into(),
        service_id: service.into(),
        function_name: function.into(),
        lens: String::new(),
    }]
}

/// The host's clock, as `peer.timestamp_sec` gives it.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A byte array in the JSON form of interface values.
pub fn bytes(value: &Value) -> Vec<u8> {
    let items = value.as_array().unwrap_or_else(|| panic!("bytes: {value}"));
    items.iter().map(|b| b.as_u64().unwrap() as u8).collect()
}
