//! Running one compiled top-level Aqua function on the simulated network.
//!
//! A compiled function is AIR that expects a client: the init peer, connected only to its
//! relay, answering the calls of the function's wrapper. [`run_function`] plays that client:
//! - `getDataSrv."-relay-"` gives the relay's peer id, `getDataSrv.<arg>` each argument
//!   (an unknown argument fails);
//! - `callbackSrv.response` takes the results, `errorHandlingSrv.error` takes errors (both
//!   answer `""`);
//! - any other call on the client, e.g. `callbackSrv.<arrowArg>` for an arrow argument, is a
//!   test service of the [`RunSpec`].
//!
//! Every peer, the client included (as js-client does), serves the mock [`builtins`]; the
//! spec's test services are asked first, so a test may override a builtin. A call nobody
//! serves fails with code 1, like on a node.
//!
//! The result is an [`Observed`]: what an Aqua program means, in terms that do not depend on
//! the compiler (AIR variable names and instruction texts are left out), so that AIR from two
//! compilers can be compared on it, and snapshotted.

pub mod builtins;
pub mod corpus;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::canonical;
use crate::engine::{CallRequest, Engine, ServiceAnswer};
use crate::network::{run_particle, CallContext, Network, Observables, Particle, ServiceHost};
use crate::ours::VmEngine;
use crate::peers::Peers;
use crate::services::{ServiceRule, Services};

use builtins::Builtins;

/// Who takes part in a run, by peer name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// The init peer, which only talks to the relay.
    pub client: String,
    /// The client's relay (`HOST_PEER_ID`).
    pub relay: String,
    /// Further peers, all connected to each other and to the relay.
    pub peers: Vec<String>,
}

impl Default for Topology {
    /// `client`, `relay` and no further peers.
    fn default() -> Topology {
        Topology {
            client: "client".to_owned(),
            relay: "relay".to_owned(),
            peers: Vec::new(),
        }
    }
}

impl Topology {
    /// The network of these peers, the client restricted to its relay.
    pub fn network(&self) -> Network {
        let mut peers = Peers::default();
        for name in self.names() {
            peers.add(name);
        }
        let mut network = Network::new(peers);
        network
            .restricted
            .insert(self.client.clone(), BTreeSet::from([self.relay.clone()]));
        network
    }

    /// Every peer name: client, relay, then the further peers.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        [&self.client, &self.relay]
            .into_iter()
            .chain(&self.peers)
            .map(String::as_str)
    }
}

/// How to run one function: its arguments, the peers and the test services.
///
/// In argument values and service answers, `@name` stands for the peer id of `name`.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSpec {
    /// The function's arguments by name, as `getDataSrv` gives them.
    pub args: BTreeMap<String, Value>,
    /// The peers.
    pub topology: Topology,
    /// Test services, by peer name (`None`: every peer). Rules declared later win among
    /// equally specific ones.
    pub services: Vec<ServiceRule>,
    /// Cap on interpreter runs.
    pub max_steps: usize,
}

impl Default for RunSpec {
    fn default() -> RunSpec {
        RunSpec {
            args: BTreeMap::new(),
            topology: Topology::default(),
            services: Vec::new(),
            max_steps: DEFAULT_MAX_STEPS,
        }
    }
}

/// Default cap on interpreter runs of a function: generous, as every hop is a run.
pub const DEFAULT_MAX_STEPS: usize = 1000;

/// What a run of a compiled function shows, independent of the compiler and the engine.
///
/// Peer ids appear as `@name` everywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The arguments of each `callbackSrv.response` call, in order: the function's results.
    pub responses: Vec<String>,
    /// The errors given to `errorHandlingSrv.error`, in order, as canonical JSON of the error
    /// object without its `instruction` (AIR text, which differs between compilers).
    pub errors: Vec<String>,
    /// Every other service call with its answer, sorted (order between parallel branches is
    /// the network's, not the program's); the client's `getDataSrv` calls are left out.
    pub calls: Vec<ObservedCall>,
    /// Interpreter runs that failed, as `(peer, ret_code)`, sorted; their messages speak of
    /// AIR, so they are left out.
    pub failed_runs: Vec<(String, i64)>,
    /// Sends that reached no peer, as `(from, to)`, sorted.
    pub dropped: Vec<(String, String)>,
    /// Whether the run stopped at the step cap.
    pub step_cap_reached: bool,
    /// How many times the particle was sent from one peer to another (network hops), the
    /// dropped sends included. Not part of the snapshot: compilers differ in how they route.
    pub sends: usize,
}

