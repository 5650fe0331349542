//! The Aqua peer.
//!
//! A peer runs particles: each arrives with an AIR script and its data, is executed by the
//! `vm` crate, makes service calls, and travels on to the next peers.
//!
//! - [`identity`]: Ed25519 key pairs, peer ids, and key files that keep a peer's identity;
//! - [`particle`]: the particle, its signature by the peer that started it, its expiry;
//! - [`protocol`]: the particle protocol's encoding (`/fluence/particle/2.0.0`): msgpack
//!   behind a multicodec prefix, in length-delimited frames, as Fluence peers and clients use;
//! - [`service`]: what answers a particle's calls, and the registry of a peer's services;
//! - [`connectivity`]: what a peer knows of the network around it;
//! - [`transport`]: how a peer sends particles to others;
//! - [`engine`]: what a peer does with the particles that reach it: checks, one actor per
//!   particle, AquaVM steps, service calls, sending on, expiry;
//! - [`network`]: the embedded local network, peers in one process linked in memory, with
//!   faults to inject;
//! - [`client`]: the client peer that calls compiled Aqua functions from outside;
//! - [`embedded`]: a ready-made local network of peers with deterministic keys and a client,
//!   as `aquac run` starts it;
//! - [`builtins`]: the services every peer has (`op`, `peer`, `kad`, `math`, `json`, `sig`,
//!   `vault`, `srv`, `dist`, `stat`, ...), with the names and behaviour of Fluence's peer;
//! - [`modules`]: the Marine modules and blueprints a peer stores, named by content ids as
//!   Fluence peers name them;
//! - [`apps`]: the Marine services a peer runs, created from blueprints and kept across
//!   restarts.

pub mod apps;
pub mod builtins;
pub mod client;
pub mod connectivity;
pub mod embedded;
pub mod engine;
pub mod identity;
pub mod modules;
pub mod network;
pub mod particle;
pub mod protocol;
pub mod service;
mod sync;
pub mod transport;

pub use identity::{KeyPair, PeerId};
pub use particle::Particle;
