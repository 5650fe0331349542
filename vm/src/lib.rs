//! AquaVM: executes AIR for one peer.
//!
//! A peer calls [`execute`] each time a particle arrives or its local service calls return. The
//! VM merges the particle's data with what the peer had, runs the script as far as it can go on
//! this peer, and returns the new data, the peers to send it to and the service calls to make.
//! The data format is that of reference AquaVM 0.62 ([`data`]), so particles can travel between
//! peers running either VM.

mod cache;
pub mod data;
mod exec;
mod run;

pub use run::{execute, CallAnswerer, Outcome, RunParameters, Vm};
