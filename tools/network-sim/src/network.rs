//! The simulated network: runs one particle across a set of peers.
//!
//! The particle starts at the init peer with empty data. Pending deliveries `(peer, data)`
//! wait in a queue (FIFO by default, see [`Order`]). At a peer, the engine runs with
//! prev = the data the peer stored last and current = the delivered data; while the outcome
//! has call requests, the [`ServiceHost`] answers them and the engine runs again with
//! prev = the last outcome's data and current = empty. After every run, like a node does,
//! the run's data is sent to each of its next peers (in the order of their peer ids, not
//! names), and the last run's data becomes the peer's stored data. Sending after every run
//! matters: a run that both requests local calls and names next peers sends data without
//! the call results, as a node would. A next peer that is not in the network, or that the
//! sender is not connected to (see [`Network::restricted`]), drops the particle; the drop is
//! recorded. The run stops when no delivery is pending or after [`Network::max_steps`] runs.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::engine::{CallRequest, Engine, ServiceAnswer, StepInput};
use crate::peers::{Peer, Peers};

/// Order in which pending deliveries are processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Oldest delivery first.
    Fifo,
    /// Newest delivery first.
    Lifo,
}

/// Default particle id.
pub const DEFAULT_PARTICLE_ID: &str = "particle-1";
/// Default particle creation time, milliseconds since the Unix epoch (November 2023).
pub const DEFAULT_TIMESTAMP: u64 = 1_700_000_000_000;
/// Default particle time to live, milliseconds.
pub const DEFAULT_TTL: u32 = 30_000;
/// Default cap on interpreter runs.
pub const DEFAULT_MAX_STEPS: usize = 100;

/// The peers and how they pass particles to each other.
#[derive(Debug, Clone)]
pub struct Network {
    /// Every peer of the network.
    pub peers: Peers,
    /// Which pending delivery is processed next.
    pub order: Order,
    /// Cap on interpreter runs, across all peers.
    pub max_steps: usize,
    /// Peers to which every delivery arrives twice in a row.
    pub redeliver: Vec<String>,
    /// Peers that exchange particles only with the peers named here, by peer name (a client
    /// connected only to its relay). Peers not listed are connected to every unrestricted peer.
    pub restricted: BTreeMap<String, BTreeSet<String>>,
}

impl Network {
    /// A fully connected network of `peers` with FIFO order and the default step cap.
    pub fn new(peers: Peers) -> Network {
        Network {
            peers,
            order: Order::Fifo,
            max_steps: DEFAULT_MAX_STEPS,
            redeliver: Vec::new(),
            restricted: BTreeMap::new(),
        }
    }

    /// Whether `from` can send a particle to `to` (both peer names).
    pub fn connected(&self, from: &str, to: &str) -> bool {
        let allows =
            |a: &str, b: &str| self.restricted.get(a).is_none_or(|peers| peers.contains(b));
        from == to || (allows(from, to) && allows(to, from))
    }
}

/// The particle to run: its script and the parameters every step sees.
#[derive(Debug, Clone)]
pub struct Particle {
    /// The AIR script, peer ids in place.
    pub script: String,
    /// Name of the peer that starts the particle.
    pub init: String,
    /// The particle id.
    pub id: String,
    /// Creation time, milliseconds since the Unix epoch.
    pub timestamp: u64,
    /// Time to live, milliseconds.
    pub ttl: u32,
}

impl Particle {
    /// `script` started at the peer called `init`, with the default id, timestamp and TTL.
    pub fn new(script: String, init: &str) -> Particle {
        Particle {
            script,
            init: init.to_owned(),
            id: DEFAULT_PARTICLE_ID.to_owned(),
            timestamp: DEFAULT_TIMESTAMP,
            ttl: DEFAULT_TTL,
        }
    }
}

/// Where a service call is made.
#[derive(Debug, Clone, Copy)]
pub struct CallContext<'a> {
    /// The peer whose host makes the call.
    pub peer: &'a Peer,
    /// The particle being run.
    pub particle: &'a Particle,
    /// Peer id of the particle's init peer.
    pub init_peer_id: &'a str,
}

/// The services of all peers: answers each call request a run produces.
pub trait ServiceHost {
    /// Answers `request`, made on `call.peer`.
    fn answer(&mut self, call: &CallContext<'_>, request: &CallRequest) -> ServiceAnswer;
}

/// Everything a run of a particle shows to the outside, independent of the engines used.
#[derive(Debug, Clone, PartialEq)]
pub struct Observables {
    /// The peers of the network.
    pub peers: Peers,
    /// Every delivery, in the order processed.
    pub deliveries: Vec<Delivery>,
    /// Sends that reached no peer, in the order made.
    pub dropped: Vec<Dropped>,
    /// Whether the run stopped at the step cap instead of running out of deliveries.
    pub step_cap_reached: bool,
    /// The data each peer stored last, by peer name, for peers that ran at least once.
    pub final_data: BTreeMap<String, Vec<u8>>,
}

/// The particle arriving at one peer, and what the peer did with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Peer name of the sender; `None` for the particle's start at the init peer.
    pub from: Option<String>,
    /// Peer name of the receiver.
    pub peer: String,
    /// The interpreter runs at the receiver, in order.
    pub runs: Vec<Run>,
}

/// A send that reached no peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// Peer name of the sender.
    pub from: String,
    /// Peer id of the intended receiver.
    pub to: String,
    /// Whether the receiver is in the network (and so was unreachable from the sender).
    pub known_peer: bool,
}

