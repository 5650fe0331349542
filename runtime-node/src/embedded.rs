//! A ready-made local network for running Aqua: N server peers with deterministic keys and
//! the builtin services, a client on the first, and a log of every hop.
//!
//! This is what `aquac run` and end-to-end tests start. Peer `i` has the key
//! [`KeyPair::from_seed`]`(seed, i)` and the client `from_seed(seed, u32::MAX)`, so the same seed
//! gives the same peer ids in every run.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::apps::{AppError, Apps, AppsConfig};
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
    /// Where the peers keep their Marine modules, blueprints and services
    /// (`{data_dir}/{peer id}`), so that a network started again on the same directory with
    /// the same seed has them back. `None`: a temporary directory, removed with the network.
    pub data_dir: Option<PathBuf>,
}

impl Default for EmbeddedOptions {
    /// Three peers, seed 0, default limits, console lines to standard error.
    fn default() -> Self {
        EmbeddedOptions {
            peers: 3,
            seed: 0,
            limits: Limits::default(),
            console: Arc::new(|line: &str| eprintln!("{line}")),
            data_dir: None,
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
    /// The peers' data, removed with the network unless the options named it.
    temporary_data: Option<PathBuf>,
}

/// Why [`Embedded::register_service`] refused a service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    #[error("peer {0} is not in the network")]
    UnknownPeer(PeerId),
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// Why an [`Embedded`] network could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot start the Marine runtime: {0}")]
    Marine(#[from] marine::Error),
    #[error("cannot open the Marine services of peer {peer}: {source}")]
    Apps { peer: PeerId, source: Box<AppError> },
}

/// Every hop, by particle, in the order they happened.
#[derive(Clone, Default)]
struct HopLog(Arc<Mutex<HashMap<String, Vec<Hop>>>>);

impl Embedded {
    /// Starts the network, with the Marine services kept in its data directory; needs a
    /// tokio runtime. The client is every server's management peer: it may deploy services.
    pub fn start(options: &EmbeddedOptions) -> Result<Embedded, StartError> {
        let network = LocalNetwork::new();
        let scratch = std::env::temp_dir().join(format!(
            "aqua-embedded-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        let vaults = scratch.join("vaults");
        let (data_dir, temporary_data) = match &options.data_dir {
            Some(dir) => (dir.clone(), None),
            None => (scratch.join("data"), Some(scratch.clone())),
        };
        let runtime = marine::Runtime::new(marine::RuntimeConfig {
            cache_dir: options.data_dir.as_ref().map(|dir| dir.join("compiled")),
        })?;
        let client_key = KeyPair::from_seed(options.seed, CLIENT_INDEX);
        let manager = client_key.peer_id();
        let mut peers = Vec::new();
        for index in 0..options.peers.max(1) {
            let key_pair = KeyPair::from_seed(options.seed, index);
            let (setup, host) = setup(key_pair, options, &vaults);
            let peer = network.add_server(setup);
            let apps = Apps::open(
                AppsConfig::new(data_dir.join(peer.peer_id().to_base58())),
                runtime.clone(),
                peer.services(),
                host.vault.clone(),
                peer.peer_id(),
            )
            .map_err(|source| StartError::Apps {
                peer: peer.peer_id(),
                source: Box::new(source),
            })?;
            let apps = Arc::new(apps);
            serve_builtins(&network, &peer, host, Some(manager), Some(apps.clone()));
            apps.restore();
            peers.push(peer.peer_id());
        }
        let (setup, host) = setup(client_key, options, &vaults);
        let client = Client::join(&network, setup, peers[0]);
        serve_builtins(&network, client.peer(), host, None, None);
        let hops = HopLog::default();
        let log = hops.clone();
        network.observe(Arc::new(move |hop: &Hop| {
            lock(&log.0)
                .entry(hop.particle_id.clone())
                .or_default()
                .push(hop.clone());
        }));
        Ok(Embedded {
            network,
            peers,
            client,
            hops,
            vaults,
            temporary_data,
        })
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
        if let Some(dir) = &self.temporary_data {
            let _ = std::fs::remove_dir_all(dir);
        }
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

fn serve_builtins(
    network: &LocalNetwork,
    peer: &Peer,
    builtins: Builtins,
    management_peer: Option<PeerId>,
    apps: Option<Arc<Apps>>,
) {
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
        management_peer,
        apps,
    };
    register_builtins(peer.services(), host);
}
