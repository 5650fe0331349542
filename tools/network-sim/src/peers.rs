//! Deterministic test peers, named in scenarios and snapshots as `@name`.
//!
//! A peer's Ed25519 secret key is SHA-256 of `aqua-vm-test:` + its name, so its peer id
//! (`12D3KooW...`) is the same on every run and machine.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use vm::data::KeyPair;

/// The key format byte of Ed25519 in AquaVM's run parameters.
const ED25519: u8 = 0;

/// One simulated peer.
#[derive(Debug, Clone)]
pub struct Peer {
    /// The name scenarios and reports use, without the `@`.
    pub name: String,
    /// The peer id, `12D3KooW...`.
    pub id: String,
    /// Base58 of the encoded public key: how the data's signature store names the peer.
    pub public_key: String,
    /// The Ed25519 secret key.
    pub secret_key: [u8; 32],
}

impl Peer {
    /// The peer called `name`, with its key derived from the name.
    pub fn named(name: &str) -> Peer {
        let secret_key: [u8; 32] = Sha256::digest(format!("aqua-vm-test:{name}")).into();
        let keypair = KeyPair::from_secret_key(&secret_key, ED25519)
            .expect("32 bytes make an Ed25519 secret key");
        Peer {
            name: name.to_owned(),
            id: keypair.peer_id().to_string(),
            public_key: bs58::encode(keypair.public_key().as_bytes()).into_string(),
            secret_key,
        }
    }
}

/// The peers of one network, by name.
#[derive(Debug, Clone, Default)]
pub struct Peers {
    by_name: BTreeMap<String, Peer>,
}

/// Two sets of peers are equal when they have the same names (keys follow from names).
impl PartialEq for Peers {
    fn eq(&self, other: &Peers) -> bool {
        self.by_name.keys().eq(other.by_name.keys())
    }
}

impl Peers {
    /// Adds the peer called `name`, unless it is there already.
    pub fn add(&mut self, name: &str) {
        if !self.by_name.contains_key(name) {
            self.by_name.insert(name.to_owned(), Peer::named(name));
        }
    }

    /// The peer called `name`.
    pub fn get(&self, name: &str) -> Option<&Peer> {
        self.by_name.get(name)
    }

    /// The peer with peer id `id`.
    pub fn by_id(&self, id: &str) -> Option<&Peer> {
        self.by_name.values().find(|peer| peer.id == id)
    }

    /// The peer whose encoded public key is `public_key` (base58).
    pub fn by_public_key(&self, public_key: &str) -> Option<&Peer> {
        self.by_name
            .values()
            .find(|peer| peer.public_key == public_key)
    }

    /// The peers in the order of their names.
    pub fn iter(&self) -> impl Iterator<Item = &Peer> {
        self.by_name.values()
    }

    /// Replaces every `@name` with the peer id of `name`; the names must have been added.
    pub fn substitute(&self, text: &str) -> String {
        substitute_names(text, |name| {
            self.by_name.get(name).map(|peer| peer.id.clone())
        })
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

/// Replaces every `@name` in `text` with `id_of(name)`; names it does not know stay as they
/// are. For peers whose ids come from elsewhere than [`Peers`] (a real network's).
pub fn substitute_names(text: &str, id_of: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        out.push_str(&rest[..at]);
        let name_len = name_len(&rest[at + 1..]);
        let name = &rest[at + 1..at + 1 + name_len];
        match id_of(name) {
            Some(id) if name_len > 0 => out.push_str(&id),
            _ => out.push_str(&rest[at..at + 1 + name_len]),
        }
        rest = &rest[at + 1 + name_len..];
    }
    out.push_str(rest);
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_ids_are_pinned() {
        assert_eq!(
            Peer::named("a").id,
            "12D3KooWMQCMszY5GmZ7Qn4aTFHqPKDThDmScE8KCkjh6XC4iQ52"
        );
        assert_eq!(
            Peer::named("b").id,
            "12D3KooWB4XmjhBKHzbFQcRj1pQwFrp8P3tp1oPDsKJu8qECmRrG"
        );
    }

    #[test]
    fn peer_names_substitute_both_ways() {
        let mut peers = Peers::default();
        peers.add("a");
        peers.add("relay-1");
        let text = r#"(call "@relay-1" ("s" "f") ["@a" "@unknown" "mail@"])"#;
        let substituted = peers.substitute(text);
        assert!(substituted.contains(&Peer::named("relay-1").id));
        assert!(substituted.contains("@unknown"));
        assert_eq!(peers.unsubstitute(&substituted), text);
    }
}
