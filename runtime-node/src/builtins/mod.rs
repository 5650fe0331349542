//! The builtin services of a peer, with the names, functions, arguments, results and errors
//! of Fluence's peer (nox), so that Aqua code written for Fluence runs unchanged.
//!
//! | service | functions |
//! |---|---|
//! | `op` | `noop identity array array_length concat concat_strings string_to_b58 string_from_b58 bytes_to_b58 bytes_from_b58 sha256_string` |
//! | `peer` | `identify timestamp_ms timestamp_sec timeout is_connected get_contact` |
//! | `kad` | `neighborhood neigh_with_addrs merge` |
//! | `math`, `cmp` | `add sub mul fmul div rem pow log`; `gt gte lt lte cmp` |
//! | `array` | `sum dedup intersect diff sdiff slice length` |
//! | `json` | `obj put puts parse stringify obj_pairs puts_pairs` |
//! | `debug`, `run-console` | `stringify`; `print` |
//! | `sig` | `sign verify get_peer_id` |
//! | `vault` | `put cat` (see [`Vault`]) |
//! | `srv` | `list create get_interface add_alias resolve_alias resolve_alias_opt remove info` |
//! | `dist` | `add_module add_module_from_vault add_module_bytes_from_vault add_blueprint make_module_config load_module_config default_module_config make_blueprint load_blueprint list_modules get_module_interface list_blueprints get_blueprint` |
//! | `stat` | `service_memory service_stat` |
//!
//! Builtins are peer-local and answer at once, except `peer.timeout` and the ones that
//! compile or instantiate Marine modules, which answer later. Functions that change the peer
//! (`srv.create`, `srv.add_alias`, `srv.remove`, `dist.add_*`) or speak for it (`sig.sign`)
//! are open only to [trusted](Host::trusts) initiators. `dist`, `stat` and `srv.create` need
//! the peer's Marine services ([`Host::apps`]); spells, workers and `vm` are not here.
//!
//! A host builds a [`Host`] and calls [`register_builtins`]:
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use runtime_node::builtins::{register_builtins, Host, HostInfo, Vault};
//! # use runtime_node::service::ServiceRegistry;
//! # use runtime_node::KeyPair;
//! # fn connectivity() -> Arc<dyn runtime_node::connectivity::Connectivity> { unimplemented!() }
//! let key_pair = Arc::new(KeyPair::generate());
//! let registry = ServiceRegistry::new();
//! register_builtins(
//!     &registry,
//!     Host {
//!         vault: Vault::new("/var/lib/peer/vault", key_pair.clone()),
//!         key_pair,
//!         connectivity: connectivity(),
//!         info: HostInfo::default(),
//!         console: Arc::new(|line| println!("{line}")),
//!         management_peer: None,
//!         apps: None,
//!     },
//! );
//! ```

mod args;
mod collections;
mod dist;
mod kad;
mod math;
mod op;
mod peer;
mod sig;
mod srv;
mod stat;
mod text;
mod vault;

use std::sync::Arc;

use serde::Serialize;

use crate::apps::Apps;
use crate::connectivity::Connectivity;
use crate::identity::{KeyPair, PeerId};
use crate::service::ServiceRegistry;

pub use vault::{Vault, VaultError};

/// What `peer.identify` reports about the peer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HostInfo {
    /// Multiaddresses others can reach the peer at.
    pub external_addresses: Vec<String>,
    pub node_version: String,
    /// The AquaVM version the peer runs.
    pub air_version: String,
    pub spell_version: String,
    /// Host binaries that services may call.
    pub allowed_binaries: Vec<String>,
}

/// Where `run-console.print` writes: one call, one line.
pub type Console = Arc<dyn Fn(&str) + Send + Sync>;

/// What the builtins need of their peer.
pub struct Host {
    /// The peer's key: `sig` signs with it, and it names particle vaults.
    pub key_pair: Arc<KeyPair>,
    pub connectivity: Arc<dyn Connectivity>,
    pub vault: Vault,
    pub info: HostInfo,
    pub console: Console,
    /// The peer that administers this one, if any: trusted like the peer itself.
    pub management_peer: Option<PeerId>,
    /// The peer's Marine services and stored modules, if it runs any: they give `dist`,
    /// `stat` and `srv.create`.
    pub apps: Option<Arc<Apps>>,
}

impl Host {
    /// Whether a particle started by `peer` may use the guarded functions: the peer itself
    /// and its management peer may.
    pub fn trusts(&self, peer: &PeerId) -> bool {
        *peer == self.key_pair.peer_id() || self.management_peer.as_ref() == Some(peer)
    }
}

/// Registers every builtin service of `host` in `registry`, under its Fluence name.
pub fn register_builtins(registry: &ServiceRegistry, host: Host) {
    let host = Arc::new(host);
    registry.add_builtin(op::SERVICE, Arc::new(op::Op));
    registry.add_builtin(text::DEBUG, Arc::new(text::Debug));
    registry.add_builtin(text::JSON, Arc::new(text::Json));
    registry.add_builtin(
        text::CONSOLE,
        Arc::new(text::RunConsole::new(host.console.clone())),
    );
    registry.add_builtin(math::MATH, Arc::new(math::Math));
    registry.add_builtin(math::CMP, Arc::new(math::Cmp));
    registry.add_builtin(collections::SERVICE, Arc::new(collections::Array));
    registry.add_builtin(peer::SERVICE, Arc::new(peer::Peer::new(host.clone())));
    registry.add_builtin(kad::SERVICE, Arc::new(kad::Kad::new(host.clone())));
    registry.add_builtin(sig::SERVICE, Arc::new(sig::Sig::new(host.clone())));
    registry.add_builtin(vault::SERVICE, Arc::new(host.vault.clone()));
    if let Some(apps) = &host.apps {
        registry.add_builtin(
            dist::SERVICE,
            Arc::new(dist::Dist::new(apps.clone(), host.clone())),
        );
        registry.add_builtin(
            stat::SERVICE,
            Arc::new(stat::Stat::new(apps.clone(), registry.downgrade())),
        );
    }
    registry.add_builtin(srv::SERVICE, Arc::new(srv::Srv::new(registry, host)));
}
