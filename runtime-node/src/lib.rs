//! The Aqua peer.
//!
//! A peer runs particles: each arrives with an AIR script and its data, is executed by the
//! `vm` crate, makes service calls, and travels on to the next peers.
//! This crate has, so far, what every peer and client agree on before any of that:
//!
//! - [`identity`]: Ed25519 key pairs, peer ids, and key files that keep a peer's identity;
//! - [`particle`]: the particle, its signature by the peer that started it, its expiry;
//! - [`protocol`]: the particle protocol's encoding (`/fluence/particle/2.0.0`): msgpack
//!   behind a multicodec prefix, in length-delimited frames, as Fluence peers and clients use.

pub mod identity;
pub mod particle;
pub mod protocol;

pub use identity::{KeyPair, PeerId};
pub use particle::Particle;
