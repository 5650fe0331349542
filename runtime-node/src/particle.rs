//! The particle: a script and its data on their way between peers.
//!
//! The peer that starts a particle (its init peer) signs the id, the timestamp, the ttl and the
//! script; the data changes at every peer and is not signed. A particle lives until
//! `timestamp + ttl` (milliseconds since the Unix epoch); after that every peer drops it.

use serde::{Deserialize, Serialize};

use crate::identity::{self, KeyPair, PeerId, SignatureError};

/// A particle as it travels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Particle {
    /// Unique per particle; normally a UUID.
    pub id: String,
    /// The peer that started the particle and signed it.
    #[serde(with = "peer_id_text")]
    pub init_peer_id: PeerId,
    /// When it started, in milliseconds since the Unix epoch.
    pub timestamp: u64,
    /// How long it lives, in milliseconds.
    pub ttl: u32,
    /// The AIR script.
    pub script: String,
    /// The init peer's signature of [`Particle::signed_bytes`].
    #[serde(with = "serde_bytes")]
    pub signature: Vec<u8>,
    /// The AquaVM data: the trace so far.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

/// Why a particle's signature was refused. Peers are named by their base58 ids.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParticleError {
    #[error("particle {id}: signed by {signer}, but its init peer is {init_peer}")]
    WrongSigner {
        id: String,
        signer: String,
        init_peer: String,
    },
    #[error("particle {id}: {source}")]
    Signature { id: String, source: SignatureError },
}

impl Particle {
    /// A particle started by `key`'s peer now, signed, with empty data.
    pub fn new(id: String, key: &KeyPair, timestamp: u64, ttl: u32, script: String) -> Particle {
        let mut particle = Particle {
            id,
            init_peer_id: key.peer_id(),
            timestamp,
            ttl,
            script,
            signature: Vec::new(),
            data: Vec::new(),
        };
        particle
            .sign(key)
            .expect("the particle's init peer is the key's peer");
        particle
    }

    /// What the init peer signs: the id (UTF-8), the timestamp (u64, little-endian), the ttl
    /// (u32, little-endian) and the script (UTF-8), one after the other.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.id.len() + 12 + self.script.len());
        self.signed_parts(|part| bytes.extend_from_slice(part));
        bytes
    }

    /// The parts of [`Particle::signed_bytes`], in order, without copying the script.
    pub fn signed_parts(&self, mut part: impl FnMut(&[u8])) {
        part(self.id.as_bytes());
        part(&self.timestamp.to_le_bytes());
        part(&self.ttl.to_le_bytes());
        part(self.script.as_bytes());
    }

    /// Signs the particle with `key`, which must be its init peer's.
    pub fn sign(&mut self, key: &KeyPair) -> Result<(), ParticleError> {
        let signer = key.peer_id();
        if signer != self.init_peer_id {
            return Err(ParticleError::WrongSigner {
                id: self.id.clone(),
                signer: signer.to_base58(),
                init_peer: self.init_peer_id.to_base58(),
            });
        }
        self.signature = key.sign(&self.signed_bytes());
        Ok(())
    }

    /// Checks that the init peer signed the particle as it is.
    pub fn verify(&self) -> Result<(), ParticleError> {
        identity::verify(&self.init_peer_id, &self.signed_bytes(), &self.signature).map_err(
            |source| ParticleError::Signature {
                id: self.id.clone(),
                source,
            },
        )
    }

    /// When the particle expires, in milliseconds since the Unix epoch; `None` when
    /// `timestamp + ttl` does not fit in 64 bits (such a particle counts as expired).
    pub fn deadline(&self) -> Option<u64> {
        self.timestamp.checked_add(u64::from(self.ttl))
    }

    /// Whether the particle has expired at `now` (milliseconds since the Unix epoch).
    pub fn is_expired(&self, now: u64) -> bool {
        self.deadline().is_none_or(|deadline| now > deadline)
    }
}

/// Peer ids travel as base58 text.
mod peer_id_text {
    use super::PeerId;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(peer: &PeerId, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&peer.to_base58())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<PeerId, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse()
            .map_err(|e| serde::de::Error::custom(format!("init_peer_id `{text}`: {e}")))
    }
}
