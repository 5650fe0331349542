//! Multi-peer test harness: engines, deterministic peers, mock services and a simulated
//! network that runs AIR scenarios and records what can be observed.
//!
//! Each test binary that declares `mod harness;` compiles its own copy and uses only part
//! of it, hence the `dead_code` allowance.

#![allow(dead_code)]

pub mod engine;
pub mod network;
pub mod ours;
pub mod peers;
pub mod reference;
pub mod report;
pub mod scenario;
pub mod services;
pub mod trace;
