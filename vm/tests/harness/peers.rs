//! Deterministic test peers, named in scenarios and snapshots as `@name`.
//!
//! A peer's Ed25519 secret key is SHA-256 of `aqua-vm-test:` + its name, so its peer id
//! (`12D3KooW...`) is the same on every run and machine.

use std::collections::BTreeMap;

use fluence_keypair::{KeyFormat, KeyPair};
use sha2::{Digest, Sha256};

/// One simulated peer.
#[derive(Debug, Clone)]
pub struct Peer {
    pub name: String,
    pub id: String,
    /// Base58 of the encoded public key: how the data's signature store names the peer.
    pub public_key: String,
    pub secret_key: [u8; 32],
}

impl Peer {
    pub fn named(name: &str) -> Peer {
        let secret_key: [u8; 32] = Sha256::digest(format!("aqua-vm-test:{name}")).into();
        let keypair = KeyPair::from_secret_key(secret_key.to_vec(), KeyFormat::Ed25519)
            .expect("32 bytes make an Ed25519 secret key");
        Peer {
            name: name.to_owned(),
            id: keypair.get_peer_id().to_string(),
            public_key: bs58::encode(keypair.public().encode()).into_string(),
            secret_key,
        }
    }
}

/// The peers of one scenario, by name.
#[derive(Debug, Clone, Default)]
pub struct Peers {
    by_name: BTreeMap<String, Peer>,
}

impl Peers {
    pub fn add(&mut self, name: &str) {
        if !self.by_name.contains_key(name) {
            self.by_name.insert(name.to_owned(), Peer::named(name));
        }
    }

    pub fn get(&self, name: &str) -> Option<&Peer> {
        self.by_name.get(name)
    }

    pub fn by_id(&self, id: &str) -> Option<&Peer> {
        self.by_name.values().find(|peer| peer.id == id)
    }

    pub fn by_public_key(&self, public_key: &str) -> Option<&Peer> {
        self.by_name
            .values()
            .find(|peer| peer.public_key == public_key)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Peer> {
        self.by_name.values()
    }

    /// Replaces every `@name` with the peer id of `name`; the names must have been added.
    pub fn substitute(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find('@') {
            out.push_str(&rest[..at]);
            let name_len = name_len(&rest[at + 1..]);
            let name = &rest[at + 1..at + 1 + name_len];
            match self.by_name.get(name) {
                Some(peer) if name_len > 0 => out.push_str(&peer.id),
                _ => out.push_str(&rest[at..at + 1 + name_len]),
            }
            rest = &rest[at + 1 + name_len..];
        }
        out.push_str(rest);
        out
    }

    /// Replaces every known peer id with `@name`, so that snapshots stay readable.
    pub fn unsubstitute(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for peer in self.by_name.values() {
            out = out.replace(&peer.id, &format!("@{}", peer.name));
        }
        out
    }
}

/// Every `@name` mentioned in `text`.
pub fn mentioned_names(text: &str) -> Vec<String> {
    text.match_indices('@')
        .map(|(at, _)| &text[at + 1..at + 1 + name_len(&text[at + 1..])])
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect()
}

fn name_len(text: &str) -> usize {
    text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(text.len())
}
