//! The embedded local network: peers in one process, linked in memory.
//!
//! Every peer is a full [`Peer`] engine; only the transport differs from the daemon's: a send
//! is a direct [`Peer::ingest`] on the receiver, so a busy receiver slows its senders down.
//! Peers are either servers (all linked to each other) or clients, linked to their relay
//! only, as a client connected to a Fluence node is.
//!
//! For tests, links can fail: a stopped peer neither receives nor sends, a dropped link loses
//! what goes over it, a delayed link delivers late. Every hop can be watched ([`Hop`]).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use crate::connectivity::{Connectivity, Contact};
use crate::engine::{ExpiryHook, Limits, Peer, PeerConfig, StepHook};
use crate::identity::{KeyPair, PeerId};
use crate::particle::Particle;
use crate::service::ServiceRegistry;
use crate::sync::{read, write};
use crate::transport::{SendError, SendFuture, Transport};

/// What happened to a particle sent from one peer to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    pub particle_id: String,
    pub from: PeerId,
    pub to: PeerId,
    /// Size of the particle's data.
    pub data_bytes: usize,
    pub fate: Fate,
}

/// Whether a hop arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    Delivered,
    /// Lost on a dropped link.
    Dropped,
    /// Delivered after the link's delay.
    Delayed(Duration),
    /// The sender or the receiver is stopped, or they are not linked.
    Unreachable,
    /// The receiver refused it (the reason).
    Refused(String),
}

/// Watches every hop of the network.
pub type HopObserver = Arc<dyn Fn(&Hop) + Send + Sync>;

/// Peers in one process, linked in memory. Cloning gives another handle to the same network.
#[derive(Clone)]
pub struct LocalNetwork {
    inner: Arc<Inner>,
}

struct Inner {
    nodes: RwLock<Nodes>,
    faults: RwLock<Faults>,
    observers: RwLock<Vec<HopObserver>>,
    vm: Arc<vm::Vm>,
}

#[derive(Default)]
struct Nodes {
    by_id: HashMap<PeerId, Node>,
    /// Servers in the order they were added.
    servers: Vec<PeerId>,
}

struct Node {
    peer: Peer,
    /// For a client, the only peer it is linked to.
    relay: Option<PeerId>,
}

#[derive(Default)]
struct Faults {
    stopped: HashSet<PeerId>,
    dropped: HashSet<(PeerId, PeerId)>,
    delayed: HashMap<(PeerId, PeerId), Duration>,
}

/// How to make one peer of the network.
pub struct PeerSetup {
    pub key_pair: KeyPair,
    pub limits: Limits,
    /// Its services; the network adds nothing to them.
    pub services: ServiceRegistry,
    pub on_expiry: Vec<ExpiryHook>,
    pub on_step: Vec<StepHook>,
}

impl PeerSetup {
    /// A peer with `key_pair`, default limits and no services.
    pub fn new(key_pair: KeyPair) -> PeerSetup {
        PeerSetup {
            key_pair,
            limits: Limits::default(),
            services: ServiceRegistry::new(),
            on_expiry: Vec::new(),
            on_step: Vec::new(),
        }
    }
}

impl Default for LocalNetwork {
    fn default() -> Self {
        LocalNetwork::new()
    }
}

impl LocalNetwork {
    /// An empty network whose peers share one AquaVM script cache.
    pub fn new() -> LocalNetwork {
        LocalNetwork {
            inner: Arc::new(Inner {
                nodes: RwLock::default(),
                faults: RwLock::default(),
                observers: RwLock::default(),
                vm: Arc::new(vm::Vm::new()),
            }),
        }
    }

    /// Adds a server peer, linked to every other server and to the clients that use it as
    /// their relay. Needs a tokio runtime.
    pub fn add_server(&self, setup: PeerSetup) -> Peer {
        self.add(setup, None)
    }

    /// Adds a client peer linked to `relay` only.
    pub fn add_client(&self, setup: PeerSetup, relay: PeerId) -> Peer {
        self.add(setup, Some(relay))
    }

    fn add(&self, setup: PeerSetup, relay: Option<PeerId>) -> Peer {
        let id = setup.key_pair.peer_id();
        let transport = Arc::new(MemoryTransport {
            me: id,
            network: Arc::downgrade(&self.inner),
        });
        let peer = Peer::new(PeerConfig {
            key_pair: setup.key_pair,
            limits: setup.limits,
            services: setup.services,
            transport,
            on_expiry: setup.on_expiry,
            on_step: setup.on_step,
            vm: self.inner.vm.clone(),
        });
        let mut nodes = write(&self.inner.nodes);
        if relay.is_none() {
            nodes.servers.push(id);
        }
        nodes.by_id.insert(
            id,
            Node {
                peer: peer.clone(),
                relay,
            },
        );
        peer
    }

    /// The peer `id`, if it is in the network.
    pub fn peer(&self, id: &PeerId) -> Option<Peer> {
        self.inner.peer_of(id)
    }

    /// The servers' ids, in the order they were added.
    pub fn servers(&self) -> Vec<PeerId> {
        read(&self.inner.nodes).servers.clone()
    }

