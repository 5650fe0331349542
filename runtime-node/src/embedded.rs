//! A ready-made local network for running Aqua: N server peers with deterministic keys and
//! the builtin services, a client on the first, and a log of every hop.
//!
//! This is what `aquac run` and end-to-end tests start. Peer `i` has the key
//! [`KeyPair::from_seed`]`(seed, i)` and the client `from_seed(seed, u32::MAX)`, so the same seed
//! gives the same peer ids in every run.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::builtins::{register_builtins, Console, Host, HostInfo, Vault};
use crate::client::Client;
use crate::engine::{Limits, Peer};
use crate::identity::{KeyPair, PeerId};
use crate::network::{Hop, LocalNetwork, PeerSetup};
use crate::service::{ParticleParams, RegistryError, Service};
use crate::sync::lock;

/// The key index of the client peer.
pub const CLIENT_INDEX: u32 = u32::MAX;

/// How to start an [`Embedded`] network.
#[derive(Clone)]
pub struct EmbeddedOptions {
    /// How many server peers (at least one: the client's relay).
    pub peers: u32,
    /// The seed of the peers' keys.
    pub seed: u64,
    pub limits: Limits,
    /// Where `run-console.print` writes, on every peer.
    pub console: Console,
}

impl Default for EmbeddedOptions {
    /// Three peers, seed 0, default limits, console lines to standard error.
    fn default() -> Self {
        EmbeddedOptions {
            peers: 3,
            seed: 0,
            limits: Limits::default(),
            console: Arc::new(|line: &str| eprintln!("{line}")),
        }
    }
}

/// A running local network with its client.
pub struct Embedded {
    pub network: LocalNetwork,
    /// The servers' ids, the relay first.
    pub peers: Vec<PeerId>,
    pub client: Client,
    hops: HopLog,
    /// The peers' particle vaults, removed with the network.
    vaults: PathBuf,
}

/// Why [`Embedded::register_service`] refused a service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    #[error("peer {0} is not in the network")]
    UnknownPeer(PeerId),
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// Every hop, by particle, in the order they happened.
#[derive(Clone, Default)]
struct HopLog(Arc<Mutex<HashMap<String, Vec<Hop>>>>);

impl Embedded {
    /// Starts the network; needs a tokio runtime.
    pub fn start(options: &EmbeddedOptions) -> Embedded {
        let network = LocalNetwork::new();
        let vaults = std::env::temp_dir().join(format!(
            "aqua-embedded-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        let peers: Vec<PeerId> = (0..options.peers.max(1))
            .map(|index| {
                let key_pair = KeyPair::from_seed(options.seed, index);
                let (setup, host) = setup(key_pair, options, &vaults);
                let peer = network.add_server(setup);
                serve_builtins(&network, &peer, host);
                peer.peer_id()
            })
            .collect();
        let (setup, host) = setup(
            KeyPair::from_seed(options.seed, CLIENT_INDEX),
            options,
            &vaults,
        );
        let client = Client::join(&network, setup, peers[0]);
        serve_builtins(&network, client.peer(), host);
        let hops = HopLog::default();
        let log = hops.clone();
        network.observe(Arc::new(move |hop: &Hop| {
            lock(&log.0)
                .entry(hop.particle_id.clone())
                .or_default()
                .push(hop.clone());
        }));
        Embedded {
            network,
            peers,
            client,
            hops,
            vaults,
        }
    }

    /// Registers the host service `id` on `peer` (a server or the client), owned by that
    /// peer: how a test or a host adds its own services next to the builtins.
    pub fn register_service(
        &self,
        peer: &PeerId,
        id: impl Into<String>,
        service: Arc<dyn Service>,
    ) -> Result<(), RegisterError> {
        let target = self
            .network
            .peer(peer)
            .ok_or(RegisterError::UnknownPeer(*peer))?;
        Ok(target.services().register(id, service, *peer)?)
    }

    /// The hops of particle `id` so far.
    pub fn hops(&self, particle_id: &str) -> Vec<Hop> {
        lock(&self.hops.0)
            .get(particle_id)
            .cloned()
            .unwrap_or_default()
    }

    /// The peers that particle `id` was last sent to and that have not sent it anywhere since:
    /// where a particle that never came back is stuck.
    pub fn unanswered(&self, particle_id: &str) -> Vec<PeerId> {
        let mut waiting = BTreeSet::new();
        for hop in self.hops(particle_id) {
            waiting.remove(&hop.from);
            waiting.insert(hop.to);
        }
        waiting.remove(&self.client.peer_id());
        waiting.into_iter().collect()
    }

    /// A short name for `peer`: `peer0` (the relay), `peer1`, ..., `client`, or its id.
    pub fn name_of(&self, peer: &PeerId) -> String {
        if *peer == self.client.peer_id() {
            return "client".to_owned();
        }
        match self.peers.iter().position(|p| p == peer) {
            Some(index) => format!("peer{index}"),
            None => peer.to_base58(),
        }
    }
}

impl Drop for Embedded {
    fn drop(&mut self) {
        // Particles that have not expired yet still have vaults; they go with the network.
        let _ = std::fs::remove_dir_all(&self.vaults);
    }
}

/// A peer's setup and what its builtins need, short of its connectivity.
fn setup(
    key_pair: KeyPair,
    options: &EmbeddedOptions,
    vaults: &std::path::Path,
) -> (PeerSetup, Builtins) {
    let key = Arc::new(key_pair.clone());
    let vault = Vault::new(vaults.join(key_pair.peer_id().to_base58()), key.clone());
    let mut setup = PeerSetup::new(key_pair);
    setup.limits = options.limits;
    let expiring = vault.clone();
    setup
        .on_expiry
        .push(Arc::new(move |particle: &ParticleParams| {
            if let Err(e) = expiring.remove_particle(&particle.id) {
                tracing::warn!(particle = %particle.id, "could not remove the vault: {e}");
            }
        }));
    let builtins = Builtins {
        key,
        vault,
        console: options.console.clone(),
    };
    (setup, builtins)
}

/// The parts of a builtins [`Host`] known before the peer joins the network.
struct Builtins {
    key: Arc<KeyPair>,
    vault: Vault,
    console: Console,
}

fn serve_builtins(network: &LocalNetwork, peer: &Peer, builtins: Builtins) {
    let host = Host {
        key_pair: builtins.key,
        connectivity: network.connectivity(peer.peer_id()),
        vault: builtins.vault,
        info: HostInfo {
            node_version: env!("CARGO_PKG_VERSION").to_owned(),
            air_version: vm::data::INTERPRETER_VERSION.to_string(),
            ..HostInfo::default()
        },
        console: builtins.console,
        management_peer: None,
    };
    register_builtins(peer.services(), host);
}
