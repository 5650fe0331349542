//! A simulated multi-peer network for AIR and compiled Aqua.
//!
//! One particle runs across deterministic peers; each peer runs an AquaVM engine on it, its
//! host answers the engine's service calls, and the particle moves on to the next peers the
//! engine names. Everything is in memory and deterministic, so what a run shows can be
//! snapshotted and compared between engines or between compilers.
//!
//! The layers, from the bottom:
//! - [`engine`]: one interpreter step as plain data behind the [`Engine`] trait. Our VM
//!   ([`VmEngine`]) is always there; the reference AquaVM 0.62 (`ReferenceEngine`) comes
//!   with the `reference` feature.
//! - [`peers`]: peers named `@name` with keys derived from the name.
//! - [`network`]: [`run_particle`] plays a particle over a [`Network`] of peers, asking a
//!   [`ServiceHost`] for the answer of every call, and returns the [`Observables`].
//! - [`services`]: mock service rules (`ok 42`, `err 1 "boom"`, `echo`, ...).
//! - [`scenario`]: AIR scenario files (a header of `;` directives, then the script); with the
//!   `reference` feature, `report` renders their observables as text and `trace` renders
//!   particle data.
//! - [`aqua`]: running one compiled top-level Aqua function: the client-side services of the
//!   function wrapper, mock builtins on every peer, per-program test services, and an
//!   [`Observed`](aqua::Observed) result; [`aqua::corpus`] loads programs with their run specs.
//!
//! ```
//! use network_sim::network::{run_particle, Network, Particle};
//! use network_sim::peers::Peers;
//! use network_sim::services::{ServiceRule, Services};
//! use network_sim::{Engine, VmEngine};
//!
//! let mut peers = Peers::default();
//! peers.add("a");
//! peers.add("b");
//! let script = peers.substitute(r#"(call "@b" ("svc" "get") [] x)"#);
//! let mut services = Services::new(vec![ServiceRule::parse(Some("b"), "svc.get", "ok 42").unwrap()]);
//! let observed = run_particle(&Network::new(peers), &Particle::new(script, "a"), &mut services, &|_, _| &VmEngine as &dyn Engine);
//! let (_, answer) = &observed.deliveries[1].runs[0].calls[&1];
//! assert_eq!(answer.result, "42");
//! ```

#![warn(missing_docs)]

pub mod aqua;
pub mod engine;
pub mod network;
pub mod ours;
pub mod peers;
#[cfg(feature = "reference")]
pub mod reference;
#[cfg(feature = "reference")]
pub mod report;
pub mod scenario;
pub mod services;
#[cfg(feature = "reference")]
pub mod trace;

pub use engine::Engine;
pub use network::{run_particle, Network, Observables, Particle, ServiceHost};
pub use ours::{VmAnsweringEngine, VmEngine};
#[cfg(feature = "reference")]
pub use reference::ReferenceEngine;

use serde_json::{Map, Value};

/// Compact JSON text with object keys sorted, whatever the map order of `serde_json`.
pub fn canonical(value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                let mut out = Map::new();
                for (key, value) in entries {
                    out.insert(key.clone(), sorted(value));
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(value).to_string()
}
