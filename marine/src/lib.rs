//! Marine: a Wasm runtime for modules with interface types.
//!
//! A Marine module is an ordinary `wasm32-wasi` module built with the Marine SDK: it describes
//! its functions and records in an `interface-types` custom section, and exchanges strings,
//! byte arrays, arrays and records through its own allocator. Modules are linked
//! shared-nothing into a [`Service`]: each has its own memory, calls between them copy values,
//! and only the last module's (the facade's) functions are callable from outside.
//!
//! ```no_run
//! use marine::{CallParameters, ModuleConfig, Runtime, RuntimeConfig, Service, ServiceConfig};
//!
//! let runtime = Runtime::new(RuntimeConfig::default())?;
//! let module = runtime.load_module_file("greeting", "greeting.wasm".as_ref())?;
//! let service = Service::new(&runtime, ServiceConfig::new(vec![ModuleConfig::new(module)]))?;
//! let answer = service.call_json("greeting", &serde_json::json!(["world"]), CallParameters::default())?;
//! # Ok::<(), marine::Error>(())
//! ```
//!
//! Calls have a deadline that really stops a runaway module (the engine's epoch is advanced by
//! a clock thread), a service has a memory budget shared by its modules, and WASI sees only the
//! directories and environment its config gives.

mod config;
mod error;
mod host;
mod lilo;
mod module;
mod runtime;
mod service;

pub use config::load_config;
pub use error::{AbiError, CallFailure, Error, Result};
pub use host::{CallParameters, ParticleParameters, SecurityTetraplet};
pub use marine_it::{IType, IValue, ModuleInterface};
pub use module::{describe, read_sections, CompiledModule, Description, Sections};
pub use runtime::{Runtime, RuntimeConfig};
pub use service::{ModuleConfig, Service, ServiceConfig, Startup};
