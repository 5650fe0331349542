//! The simulated network: runs one particle of a scenario across its peers.
//!
//! The particle starts at the init peer with empty data. Pending deliveries `(peer, data)`
//! wait in a queue (FIFO by default, see [`Order`]). At a peer, the engine runs with
//! prev = the data the peer stored last and current = the delivered data; while the outcome
//! has call requests, the peer's mock services answer them and the engine runs again with
//! prev = the last outcome's data and current = empty. After every run, like a node does,
//! the run's data is sent to each of its next peers (in the order of their peer ids, not
//! names), and the last run's data becomes the peer's stored data. Sending after every run
//! matters: a run that both requests local calls and names next peers sends data without
//! the call results, as a node would. Next peers that are not scenario peers drop the
//! particle. The whole scenario stops when no delivery is pending or after `max-steps`
//! runs.

use std::collections::{BTreeMap, VecDeque};

use super::engine::{CallRequest, Engine, ServiceAnswer, StepInput};
use super::peers::Peers;
use super::scenario::{Order, Scenario};
use super::services::Services;
use super::trace::same_content;

/// Everything a run of a scenario shows to the outside, independent of the engines used.
#[derive(Debug, Clone, PartialEq)]
pub struct Observables {
    pub peers: Peers,
    pub deliveries: Vec<Delivery>,
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
    pub peer: String,
    pub runs: Vec<Run>,
}

/// One interpreter run at a peer.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub ret_code: i64,
    pub error_message: String,
    /// For a failed run, whether the outcome's data has the content of the prev data it was
    /// given; false for successful runs, where the report does not show it.
    pub data_unchanged: bool,
    /// Peer ids, sorted.
    pub next_peers: Vec<String>,
    /// The call requests of the outcome with the mock services' answers, by call id.
    pub calls: BTreeMap<u32, (CallRequest, ServiceAnswer)>,
}

impl PartialEq for Peers {
    fn eq(&self, other: &Peers) -> bool {
        self.iter()
            .map(|p| &p.name)
            .eq(other.iter().map(|p| &p.name))
    }
}

/// Runs `scenario`; `engine_for(peer_name, run_index)` picks the engine of each run, where
/// `run_index` counts every interpreter run of the scenario from 0.
pub fn run_scenario<'e>(
    scenario: &Scenario,
    engine_for: &dyn Fn(&str, usize) -> &'e dyn Engine,
) -> Observables {
    let mut services = Services::new(scenario.services.clone());
    let mut stored: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut queue: VecDeque<(Option<String>, String, Vec<u8>)> = VecDeque::new();
    queue.push_back((None, scenario.init.clone(), Vec::new()));
    let init_peer_id = scenario
        .peers
        .get(&scenario.init)
        .expect("init peer")
        .id
        .clone();
    let mut deliveries = Vec::new();
    let mut run_index = 0;
    let mut step_cap_reached = false;
    'deliveries: while let Some((from, peer_name, data)) = match scenario.order {
        Order::Fifo => queue.pop_front(),
        Order::Lifo => queue.pop_back(),
    } {
        let peer = scenario.peers.get(&peer_name).expect("known peer").clone();
        let mut delivery = Delivery {
            from,
            peer: peer_name.clone(),
            runs: Vec::new(),
        };
        let mut prev = stored.get(&peer_name).cloned().unwrap_or_default();
        let mut current = data;
        let mut call_results = BTreeMap::new();
        loop {
            if run_index == scenario.max_steps {
                step_cap_reached = true;
                deliveries.push(delivery);
                break 'deliveries;
            }
            let input = StepInput {
                script: &scenario.script,
                prev_data: &prev,
                current_data: &current,
                init_peer_id: &init_peer_id,
                current_peer_id: &peer.id,
                timestamp: scenario.timestamp,
                ttl: scenario.ttl,
                particle_id: &scenario.particle_id,
                secret_key: peer.secret_key,
                call_results: std::mem::take(&mut call_results),
            };
            let mut outcome = engine_for(&peer_name, run_index).step(&input);
            run_index += 1;
            // Engines promise sorted next peers; sorting again keeps a slip out of the report.
            outcome.next_peer_pks.sort();
            let mut calls = BTreeMap::new();
            for (id, request) in outcome.call_requests {
                let answer = services.answer(&peer_name, &request);
                call_results.insert(id, answer.clone());
                calls.insert(id, (request, answer));
            }
            for next in &outcome.next_peer_pks {
                // A next peer outside the scenario is unreachable: the particle is dropped.
                let Some(next_peer) = scenario.peers.by_id(next) else {
                    continue;
                };
                let times = if scenario.redeliver.contains(&next_peer.name) {
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
        peers: scenario.peers.clone(),
        deliveries,
        step_cap_reached,
        final_data: stored,
    }
}
