//! How a peer's engine sends particles to other peers.
//!
//! The embedded network implements [`Transport`] in memory ([`crate::network`]); the daemon will
//! implement it over libp2p. The engine is the same on both.

use std::future::Future;
use std::pin::Pin;

use crate::connectivity::Connectivity;
use crate::identity::PeerId;
use crate::particle::Particle;

/// Why a particle could not be handed to a peer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("peer {0} is not reachable from here")]
    Unreachable(String),
    #[error("peer {peer} refused the particle: {reason}")]
    Refused { peer: String, reason: String },
}

/// A send in progress; it resolves when the receiving peer has accepted the particle (so a
/// congested receiver slows the sender down).
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>>;

/// The network as one peer uses it.
pub trait Transport: Connectivity {
    /// Sends `particle` to `to`.
    fn send(&self, to: &PeerId, particle: Particle) -> SendFuture<'_>;
}