/// One service call and its answer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObservedCall {
    /// Where the call was made.
    pub peer: String,
    /// The service id.
    pub service: String,
    /// The function name.
    pub function: String,
    /// The arguments, canonical JSON.
    pub args: String,
    /// The answer: `ok <json>` or `err <code> <json>`.
    pub answer: String,
}

impl Observed {
    /// The text snapshot: one line per response, error, call, failed run and dropped send.
    ///
    /// ```text
    /// response [3]
    /// error {"error_code":10000,"message":"...","peer_id":"@relay"}
    /// call @relay math.add [1,2] -> ok 3
    /// failed run @a: code 10000
    /// dropped @a -> @client
    /// step cap reached
    /// ```
    pub fn render(&self) -> String {
        let mut out = String::new();
        for response in &self.responses {
            let _ = writeln!(out, "response {response}");
        }
        for error in &self.errors {
            let _ = writeln!(out, "error {error}");
        }
        for call in &self.calls {
            let _ = writeln!(
                out,
                "call {} {}.{} {} -> {}",
                call.peer, call.service, call.function, call.args, call.answer
            );
        }
        for (peer, code) in &self.failed_runs {
            let _ = writeln!(out, "failed run {peer}: code {code}");
        }
        for (from, to) in &self.dropped {
            let _ = writeln!(out, "dropped {from} -> {to}");
        }
        if self.step_cap_reached {
            out.push_str("step cap reached\n");
        }
        out
    }
}

/// Runs the function compiled to `air` as `spec` says, on our VM.
pub fn run_function(air: &str, spec: &RunSpec) -> Result<Observed, String> {
    run_function_on(air, spec, &|_, _| &VmEngine)
}

/// Runs the function compiled to `air` as `spec` says; `engine_for` is as in
/// [`run_particle`]. Fails when the spec names peers that are not in its topology.
pub fn run_function_on<'e>(
    air: &str,
    spec: &RunSpec,
    engine_for: &dyn Fn(&str, usize) -> &'e dyn Engine,
) -> Result<Observed, String> {
    let mut network = spec.topology.network();
    network.max_steps = spec.max_steps;
    let peers = &network.peers;
    let unknown = |name: &str| format!("the run spec names @{name}, which is not in its topology");
    let mut rules = Vec::with_capacity(spec.services.len());
    for rule in &spec.services {
        if let Some(peer) = &rule.peer {
            peers.get(peer).ok_or_else(|| unknown(peer))?;
        }
        rules.push(ServiceRule {
            behaviour: rule.behaviour.substitute(peers),
            ..rule.clone()
        });
    }
    let mut args = BTreeMap::new();
    for (name, value) in &spec.args {
        let text = peers.substitute(&value.to_string());
        let value = serde_json::from_str(&text).expect("peer ids keep JSON valid");
        args.insert(name.clone(), value);
    }
    let relay = peers
        .get(&spec.topology.relay)
        .expect("the topology has its relay");
    let mut host = ClientHost {
        client: spec.topology.client.clone(),
        relay_id: relay.id.clone(),
        args,
        tests: Services::new(rules),
        builtins: Builtins::new(&network, &spec.topology.client),
    };
    let particle = Particle::new(air.to_owned(), &spec.topology.client);
    let observables = run_particle(&network, &particle, &mut host, engine_for);
    Ok(observe(&observables, &spec.topology.client))
}