/// One interpreter run at a peer.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// 0 for success.
    pub ret_code: i64,
    /// Why the run failed; empty on success.
    pub error_message: String,
    /// For a failed run, whether the outcome's data has the content of the prev data it was
    /// given; false for successful runs, where the report does not show it.
    pub data_unchanged: bool,
    /// Peer ids, sorted.
    pub next_peers: Vec<String>,
    /// The calls the run made, with the services' answers, by call id: those answered during
    /// the run (see `Engine::step_answering`) and the call requests of its outcome.
    pub calls: BTreeMap<u32, (CallRequest, ServiceAnswer)>,
}

/// Runs `particle` on `network`; `services` answers every call and `engine_for(peer_name,
/// run_index)` picks the engine of each run, where `run_index` counts every interpreter run
/// from 0.
///
/// # Panics
///
/// If the particle's init peer is not in the network.
pub fn run_particle<'e>(
    network: &Network,
    particle: &Particle,
    services: &mut dyn ServiceHost,
    engine_for: &dyn Fn(&str, usize) -> &'e dyn Engine,
) -> Observables {
    let init_peer_id = match network.peers.get(&particle.init) {
        Some(peer) => peer.id.clone(),
        None => panic!("the init peer @{} is not in the network", particle.init),
    };
    let mut stored: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut queue: VecDeque<(Option<String>, String, Vec<u8>)> = VecDeque::new();
    queue.push_back((None, particle.init.clone(), Vec::new()));
    let mut deliveries = Vec::new();
    let mut dropped = Vec::new();
    let mut run_index = 0;
    let mut step_cap_reached = false;
    'deliveries: while let Some((from, peer_name, data)) = match network.order {
        Order::Fifo => queue.pop_front(),
        Order::Lifo => queue.pop_back(),
    } {
        let peer = network.peers.get(&peer_name).expect("queued peers exist");
        let mut delivery = Delivery {
            from,
            peer: peer_name.clone(),
            runs: Vec::new(),
        };
        let mut prev = stored.get(&peer_name).cloned().unwrap_or_default();
        let mut current = data;
        let mut call_results = BTreeMap::new();
        loop {
            if run_index == network.max_steps {
                step_cap_reached = true;
                deliveries.push(delivery);
                break 'deliveries;
            }
            let input = StepInput {
                script: &particle.script,
                prev_data: &prev,
                current_data: &current,
                init_peer_id: &init_peer_id,
                current_peer_id: &peer.id,
                timestamp: particle.timestamp,
                ttl: particle.ttl,
                particle_id: &particle.id,
                secret_key: peer.secret_key,
                call_results: std::mem::take(&mut call_results),
            };
            let context = CallContext {
                peer,
                particle,
                init_peer_id: &init_peer_id,
            };
            let mut calls = BTreeMap::new();
            let mut outcome =
                engine_for(&peer_name, run_index).step_answering(&input, &mut |id, request| {
                    let answer = services.answer(&context, &request);
                    calls.insert(id, (request, answer.clone()));
                    Some(answer)
                });
            run_index += 1;
            // Engines promise sorted next peers; sorting again keeps a slip out of the report.
            outcome.next_peer_pks.sort();
            for (id, request) in outcome.call_requests {
                let answer = services.answer(&context, &request);
                call_results.insert(id, answer.clone());
                calls.insert(id, (request, answer));
            }
            for next in &outcome.next_peer_pks {
                let next_peer = network
                    .peers
                    .by_id(next)
                    .filter(|next| network.connected(&peer_name, &next.name));
                let Some(next_peer) = next_peer else {
                    dropped.push(Dropped {
                        from: peer_name.clone(),
                        to: next.clone(),
                        known_peer: network.peers.by_id(next).is_some(),
                    });
                    continue;
                };
                let times = if network.redeliver.contains(&next_peer.name) {
                    2
                } else {
                    1
                };
                for _ in 0..times {
                    queue.push_back((
                        Some(peer_name.clone()),
                        next_peer.name.clone(),
                        outcome.data.clone(),
                    ));
                }
            }
            delivery.runs.push(Run {
                ret_code: outcome.ret_code,
                error_message: outcome.error_message,
                data_unchanged: outcome.ret_code != 0 && same_content(&outcome.data, &prev),
                next_peers: outcome.next_peer_pks,
                calls,
            });
            prev = outcome.data;
            current = Vec::new();
            if call_results.is_empty() {
                break;
            }
        }
        stored.insert(peer_name, prev);
        deliveries.push(delivery);
    }
    Observables {
        peers: network.peers.clone(),
        deliveries,
        dropped,
        step_cap_reached,
        final_data: stored,
    }
}

/// Whether two particle data hold the same trace, CID stores, signatures and last call id.
/// Equal bytes are not required: the reference serializes its CID stores from hash maps, so
/// the same content may come out in another order. Data is read with our VM's decoder, which
/// reads the reference's data too.
pub fn same_content(a: &[u8], b: &[u8]) -> bool {
    let decoded = |data: &[u8]| vm::data::decode(data).ok().map(|(_, data)| data);
    a == b || (!a.is_empty() && !b.is_empty() && decoded(a).is_some_and(|c| Some(c) == decoded(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restricted_peer_talks_only_to_its_peers() {
        let mut peers = Peers::default();
        for name in ["client", "relay", "a"] {
            peers.add(name);
        }
        let mut network = Network::new(peers);
        network
            .restricted
            .insert("client".to_owned(), BTreeSet::from(["relay".to_owned()]));
        assert!(network.connected("client", "relay"));
        assert!(network.connected("relay", "client"));
        assert!(network.connected("relay", "a"));
        assert!(network.connected("client", "client"));
        assert!(!network.connected("a", "client"));
        assert!(!network.connected("client", "a"));
    }
}