    /// What `me` knows of the network, as its builtins ask it.
    pub fn connectivity(&self, me: PeerId) -> Arc<dyn Connectivity> {
        Arc::new(MemoryTransport {
            me,
            network: Arc::downgrade(&self.inner),
        })
    }

    /// Calls `observer` on every hop from now on (after the observers added before).
    pub fn observe(&self, observer: HopObserver) {
        write(&self.inner.observers).push(observer);
    }

    /// Stops `peer`: it neither receives nor sends until [`LocalNetwork::restart`].
    pub fn stop(&self, peer: PeerId) {
        write(&self.inner.faults).stopped.insert(peer);
    }

    pub fn restart(&self, peer: PeerId) {
        write(&self.inner.faults).stopped.remove(&peer);
    }

    /// Loses every particle sent from `from` to `to` (one direction).
    pub fn drop_link(&self, from: PeerId, to: PeerId) {
        write(&self.inner.faults).dropped.insert((from, to));
    }

    /// Delivers particles from `from` to `to` after `delay` (one direction).
    pub fn delay_link(&self, from: PeerId, to: PeerId, delay: Duration) {
        write(&self.inner.faults).delayed.insert((from, to), delay);
    }

    /// Undoes every drop and delay of the link from `from` to `to`.
    pub fn heal_link(&self, from: PeerId, to: PeerId) {
        let mut faults = write(&self.inner.faults);
        faults.dropped.remove(&(from, to));
        faults.delayed.remove(&(from, to));
    }
}

impl Inner {
    /// Whether `a` and `b` are linked and both running.
    fn linked(&self, a: &PeerId, b: &PeerId) -> bool {
        let faults = read(&self.faults);
        if a == b || faults.stopped.contains(a) || faults.stopped.contains(b) {
            return false;
        }
        drop(faults);
        let nodes = read(&self.nodes);
        let (Some(node_a), Some(node_b)) = (nodes.by_id.get(a), nodes.by_id.get(b)) else {
            return false;
        };
        match (node_a.relay, node_b.relay) {
            (None, None) => true,
            (Some(relay), None) => relay == *b,
            (None, Some(relay)) => relay == *a,
            (Some(_), Some(_)) => false,
        }
    }

    fn observe(&self, hop: Hop) {
        for observer in read(&self.observers).iter() {
            observer(&hop);
        }
    }

    fn peer_of(&self, id: &PeerId) -> Option<Peer> {
        read(&self.nodes)
            .by_id
            .get(id)
            .map(|node| node.peer.clone())
    }
}

/// One peer's end of the local network.
struct MemoryTransport {
    me: PeerId,
    network: Weak<Inner>,
}

impl MemoryTransport {
    fn network(&self) -> Option<Arc<Inner>> {
        self.network.upgrade()
    }
}

impl Connectivity for MemoryTransport {
    fn is_connected(&self, peer: &PeerId) -> bool {
        self.network()
            .is_some_and(|network| network.linked(&self.me, peer))
    }

    fn known_peers(&self) -> Vec<PeerId> {
        let Some(network) = self.network() else {
            return Vec::new();
        };
        let nodes = read(&network.nodes);
        nodes
            .servers
            .iter()
            .filter(|id| **id != self.me)
            .copied()
            .collect()
    }

    fn contact(&self, peer: &PeerId) -> Option<Contact> {
        let network = self.network()?;
        let known = read(&network.nodes).by_id.contains_key(peer);
        known.then(|| Contact {
            peer_id: peer.to_base58(),
            addresses: Vec::new(),
        })
    }
}

impl Transport for MemoryTransport {
    fn send(&self, to: &PeerId, particle: Particle) -> SendFuture<'_> {
        let to = *to;
        Box::pin(async move {
            let network = self
                .network()
                .ok_or_else(|| SendError::Unreachable(to.to_base58()))?;
            let mut hop = Hop {
                particle_id: particle.id.clone(),
                from: self.me,
                to,
                data_bytes: particle.data.len(),
                fate: Fate::Delivered,
            };
            let receiver = if network.linked(&self.me, &to) {
                network.peer_of(&to)
            } else {
                None
            };
            let Some(receiver) = receiver else {
                hop.fate = Fate::Unreachable;
                network.observe(hop);
                return Err(SendError::Unreachable(to.to_base58()));
            };
            let (dropped, delay) = {
                let faults = read(&network.faults);
                let link = (self.me, to);
                (
                    faults.dropped.contains(&link),
                    faults.delayed.get(&link).copied(),
                )
            };
            if dropped {
                hop.fate = Fate::Dropped;
                network.observe(hop);
                return Ok(());
            }
            if let Some(delay) = delay {
                hop.fate = Fate::Delayed(delay);
                network.observe(hop);
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    // A late particle may be refused (e.g. expired); the receiver logs why.
                    let _ = receiver.ingest(particle).await;
                });
                return Ok(());
            }
            let result = receiver.ingest(particle).await;
            if let Err(e) = &result {
                hop.fate = Fate::Refused(e.to_string());
            }
            network.observe(hop);
            result.map_err(|e| SendError::Refused {
                peer: to.to_base58(),
                reason: e.to_string(),
            })
        })
    }
}