/// The services of an Aqua run: the client's wrapper services, then the test services, then
/// the builtins.
struct ClientHost {
    client: String,
    relay_id: String,
    args: BTreeMap<String, Value>,
    tests: Services,
    builtins: Builtins,
}

impl ClientHost {
    fn wrapper(&self, request: &CallRequest) -> Option<ServiceAnswer> {
        match (request.service_id.as_str(), request.function_name.as_str()) {
            ("getDataSrv", "-relay-") => Some(ServiceAnswer::json(0, &json!(self.relay_id))),
            ("getDataSrv", name) => Some(match self.args.get(name) {
                Some(value) => ServiceAnswer::json(0, value),
                None => ServiceAnswer::json(1, &json!(format!("no argument {name:?} given"))),
            }),
            ("callbackSrv", "response") | ("errorHandlingSrv", "error") => {
                Some(ServiceAnswer::json(0, &json!("")))
            }
            _ => None,
        }
    }
}

impl ServiceHost for ClientHost {
    fn answer(&mut self, call: &CallContext<'_>, request: &CallRequest) -> ServiceAnswer {
        let at_client = call.peer.name == self.client;
        at_client
            .then(|| self.wrapper(request))
            .flatten()
            .or_else(|| self.tests.try_answer(&call.peer.name, request))
            .or_else(|| self.builtins.answer(call, request))
            .unwrap_or_else(|| {
                ServiceAnswer::json(
                    1,
                    &json!(format!(
                        "service {:?} (function {:?}) not found on @{}",
                        request.service_id, request.function_name, call.peer.name
                    )),
                )
            })
    }
}

/// The observable part of a run, peer ids shown as `@name`.
fn observe(observables: &Observables, client: &str) -> Observed {
    let peers = &observables.peers;
    let text = |value: &Value| peers.unsubstitute(&canonical(value));
    let mut observed = Observed {
        responses: Vec::new(),
        errors: Vec::new(),
        calls: Vec::new(),
        failed_runs: Vec::new(),
        dropped: Vec::new(),
        step_cap_reached: observables.step_cap_reached,
        sends: observables.dropped.len()
            + observables
                .deliveries
                .iter()
                .filter(|d| d.from.is_some())
                .count(),
    };
    for delivery in &observables.deliveries {
        let peer = format!("@{}", delivery.peer);
        for run in &delivery.runs {
            if run.ret_code != 0 {
                observed.failed_runs.push((peer.clone(), run.ret_code));
            }
            for (request, answer) in run.calls.values() {
                let args = Value::Array(request.arguments.clone());
                let at_client = delivery.peer == client;
                match (request.service_id.as_str(), request.function_name.as_str()) {
                    ("callbackSrv", "response") if at_client => {
                        observed.responses.push(text(&args));
                        continue;
                    }
                    ("errorHandlingSrv", "error") if at_client => {
                        let mut error = request.arguments.first().cloned().unwrap_or_default();
                        if let Value::Object(fields) = &mut error {
                            fields.remove("instruction");
                        }
                        observed.errors.push(text(&error));
                        continue;
                    }
                    // Argument fetching is the wrapper's plumbing, the same for every run.
                    ("getDataSrv", _) if at_client => continue,
                    _ => {}
                }
                let result = match serde_json::from_str::<Value>(&answer.result) {
                    Ok(value) => text(&value),
                    Err(_) => format!("raw {:?}", answer.result),
                };
                let answer = match answer.ret_code {
                    0 => format!("ok {result}"),
                    code => format!("err {code} {result}"),
                };
                observed.calls.push(ObservedCall {
                    peer: peer.clone(),
                    service: request.service_id.clone(),
                    function: request.function_name.clone(),
                    args: text(&args),
                    answer,
                });
            }
        }
    }
    for dropped in &observables.dropped {
        let to = peers.unsubstitute(&dropped.to);
        observed.dropped.push((format!("@{}", dropped.from), to));
    }
    observed.calls.sort();
    observed.failed_runs.sort();
    observed.dropped.sort();
    observed
}
