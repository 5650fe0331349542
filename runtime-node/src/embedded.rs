//! A ready-made local network for running Aqua: N server peers with deterministic keys, a
//! client on the first, and a log of every hop.
//!
//! This is what `aquac run` and end-to-end tests start. Peer `i` has the key
//! [`KeyPair::from_seed`]`(seed, i)` and the client `from_seed(seed, u32::MAX)`, so the same seed
//! gives the same peer ids in every run.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use crate::client::Client;
use crate::engine::Limits;
use crate::identity::{KeyPair, PeerId};
use crate::network::{Hop, LocalNetwork, PeerSetup};
use crate::sync::lock;

/// The key index of the client peer.
pub const CLIENT_INDEX: u32 = u32::MAX;

/// How to start an [`Embedded`] network.
#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    /// How many server peers (at least one: the client's relay).
    pub peers: u32,
    /// The seed of the peers' keys.
    pub seed: u64,
    pub limits: Limits,
}

impl Default for EmbeddedOptions {
    /// Three peers, seed 0, default limits.
    fn default() -> Self {
        EmbeddedOptions {
            peers: 3,
            seed: 0,
            limits: Limits::default(),
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
}

/// Every hop, by particle, in the order they happened.
#[derive(Clone, Default)]
struct HopLog(Arc<Mutex<HashMap<String, Vec<Hop>>>>);

impl Embedded {
    /// Starts the network; needs a tokio runtime.
    pub fn start(options: &EmbeddedOptions) -> Embedded {
        let network = LocalNetwork::new();
        let peers: Vec<PeerId> = (0..options.peers.max(1))
            .map(|index| {
                let mut setup = PeerSetup::new(KeyPair::from_seed(options.seed, index));
                setup.limits = options.limits;
                network.add_server(setup).peer_id()
            })
            .collect();
        let mut setup = PeerSetup::new(KeyPair::from_seed(options.seed, CLIENT_INDEX));
        setup.limits = options.limits;
        let client = Client::join(&network, setup, peers[0]);
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
        }
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
