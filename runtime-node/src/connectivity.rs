//! What a peer knows of the network around it.
//!
//! The engine sends particles through a transport (in memory for the embedded network, libp2p
//! for the daemon); builtins such as `peer.is_connected` and `kad.neighborhood` ask the same
//! transport what it knows, through this trait.

use serde::Serialize;

use crate::identity::PeerId;

/// A peer and the addresses it can be reached at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Contact {
    /// Base58 peer id.
    pub peer_id: String,
    /// Multiaddresses; empty for peers of the embedded network.
    pub addresses: Vec<String>,
}

/// A peer's view of its connections.
pub trait Connectivity: Send + Sync + 'static {
    /// Whether this peer has a live connection to `peer`.
    fn is_connected(&self, peer: &PeerId) -> bool;

    /// The peers this peer knows, connected or not (its routing table).
    fn known_peers(&self) -> Vec<PeerId>;

    /// How to reach `peer`, if it is known.
    fn contact(&self, peer: &PeerId) -> Option<Contact>;
}
